//! Files: uploads streamed into the file store (sniffed, hashed, counted
//! against the limit as they arrive), stored once per content, read with
//! ranges, previewed, renamed, deleted as tombstones, and attached to
//! messages; orphans nobody attached are removed after a while.
//!
//! Access: a file is the uploader's; once attached to a message, whoever may
//! read that thread may read the file (org administrators read every thread
//! of their org). Renaming and deleting are for the uploader and, on files
//! they can read, administrators. Anything else is not found.

pub mod preview;
pub mod sniff;
pub mod storage;

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use futures_util::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::files::{
    Attached, FileFilter, FileInfo, FileKind, FileUpdate, Preview, sanitize_filename,
};
use xl_domain::{Actor, DomainError, FieldErrors, FileId, MessageId, Page, PageRequest, ThreadId};
use xl_store::repo::files::{FileRecord, NewFileRow};
use xl_store::{Conn, Tx, repo};

pub use storage::{FileStore, StorageError};

use crate::{ServiceError, Services};

/// Settings of the files feature.
#[derive(Clone, Debug)]
pub struct FilesConfig {
    /// Where bytes are kept (`FILE_STORE`): `file://dir`, `s3://bucket`, `memory://`.
    pub store: String,
    /// Largest upload accepted, in bytes (`MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: u64,
    /// How long an upload nobody attached is kept (`XL_FILE_ORPHAN_TTL`).
    pub orphan_ttl: Duration,
}

impl Default for FilesConfig {
    /// In memory, 100 MiB, orphans kept a day: for tests and tools.
    fn default() -> Self {
        FilesConfig {
            store: "memory://".to_owned(),
            max_upload_bytes: 100 * 1024 * 1024,
            orphan_ttl: Duration::from_secs(86_400),
        }
    }
}

/// A part of a file asked for with `Range` (one range; the bounds as sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b`: from `a` to `b` inclusive.
    Closed(u64, u64),
    /// `bytes=a-`: from `a` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The byte positions this range selects in a file of `size` bytes;
    /// `None` when it selects none (416).
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        let range = match self {
            ByteRange::Closed(start, end) if start <= end => start..end.saturating_add(1).min(size),
            ByteRange::Closed(..) => return None,
            ByteRange::From(start) => start..size,
            ByteRange::Suffix(0) => return None,
            ByteRange::Suffix(len) => size.saturating_sub(len)..size,
        };
        (range.start < size && !range.is_empty()).then_some(range)
    }
}

/// A file's bytes (or part of them) on their way to a client.
pub struct Content {
    /// The file.
    pub info: FileInfo,
    /// The bytes sent, within `0..info.size_bytes`.
    pub range: Range<u64>,
    /// Whether a part was asked for and is sent (206).
    pub partial: bool,
    /// The bytes.
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

/// What `GET /files/{id}/preview` serves.
#[derive(Debug)]
pub enum PreviewOutput {
    /// A PNG thumbnail of an image.
    Thumbnail(Bytes),
    /// The preview of text or a PDF.
    Summary(Preview),
}

/// 422 naming `file`.
fn unprocessable(reason: impl Into<String>) -> ServiceError {
    let mut errors = FieldErrors::new();
    errors.add("file", reason.into());
    ServiceError::Unprocessable(errors)
}

/// Deletes an upload's staged object if it was not moved into place, even
/// when the request is dropped midway.
struct Staged {
    store: FileStore,
    /// The upload's id, which names its object under `uploads/` and its
    /// marker under `placing/`.
    id: String,
    key: Option<String>,
}

impl Staged {
    /// The object was moved into place: nothing to delete.
    fn done(&mut self) {
        self.key = None;
    }

    /// Deletes the staged object now.
    async fn remove(mut self) -> Result<(), StorageError> {
        match self.key.take() {
            Some(key) => self.store.delete(&key).await,
            None => Ok(()),
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let store = self.store.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.delete(&key).await {
                    tracing::warn!(error = %err, key, "removing a staged upload failed");
                }
            });
        }
    }
}

