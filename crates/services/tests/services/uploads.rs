//! An upload's bytes and its row: a committed file always has its bytes.
//! A file store that fails, or stands for a crash, at the moment an upload
//! moves its bytes into place (between the move and the commit, or after
//! the commit) shows what each leaves behind, and that housekeeping removes
//! only what no file counts on, even while an upload of the same content
//! is under way. On SQLite, and on PostgreSQL when `XL_TEST_POSTGRES_URL`
//! is set.

use std::fmt;
use std::future::Future;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use tokio::sync::Notify;
use xl_domain::{PageRequest, Role};
use xl_services::files::{FileStore, collect};
use xl_services::{Services, ServicesConfig};
use xl_store::Store;

use crate::support::{actor, echo, postgres_store};

/// What the store does wrong, once set.
#[derive(Clone)]
enum Fault {
    /// Moving an upload into place fails, and nothing moves.
    FailMove,
    /// The move happens, then the process "dies": the service gets an
    /// error before it can commit, as a crash would stop it there.
    DieAfterMove,
    /// Deleting a `placing/` marker fails, as a crash right after the
    /// commit would leave it.
    KeepMarkers,
    /// The move happens, then waits for `go` (saying `placed` first); a
    /// listing of `placing/` says `listed`.
    PauseAfterMove {
        placed: Arc<Notify>,
        go: Arc<Notify>,
        listed: Arc<Notify>,
    },
}

/// A local directory with a fault between the services and it.
struct Faulty {
    inner: Arc<LocalFileSystem>,
    fault: Mutex<Option<Fault>>,
}

impl Faulty {
    fn new(dir: &FsPath) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner: Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap()),
            fault: Mutex::new(None),
        })
    }

    fn set(&self, fault: Option<Fault>) {
        *self.fault.lock().unwrap() = fault;
    }

    fn fault(&self) -> Option<Fault> {
        self.fault.lock().unwrap().clone()
    }
}

fn injected(what: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: format!("injected fault: {what}").into(),
    }
}

impl fmt::Debug for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({:?})", self.inner)
    }
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        if !matches!(self.fault(), Some(Fault::KeepMarkers)) {
            return self.inner.delete_stream(locations);
        }
        let inner = Arc::clone(&self.inner);
        locations
            .and_then(move |path| {
                let inner = Arc::clone(&inner);
                async move {
                    if path.as_ref().starts_with("placing/") {
                        return Err(injected("the marker stays"));
                    }
                    inner.delete(&path).await.map(|()| path)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if let (Some(Fault::PauseAfterMove { listed, .. }), Some(prefix)) = (self.fault(), prefix)
            && prefix.as_ref() == "placing"
        {
            listed.notify_one();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        match self.fault() {
            Some(Fault::FailMove) => Err(injected("the move fails")),
            Some(Fault::DieAfterMove) => {
                self.inner.rename_opts(from, to, options).await?;
                Err(injected("the process dies after the move"))
            }
            Some(Fault::PauseAfterMove { placed, go, .. }) => {
                self.inner.rename_opts(from, to, options).await?;
                placed.notify_one();
                go.notified().await;
                Ok(())
            }
            _ => self.inner.rename_opts(from, to, options).await,
        }
    }
}

const CONTENT: &[u8] = b"%PDF-1.7\nquarterly numbers\n";

fn body() -> impl futures_util::Stream<Item = Result<Bytes, String>> {
    futures_util::stream::iter(CONTENT.chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))))
}

fn sha256() -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(CONTENT))
}

/// Every regular file under `dir`, relative to it.
fn files_under(dir: &FsPath) -> Vec<String> {
    fn walk(root: &FsPath, dir: &FsPath, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

fn under<'a>(found: &'a [String], prefix: &str) -> Vec<&'a String> {
    found.iter().filter(|key| key.starts_with(prefix)).collect()
}

/// Makes every `placing/` marker two days old, past housekeeping's grace.
fn age_markers(dir: &FsPath) {
    let old = SystemTime::now() - Duration::from_secs(2 * 86_400);
    for key in under(&files_under(dir), "placing/") {
        let path: PathBuf = dir.join(key);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(old).unwrap();
    }
}

/// Services over `store`, whose bytes go through `faulty`.
fn services_over(store: Store, faulty: &Arc<Faulty>) -> Services {
    let files = FileStore::over(Arc::clone(faulty) as Arc<dyn ObjectStore>);
    Services::new(store, echo(), ServicesConfig::default()).with_file_store(files)
}

async fn listed_files(services: &Services, actor: &xl_domain::Actor) -> usize {
    services
        .list_files(actor, &Default::default(), &PageRequest::default())
        .await
        .unwrap()
        .items
        .len()
}

