//! The file store: where file bytes live, behind `object_store` (a local
//! directory or an S3-compatible bucket). Objects are named by content
//! (`blobs/ab/abcdef…`), uploads are written under `uploads/` first and
//! moved into place once their hash is known (an empty marker under
//! `placing/` says which content an upload is moving, until its row has
//! committed), and thumbnails are cached under `previews/`.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
};

/// How much of a local file one read of a download takes: large enough that
/// the blocking-pool hand-offs cost little next to the copy.
const LOCAL_READ_CHUNK: usize = 512 * 1024;

/// A failure of the file store.
#[derive(Debug, thiserror::Error)]
#[error("file store: {0}")]
pub struct StorageError(#[from] object_store::Error);

impl StorageError {
    /// Whether the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.0, object_store::Error::NotFound { .. })
    }
}

/// Where file bytes are kept.
#[derive(Clone, Debug)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
    /// A prefix inside the store (the path part of the URL for S3).
    root: Path,
}

impl FileStore {
    /// Opens the store a `FILE_STORE` URL names: `file:///abs/dir` or
    /// `file://./relative/dir` (created if missing), `s3://bucket[/prefix]`
    /// (endpoint, region and credentials from the `AWS_*` environment, as
    /// the AWS tools read them), or `memory://` (tests and tools).
    pub fn open(url: &str) -> Result<FileStore, String> {
        Self::open_with(url, Vec::new())
    }

    /// Like [`open`](Self::open), with S3 settings given explicitly
    /// (`aws_endpoint`, `aws_access_key_id`, `aws_allow_http`, …) on top of
    /// the environment's.
    pub fn open_with(url: &str, options: Vec<(String, String)>) -> Result<FileStore, String> {
        if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err("file:// needs a directory".into());
            }
            std::fs::create_dir_all(dir).map_err(|err| format!("cannot create {dir}: {err}"))?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|err| format!("cannot use {dir}: {err}"))?;
            return Ok(FileStore {
                inner: Arc::new(local),
                root: Path::default(),
            });
        }
        if url == "memory://" || url == "memory:" {
            return Ok(FileStore::memory());
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("s3:// needs a bucket".into());
            }
            let mut builder =
                object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (key, value) in options {
                let key = key
                    .parse()
                    .map_err(|err| format!("unknown S3 setting {key}: {err}"))?;
                builder = builder.with_config(key, value);
            }
            let s3 = builder
                .build()
                .map_err(|err| format!("cannot use {url}: {err}"))?;
            return Ok(FileStore {
                inner: Arc::new(s3),
                root: Path::from(prefix),
            });
        }
        Err("must start with file://, s3:// or memory://".into())
    }

    /// A store in memory, for tests and tools.
    pub fn memory() -> FileStore {
        FileStore::over(Arc::new(object_store::memory::InMemory::new()))
    }

    /// A store over any `object_store` implementation: for tests that put
    /// a fault or a probe between the services and the bytes.
    pub fn over(inner: Arc<dyn ObjectStore>) -> FileStore {
        FileStore {
            inner,
            root: Path::default(),
        }
    }

    fn path(&self, key: &str) -> Path {
        key.split('/')
            .fold(self.root.clone(), |path, part| path.clone().join(part))
    }

    /// The key of the object holding content with this hash.
    pub fn blob_key(sha256: &str) -> String {
        format!("blobs/{}/{sha256}", sha256.get(..2).unwrap_or("00"))
    }

    /// The key of the cached thumbnail of content with this hash.
    pub fn preview_key(sha256: &str) -> String {
        format!("previews/{}/{sha256}.png", sha256.get(..2).unwrap_or("00"))
    }

    /// The key of the marker an upload leaves while it moves content with
    /// this hash into place, until its row has committed.
    pub fn placing_key(sha256: &str, upload: &str) -> String {
        format!("placing/{sha256}/{upload}")
    }

    /// The hash a marker of [`placing_key`](Self::placing_key) names.
    pub fn placed_sha(marker: &str) -> Option<&str> {
        let mut parts = marker.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("placing"), Some(sha256), Some(_), None)
                if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Some(sha256)
            }
            _ => None,
        }
    }

    /// Starts writing an object in parts; nothing is visible under `key`
    /// until [`Upload::finish`], and a dropped upload is aborted.
    pub async fn begin(&self, key: &str) -> Result<Upload, StorageError> {
        let upload = self.inner.put_multipart(&self.path(key)).await?;
        Ok(Upload {
            writer: Some(WriteMultipart::new(upload)),
        })
    }

    /// Writes a small object whole.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.inner
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.inner.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Moves an object (a finished upload into its content-addressed place).
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        Ok(self.inner.rename(&self.path(from), &self.path(to)).await?)
    }

    /// Deletes an object; one that is already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// A whole small object, refused past `max` bytes (`Ok(None)`).
    pub async fn read_small(&self, key: &str, max: u64) -> Result<Option<Bytes>, StorageError> {
        let meta = self.inner.head(&self.path(key)).await?;
        if meta.size > max {
            return Ok(None);
        }
        let result = self.inner.get(&self.path(key)).await?;
        Ok(Some(result.bytes().await?))
    }

    /// The first `len` bytes of an object (fewer if it is shorter).
    pub async fn read_head(&self, key: &str, len: u64) -> Result<Bytes, StorageError> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..len)),
            ..GetOptions::default()
        };
        match self.inner.get_opts(&self.path(key), options).await {
            Ok(result) => Ok(result.bytes().await?),
            // A range past the end of an empty object.
            Err(object_store::Error::NotModified { .. }) => Ok(Bytes::new()),
            Err(err) => Err(err.into()),
        }
    }

    /// A stream of the bytes of `range` of an object. Local files are read
    /// in large chunks on the blocking pool, never whole.
    pub async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            ..GetOptions::default()
        };
        let result = self.inner.get_opts(&self.path(key), options).await?;
        match result.payload {
            GetResultPayload::File(file, _) => Ok(local_chunks(file, result.range)),
            GetResultPayload::Stream(stream) => Ok(stream.map_err(StorageError::from).boxed()),
        }
    }

    /// Objects under `prefix` last changed before `cutoff` (left-over uploads).
    pub async fn stale(
        &self,
        prefix: &str,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, StorageError> {
        let prefix = self.path(prefix);
        let root = self.root.as_ref().len();
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter(|meta| meta.last_modified < cutoff)
            .map(|meta| {
                let full = meta.location.as_ref();
                full.get(root..)
                    .unwrap_or(full)
                    .trim_start_matches('/')
                    .to_owned()
            })
            .collect())
    }
}