impl Services {
    /// Stores an upload: the body is hashed, sniffed from its first bytes and
    /// counted as it streams into the file store; past the limit it stops at
    /// once (413) and nothing is kept, neither object nor row. Identical
    /// content is stored once.
    pub async fn upload_file<S, E>(
        &self,
        actor: &Actor,
        filename: &str,
        body: S,
    ) -> Result<FileInfo, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let filename = sanitize_filename(filename).ok_or_else(|| {
            ServiceError::Invalid(DomainError::invalid(
                "file",
                "must be sent with a usable file name",
            ))
        })?;
        let limit = self.config.files.max_upload_bytes;
        let staged_id = uuid::Uuid::now_v7().to_string();
        let staged_key = format!("uploads/{staged_id}");
        let mut upload = self.files.begin(&staged_key).await.map_err(storage)?;
        let mut staged = Staged {
            store: self.files.clone(),
            id: staged_id,
            key: Some(staged_key.clone()),
        };
        let received = match receive(&mut upload, body, limit, &filename).await {
            Ok(received) => received,
            Err(err) => {
                // At once, rather than when the upload is dropped, so that
                // a refused upload has left nothing when its answer arrives.
                upload.abort().await;
                return Err(err);
            }
        };
        upload.finish().await.map_err(storage)?;
        let recorded = self
            .record_upload(actor, &mut staged, filename, received)
            .await;
        // The staged object is needed no more: it was moved into place, or
        // the content was there already, or the upload failed. It goes now
        // rather than in the background, so that a failed upload has left
        // nothing but its marker (below) when its answer arrives.
        if let Err(err) = staged.remove().await {
            tracing::warn!(error = %err, "removing a staged upload failed");
        }
        recorded
    }

    /// Records a received upload: counts its content, puts its object in
    /// place unless the content is stored already, and inserts its row.
    ///
    /// The object is put in place before the row commits, so a committed
    /// row always has its bytes. That happens under the content's count
    /// (its row lock on PostgreSQL; on SQLite, inside the one writer's
    /// session): a delete of the last file with this content either
    /// committed before, having removed the object first, or waits for this
    /// commit, so what is found here is what the row will count on. A crash
    /// between the move and the commit leaves an object nobody counts and
    /// the marker by which housekeeping finds and removes it.
    async fn record_upload(
        &self,
        actor: &Actor,
        staged: &mut Staged,
        filename: String,
        received: Received,
    ) -> Result<FileInfo, ServiceError> {
        let Received {
            size,
            sha256,
            content_type,
        } = received;
        let key = FileStore::blob_key(&sha256);
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let tx = self.store.begin_write().await?;
        repo::files::retain_blob(&tx, &sha256, size).await?;
        let placed = match &staged.key {
            Some(staged_key) if !self.files.exists(&key).await.map_err(storage)? => {
                let marker = FileStore::placing_key(&sha256, &staged.id);
                self.files
                    .put(&marker, Bytes::new())
                    .await
                    .map_err(storage)?;
                self.files.rename(staged_key, &key).await.map_err(storage)?;
                staged.done();
                Some(marker)
            }
            _ => None,
        };
        let info = repo::files::insert(
            &tx,
            NewFileRow {
                id: FileId::new(),
                org_id: actor.org_id,
                user_id: actor.user_id,
                filename,
                content_type: content_type.to_owned(),
                size_bytes: size,
                sha256,
                storage_key: key,
            },
        )
        .await?;
        tx.commit().await?;
        // The file works without it now: a failure is only logged, and
        // housekeeping removes the marker later, keeping what is counted.
        if let Some(marker) = placed
            && let Err(err) = self.files.delete(&marker).await
        {
            tracing::warn!(error = %err, file = %info.id, "removing an upload's marker failed");
        }
        Ok(info)
    }

    /// The caller's own files, newest first by default.
    pub async fn list_files(
        &self,
        actor: &Actor,
        filter: &FileFilter,
        page: &PageRequest,
    ) -> Result<Page<FileInfo>, ServiceError> {
        Ok(repo::files::list_own(
            self.store.reader(),
            actor.org_id,
            actor.user_id,
            filter,
            page,
        )
        .await?)
    }

    /// A file's metadata (a tombstone once deleted, for those who can read it).
    pub async fn get_file(&self, actor: &Actor, id: FileId) -> Result<FileInfo, ServiceError> {
        Ok(self.readable(self.store.reader(), actor, id).await?.info)
    }

    /// The file's bytes, or the part a range selects.
    pub async fn file_content(
        &self,
        actor: &Actor,
        id: FileId,
        range: Option<ByteRange>,
    ) -> Result<Content, ServiceError> {
        let record = self.live(actor, id).await?;
        let size = u64::try_from(record.info.size_bytes).unwrap_or(0);
        let (range, partial) = match range {
            Some(wanted) => match wanted.resolve(size) {
                Some(range) => (range, true),
                None => return Err(ServiceError::RangeNotSatisfiable { size }),
            },
            None => (0..size, false),
        };
        let body = self
            .files
            .read_range(&record.storage_key, range.clone())
            .await
            .map_err(storage)?;
        Ok(Content {
            info: record.info,
            range,
            partial,
            body,
        })
    }

    /// A preview: an image's thumbnail (made once, then cached by content),
    /// the first lines of text, a PDF's page count and first-page text.
    /// Content that cannot be previewed (corrupt, a decompression bomb, too
    /// large) is 422 naming `file`.
    pub async fn file_preview(
        &self,
        actor: &Actor,
        id: FileId,
    ) -> Result<PreviewOutput, ServiceError> {
        let record = self.live(actor, id).await?;
        let info = &record.info;
        let complete = |read: usize| read as i64 >= info.size_bytes;
        match FileKind::of(&info.content_type) {
            Some(FileKind::Text) => {
                let head = self
                    .files
                    .read_head(&record.storage_key, preview::TEXT_HEAD_BYTES)
                    .await
                    .map_err(storage)?;
                Ok(PreviewOutput::Summary(preview::text(
                    &head,
                    complete(head.len()),
                )))
            }
            Some(FileKind::Image) => {
                let cached = FileStore::preview_key(&info.sha256);
                if let Ok(Some(bytes)) = self
                    .files
                    .read_small(&cached, preview::MAX_SOURCE_BYTES)
                    .await
                {
                    return Ok(PreviewOutput::Thumbnail(bytes));
                }
                let source = self.preview_source(&record).await?;
                let thumbnail = blocking(move || preview::thumbnail(&source)).await?;
                let thumbnail = Bytes::from(thumbnail);
                self.files
                    .put(&cached, thumbnail.clone())
                    .await
                    .map_err(storage)?;
                let tx = self.store.begin_write().await?;
                repo::files::set_has_preview(&tx, &info.sha256).await?;
                tx.commit().await?;
                Ok(PreviewOutput::Thumbnail(thumbnail))
            }
            Some(FileKind::Pdf) => {
                let source = self.preview_source(&record).await?;
                Ok(PreviewOutput::Summary(
                    blocking(move || preview::pdf(&source)).await?,
                ))
            }
            None => Err(unprocessable("this type of file has no preview")),
        }
    }

    /// Renames a file or replaces its metadata (the uploader, or an
    /// administrator who can read it).
    pub async fn update_file(
        &self,
        actor: &Actor,
        id: FileId,
        update: FileUpdate,
    ) -> Result<FileInfo, ServiceError> {
        update.check()?;
        let filename = update.filename.as_deref().and_then(sanitize_filename);
        let tx = self.store.begin_write().await?;
        let record = self.manageable(&tx, actor, id).await?;
        let info =
            repo::files::update(&tx, actor.org_id, record.info.id, filename, update.metadata)
                .await?
                .ok_or(ServiceError::NotFound("file"))?;
        tx.commit().await?;
        Ok(info)
    }

    /// Deletes a file: its row stays as the tombstone its attachments show
    /// (with a `file.deleted` event in each thread it was attached in), and
    /// its bytes go when no other file has the same content.
    pub async fn delete_file(&self, actor: &Actor, id: FileId) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        let record = self.manageable(&tx, actor, id).await?;
        if !repo::files::mark_deleted(&tx, actor.org_id, id).await? {
            return Err(ServiceError::NotFound("file"));
        }
        let mut events = Vec::new();
        for (thread, message) in repo::files::attachments(&tx, id).await? {
            events.push(
                self.log_event(
                    &tx,
                    thread,
                    kind::FILE_DELETED,
                    Some(message),
                    Some(actor),
                    json!({ "file_id": id, "message_id": message }),
                )
                .await?,
            );
        }
        self.release(&tx, &record.info.sha256).await?;
        let details = json!({ "filename": record.info.filename, "owner": record.info.user_id });
        let target = Some(("file", id.to_string()));
        crate::audit::record(
            &tx,
            actor.into(),
            xl_domain::audit::action::FILE_DELETED,
            target,
            Some(details),
        )
        .await?;
        self.commit_and_publish(tx, events).await
    }

    /// Checks the files a message is to carry: each one listed once, in the
    /// caller's org, not deleted, and the caller's own or readable by them
    /// (400 naming `field` otherwise). Returns them in order.
    pub(crate) async fn attachable_files(
        &self,
        tx: &Tx,
        actor: &Actor,
        field: &str,
        ids: &[FileId],
    ) -> Result<Vec<FileInfo>, ServiceError> {
        let mut files = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            if ids[..index].contains(id) {
                return Err(ServiceError::Invalid(DomainError::invalid(
                    field,
                    "lists a file more than once",
                )));
            }
            let refused = || {
                ServiceError::Invalid(DomainError::invalid(
                    field,
                    "every file must be one you uploaded or can read",
                ))
            };
            let record = self.readable(tx, actor, *id).await.map_err(|_| refused())?;
            if record.info.deleted_at.is_some() {
                return Err(refused());
            }
            files.push(record.info);
        }
        Ok(files)
    }

    /// Logs `file.attached` for each file of a posted message, and notes the
    /// thread on files attached for the first time.
    pub(crate) async fn attach_files(
        &self,
        tx: &Tx,
        actor: &Actor,
        thread: ThreadId,
        message: MessageId,
        files: &[FileInfo],
    ) -> Result<Vec<ThreadEvent>, ServiceError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<FileId> = files.iter().map(|file| file.id).collect();
        repo::files::set_thread_if_none(tx, &ids, thread).await?;
        let mut events = Vec::with_capacity(files.len());
        for file in files {
            let mut file = file.clone();
            file.thread_id.get_or_insert(thread);
            events.push(
                self.log_event(
                    tx,
                    thread,
                    kind::FILE_ATTACHED,
                    Some(message),
                    Some(actor),
                    Attached {
                        file: &file,
                        message_id: message,
                    },
                )
                .await?,
            );
        }
        Ok(events)
    }

    /// Removes uploads nobody attached within the orphan time, and what
    /// interrupted uploads left in the file store. Returns how many files
    /// went.
    pub async fn remove_orphan_files(&self) -> Result<u64, ServiceError> {
        let ttl = TimeDelta::from_std(self.config.files.orphan_ttl).unwrap_or(TimeDelta::days(1));
        let cutoff = Utc::now() - ttl;
        let mut removed = 0;
        loop {
            let batch = repo::files::orphans_before(self.store.reader(), cutoff, 100).await?;
            if batch.is_empty() {
                break;
            }
            let mut progressed = false;
            for record in &batch {
                let tx = self.store.begin_write().await?;
                if repo::files::remove_orphan(&tx, record.info.id).await? {
                    self.release(&tx, &record.info.sha256).await?;
                    removed += 1;
                    progressed = true;
                }
                tx.commit().await?;
            }
            if !progressed || batch.len() < 100 {
                break;
            }
        }
        self.remove_interrupted_uploads().await?;
        if removed > 0 {
            tracing::info!(removed, "removed files nobody attached");
        }
        Ok(removed)
    }

    /// Removes what interrupted uploads left in the file store, a day on
    /// (an upload under way is never that old): staged objects, and objects
    /// an upload moved into place whose row never committed. Those are
    /// found by their markers under `placing/`, and removed only under the
    /// content's count, taken as a delete would take it, and only if no
    /// file counts on them.
    async fn remove_interrupted_uploads(&self) -> Result<(), ServiceError> {
        let cutoff = Utc::now() - TimeDelta::days(1);
        for key in self.files.stale("uploads", cutoff).await.map_err(storage)? {
            self.files.delete(&key).await.map_err(storage)?;
        }
        for marker in self.files.stale("placing", cutoff).await.map_err(storage)? {
            if let Some(sha256) = FileStore::placed_sha(&marker) {
                let tx = self.store.begin_write().await?;
                if repo::files::claim_uncounted_blob(&tx, sha256).await? {
                    tracing::info!(sha256, "removing the content of an interrupted upload");
                    self.delete_content(sha256).await?;
                    repo::files::forget_blob(&tx, sha256).await?;
                }
                tx.commit().await?;
            }
            self.files.delete(&marker).await.map_err(storage)?;
        }
        Ok(())
    }

    /// Counts one file fewer on this content; the last one takes the object
    /// and its thumbnail with it, inside the caller's transaction (so a
    /// concurrent upload of the same content waits, then stores it anew).
    async fn release(&self, tx: &Tx, sha256: &str) -> Result<(), ServiceError> {
        if repo::files::release_blob(tx, sha256).await? {
            self.delete_content(sha256).await?;
        }
        Ok(())
    }

    /// Deletes the object and the thumbnail of content whose count the
    /// caller's transaction holds at zero.
    async fn delete_content(&self, sha256: &str) -> Result<(), ServiceError> {
        self.files
            .delete(&FileStore::blob_key(sha256))
            .await
            .map_err(storage)?;
        self.files
            .delete(&FileStore::preview_key(sha256))
            .await
            .map_err(storage)
    }

    /// The file if the caller may read it: their own, attached in a
    /// thread they may read, or linked from an artifact they may read.
    async fn readable<C: Conn>(
        &self,
        db: &C,
        actor: &Actor,
        id: FileId,
    ) -> Result<FileRecord, ServiceError> {
        let record = repo::files::find(db, actor.org_id, id)
            .await?
            .ok_or(ServiceError::NotFound("file"))?;
        if record.info.user_id == Some(actor.user_id)
            || repo::files::readable_by_link(db, actor.org_id, actor.user_id, actor.is_admin(), id)
                .await?
        {
            return Ok(record);
        }
        Err(ServiceError::NotFound("file"))
    }

    /// A readable file that is not deleted (its bytes exist).
    async fn live(&self, actor: &Actor, id: FileId) -> Result<FileRecord, ServiceError> {
        let record = self.readable(self.store.reader(), actor, id).await?;
        if record.info.deleted_at.is_some() {
            return Err(ServiceError::NotFound("file"));
        }
        Ok(record)
    }

    /// A readable, undeleted file the caller may change.
    async fn manageable(
        &self,
        tx: &Tx,
        actor: &Actor,
        id: FileId,
    ) -> Result<FileRecord, ServiceError> {
        let record = self.readable(tx, actor, id).await?;
        if record.info.deleted_at.is_some() {
            return Err(ServiceError::NotFound("file"));
        }
        if record.info.user_id != Some(actor.user_id) && !actor.is_admin() {
            return Err(ServiceError::Forbidden(
                "only the file's uploader or an administrator may change it".into(),
            ));
        }
        Ok(record)
    }

    /// The whole content of an image or PDF to preview, within bounds.
    async fn preview_source(&self, record: &FileRecord) -> Result<Bytes, ServiceError> {
        self.files
            .read_small(&record.storage_key, preview::MAX_SOURCE_BYTES)
            .await
            .map_err(storage)?
            .ok_or_else(|| {
                unprocessable(format!(
                    "is too large to preview (at most {} MiB)",
                    preview::MAX_SOURCE_BYTES / (1024 * 1024)
                ))
            })
    }
}