/// What each crash point leaves, and what housekeeping makes of it.
async fn crashes_leave_no_file_without_bytes(
    services: Services,
    faulty: Arc<Faulty>,
    dir: PathBuf,
) {
    let dir = dir.as_path();
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let blob = FileStore::blob_key(&sha256());

    // The move fails: the upload fails, and no file is there to list; only
    // the marker of the attempt is left.
    faulty.set(Some(Fault::FailMove));
    assert!(services.upload_file(&ada, "q.pdf", body()).await.is_err());
    assert_eq!(listed_files(&services, &ada).await, 0);
    let left = files_under(dir);
    assert_eq!(under(&left, "placing/").len(), 1, "{left:?}");
    assert_eq!(left.len(), 1, "{left:?}");

    // A crash between the move and the commit: no file either, only bytes
    // nobody counts on, which housekeeping removes once past the grace
    // (and not before: an upload may be under way).
    faulty.set(Some(Fault::DieAfterMove));
    assert!(services.upload_file(&ada, "q.pdf", body()).await.is_err());
    faulty.set(None);
    assert_eq!(listed_files(&services, &ada).await, 0);
    let left = files_under(dir);
    assert!(left.contains(&blob), "{left:?}");
    assert_eq!(under(&left, "placing/").len(), 2, "{left:?}");
    assert_eq!(left.len(), 3, "{left:?}");
    services.remove_orphan_files().await.unwrap();
    assert!(files_under(dir).contains(&blob));
    age_markers(dir);
    services.remove_orphan_files().await.unwrap();
    assert_eq!(files_under(dir), Vec::<String>::new());

    // The same content afterwards is stored anew and reads back whole.
    let file = services.upload_file(&ada, "q.pdf", body()).await.unwrap();
    let content = services.file_content(&ada, file.id, None).await.unwrap();
    assert_eq!(collect(content.body).await.unwrap(), CONTENT);
    assert_eq!(files_under(dir), std::slice::from_ref(&blob));
    services.delete_file(&ada, file.id).await.unwrap();

    // A crash after the commit leaves its marker: housekeeping removes the
    // marker and keeps the bytes the file counts on.
    faulty.set(Some(Fault::KeepMarkers));
    let file = services.upload_file(&ada, "q.pdf", body()).await.unwrap();
    faulty.set(None);
    assert_eq!(under(&files_under(dir), "placing/").len(), 1);
    age_markers(dir);
    services.remove_orphan_files().await.unwrap();
    assert_eq!(files_under(dir), [blob]);
    let content = services.file_content(&ada, file.id, None).await.unwrap();
    assert_eq!(collect(content.body).await.unwrap(), CONTENT);
}

/// Housekeeping finds an old marker of content whose upload is between its
/// move and its commit: it must leave the bytes that upload is about to
/// count on, whichever of the two reaches the content's count first.
async fn housekeeping_leaves_an_upload_under_way_alone(
    services: Services,
    faulty: Arc<Faulty>,
    dir: PathBuf,
) {
    let dir = dir.as_path();
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    // What a crash long ago left: a marker of this content, past the grace.
    let stale = dir.join(FileStore::placing_key(&sha256(), "crashed"));
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"").unwrap();
    age_markers(dir);

    let (placed, go, listed) = (
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
    );
    faulty.set(Some(Fault::PauseAfterMove {
        placed: Arc::clone(&placed),
        go: Arc::clone(&go),
        listed: Arc::clone(&listed),
    }));
    let upload = services.upload_file(&ada, "q.pdf", body());
    // Once the bytes are in place and the row is not committed yet,
    // housekeeping runs; once it has listed the markers, the upload goes on.
    let sweep = async {
        placed.notified().await;
        let go_on = async {
            listed.notified().await;
            go.notify_one();
        };
        let (swept, ()) = tokio::join!(services.remove_orphan_files(), go_on);
        swept
    };
    // A safety net, not a measure: if the two waited on each other the
    // test would otherwise hang.
    let (uploaded, swept) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(upload, sweep)
    })
    .await
    .expect("the upload and housekeeping waited on each other");
    faulty.set(None);
    swept.unwrap();
    let file = uploaded.unwrap();
    let content = services.file_content(&ada, file.id, None).await.unwrap();
    assert_eq!(collect(content.body).await.unwrap(), CONTENT);
    assert!(files_under(dir).contains(&FileStore::blob_key(&sha256())));
    assert!(!stale.exists(), "the stale marker is gone");
}

/// Runs a scenario over a fresh local directory on SQLite.
async fn on_sqlite<F: Future<Output = ()>>(
    scenario: impl FnOnce(Services, Arc<Faulty>, PathBuf) -> F,
) {
    let dir = tempfile::tempdir().unwrap();
    let faulty = Faulty::new(dir.path());
    let services = services_over(Store::in_memory().await.unwrap(), &faulty);
    scenario(services, faulty, dir.path().to_owned()).await;
}

/// Runs a scenario over a fresh local directory on a fresh PostgreSQL
/// database; without `XL_TEST_POSTGRES_URL` it is skipped (and says so),
/// except under CI, where that fails.
async fn on_postgres<F: Future<Output = ()>>(
    scenario: impl FnOnce(Services, Arc<Faulty>, PathBuf) -> F,
) {
    let Some((store, db)) = postgres_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let faulty = Faulty::new(dir.path());
    let services = services_over(store.clone(), &faulty);
    scenario(services, faulty, dir.path().to_owned()).await;
    store.close().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn crashes_while_uploading_leave_no_file_without_bytes() {
    on_sqlite(crashes_leave_no_file_without_bytes).await;
}

#[tokio::test]
async fn crashes_while_uploading_leave_no_file_without_bytes_on_postgres() {
    on_postgres(crashes_leave_no_file_without_bytes).await;
}

#[tokio::test]
async fn housekeeping_leaves_an_upload_under_way_alone_on_sqlite() {
    on_sqlite(housekeeping_leaves_an_upload_under_way_alone).await;
}

#[tokio::test]
async fn housekeeping_leaves_an_upload_under_way_alone_on_postgres() {
    on_postgres(housekeeping_leaves_an_upload_under_way_alone).await;
}