/// Reads `range` of an open local file in [`LOCAL_READ_CHUNK`] pieces.
fn local_chunks(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StorageError>> {
    let state = (Some(file), range.start, range.end);
    futures_util::stream::try_unfold(state, |(file, position, end)| async move {
        let Some(mut file) = file else {
            return Ok(None);
        };
        if position >= end {
            return Ok(None);
        }
        let want = usize::try_from((end - position).min(LOCAL_READ_CHUNK as u64))
            .unwrap_or(LOCAL_READ_CHUNK);
        let read = tokio::task::spawn_blocking(move || {
            let mut buffer = vec![0u8; want];
            file.seek(SeekFrom::Start(position))?;
            let mut filled = 0;
            while filled < want {
                match file.read(&mut buffer[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            buffer.truncate(filled);
            Ok::<_, std::io::Error>((file, buffer))
        })
        .await;
        let (file, buffer) = match read {
            Ok(Ok(read)) => read,
            Ok(Err(err)) => return Err(io_error(err)),
            Err(err) => return Err(io_error(std::io::Error::other(err))),
        };
        if buffer.is_empty() {
            return Err(io_error(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file is shorter than its record",
            )));
        }
        let next = position + buffer.len() as u64;
        Ok(Some((Bytes::from(buffer), (Some(file), next, end))))
    })
    .boxed()
}

fn io_error(err: std::io::Error) -> StorageError {
    StorageError(object_store::Error::Generic {
        store: "local",
        source: Box::new(err),
    })
}

/// An object being written in parts. Dropped before [`finish`](Self::finish)
/// (an error, a client gone), it aborts in the background, so a refused or
/// interrupted upload leaves nothing behind.
pub struct Upload {
    writer: Option<WriteMultipart>,
}

impl Upload {
    /// Appends bytes, waiting while too many parts are in flight, so memory
    /// stays bounded by a few parts whatever the size of the upload.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StorageError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        writer.wait_for_capacity(2).await?;
        writer.put(bytes);
        Ok(())
    }

    /// Completes the object.
    pub async fn finish(mut self) -> Result<(), StorageError> {
        if let Some(writer) = self.writer.take() {
            writer.finish().await?;
        }
        Ok(())
    }

    /// Abandons the object now.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(err) = writer.abort().await
        {
            tracing::warn!(error = %err, "aborting an upload failed");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = writer.abort().await {
                    tracing::warn!(error = %err, "aborting an abandoned upload failed");
                }
            });
        }
    }
}