/// What an upload's body turned out to be.
struct Received {
    size: u64,
    sha256: String,
    content_type: &'static str,
}

/// Streams a body into an upload: hashes it, sniffs its first bytes, and
/// stops at the first byte past `limit`.
async fn receive<S, E>(
    upload: &mut storage::Upload,
    body: S,
    limit: u64,
    filename: &str,
) -> Result<Received, ServiceError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(sniff::SNIFF_BYTES);
    let mut content_type: Option<&'static str> = None;
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| {
            ServiceError::Invalid(DomainError::invalid(
                "file",
                format!("the upload was cut short: {err}"),
            ))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ServiceError::TooLarge { limit });
        }
        hasher.update(&chunk);
        if content_type.is_none() {
            let room = sniff::SNIFF_BYTES - head.len();
            head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if head.len() == sniff::SNIFF_BYTES {
                content_type = Some(sniff::sniff(&head, false, filename).map_err(unprocessable)?);
            }
        }
        upload.write(chunk).await.map_err(storage)?;
    }
    if size == 0 {
        return Err(unprocessable("must not be empty"));
    }
    let content_type = match content_type {
        Some(found) => found,
        None => sniff::sniff(&head, true, filename).map_err(unprocessable)?,
    };
    Ok(Received {
        size,
        sha256: format!("{:x}", hasher.finalize()),
        content_type,
    })
}

/// Runs a decoder on the blocking pool; its refusal, or a panic inside a
/// decoder library, is 422 naming `file`.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ServiceError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(reason)) => Err(unprocessable(reason)),
        Err(_) => Err(unprocessable("the content cannot be read")),
    }
}

fn storage(err: StorageError) -> ServiceError {
    ServiceError::FileStore(err)
}

/// Drains a stream of chunks into one buffer (tests and small reads).
pub async fn collect(
    body: BoxStream<'static, Result<Bytes, StorageError>>,
) -> Result<Vec<u8>, StorageError> {
    body.try_fold(Vec::new(), |mut all, chunk| async move {
        all.extend_from_slice(&chunk);
        Ok(all)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_resolve_against_the_size() {
        assert_eq!(ByteRange::Closed(0, 9).resolve(100), Some(0..10));
        assert_eq!(ByteRange::Closed(90, 200).resolve(100), Some(90..100));
        assert_eq!(ByteRange::From(95).resolve(100), Some(95..100));
        assert_eq!(ByteRange::Suffix(10).resolve(100), Some(90..100));
        assert_eq!(ByteRange::Suffix(500).resolve(100), Some(0..100));
        assert_eq!(ByteRange::From(100).resolve(100), None);
        assert_eq!(ByteRange::Closed(5, 4).resolve(100), None);
        assert_eq!(ByteRange::Suffix(0).resolve(100), None);
    }
}
