//! Artifacts: structured outputs beside a conversation, each change a new
//! version, with optimistic concurrency and exports (JSON, CSV, PDF).
//!
//! Access: an artifact in a thread is readable by whoever may read the
//! thread, and changed by its creator, the thread's owner or an org admin;
//! an artifact outside a thread belongs to its owner (and the org's
//! admins). One that the caller may not read is not found, never forbidden.
//!
//! - `export`: the JSON, CSV and PDF renderings of one version.

mod export;

use std::str::FromStr;

use serde::Serialize;
use serde_json::json;
use xl_domain::artifacts::{
    Artifact, ArtifactContent, ArtifactFilter, ArtifactUpdate, ArtifactVersion,
    MAX_DESCRIPTION_CHARS, MAX_NOTE_CHARS, NewArtifact, check_long_text, parse_title,
};
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::files::FileKind;
use xl_domain::threads::validate_metadata;
use xl_domain::{Actor, ArtifactId, DomainError, FieldErrors, FileId, Page, PageRequest, ThreadId};
use xl_store::repo::artifacts::{NewArtifactRow, NextVersion, Scope};
use xl_store::{Conn, Db, Tx, repo};

pub use export::{Export, ExportBody};

use export::Rendering;

use crate::threads::{Access, authorize};
use crate::{ServiceError, Services};

/// What an export is rendered as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// The version as stored.
    Json,
    /// The tabular parts (insight findings, dashboard tables).
    Csv,
    /// A readable document.
    Pdf,
}

impl FromStr for ExportFormat {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "json" => Ok(ExportFormat::Json),
            "csv" => Ok(ExportFormat::Csv),
            "pdf" => Ok(ExportFormat::Pdf),
            _ => Err(DomainError::invalid("format", "must be json, csv or pdf")),
        }
    }
}

/// What the caller wants to do with an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Read,
    Change,
}

/// What an artifact's events carry: enough to update a list, not the
/// content (up to 256 KiB), which a client fetches when it needs it.
#[derive(Serialize)]
struct EventPayload<'a> {
    id: ArtifactId,
    kind: &'a str,
    title: &'a str,
    version: i32,
    user_id: xl_domain::UserId,
}

impl<'a> From<&'a Artifact> for EventPayload<'a> {
    fn from(artifact: &'a Artifact) -> Self {
        EventPayload {
            id: artifact.id,
            kind: artifact.kind.as_str(),
            title: &artifact.title,
            version: artifact.version,
            user_id: artifact.user_id,
        }
    }
}

/// The 412 of a stale `If-Match`.
fn stale(current: i32) -> ServiceError {
    ServiceError::PreconditionFailed(format!(
        "the artifact is at version {current}; fetch it again and reapply the change"
    ))
}

fn check_note(note: Option<&str>) -> Result<(), DomainError> {
    check_long_text("change_note", note, MAX_NOTE_CHARS)
}

impl Services {
    /// The artifact, if the caller may access it in this way.
    async fn artifact_for<C: Conn>(
        &self,
        db: &C,
        actor: &Actor,
        id: ArtifactId,
        want: Want,
    ) -> Result<Artifact, ServiceError> {
        let not_found = || ServiceError::NotFound("artifact");
        let artifact = repo::artifacts::find(db, actor.org_id, id)
            .await?
            .ok_or_else(not_found)?;
        let may_change = match artifact.thread_id {
            Some(thread) => {
                let found = repo::threads::access(db, actor.org_id, actor.user_id, thread).await?;
                let thread =
                    authorize(actor, found, Access::Read, false).map_err(|_| not_found())?;
                artifact.user_id == actor.user_id
                    || thread.owner_id == actor.user_id
                    || actor.is_admin()
            }
            None => {
                if artifact.user_id != actor.user_id && !actor.is_admin() {
                    return Err(not_found());
                }
                true
            }
        };
        if want == Want::Change && !may_change {
            return Err(ServiceError::Forbidden(
                "only the artifact's creator, the thread's owner or an administrator may change it"
                    .into(),
            ));
        }
        Ok(artifact)
    }

    /// Creates an artifact, in a thread the caller may write to or, with
    /// no thread, of the caller's own.
    pub async fn create_artifact(
        &self,
        actor: &Actor,
        thread: Option<ThreadId>,
        input: NewArtifact,
    ) -> Result<Artifact, ServiceError> {
        let title = parse_title("title", &input.title)?;
        check_long_text(
            "description",
            input.description.as_deref(),
            MAX_DESCRIPTION_CHARS,
        )?;
        if let Some(metadata) = &input.metadata {
            validate_metadata("metadata", metadata)?;
        }
        let content = ArtifactContent::parse(input.kind, &input.content)?;
        if thread.is_none() && input.message_id.is_some() {
            return Err(DomainError::invalid(
                "message_id",
                "only an artifact in a thread can come from a message",
            )
            .into());
        }
        let id = ArtifactId::new();
        let tx = self.store.begin_write().await?;
        if let Some(thread) = thread {
            self.thread_in_tx(&tx, actor, thread, Access::Write).await?;
            if let Some(message) = input.message_id
                && repo::messages::find_in_thread(&tx, thread, message)
                    .await?
                    .is_none()
            {
                return Err(
                    DomainError::invalid("message_id", "must be a message of this thread").into(),
                );
            }
        }
        repo::artifacts::insert(
            &tx,
            NewArtifactRow {
                id,
                org_id: actor.org_id,
                user_id: actor.user_id,
                thread_id: thread,
                message_id: input.message_id,
                kind: input.kind,
                title,
                description: input.description,
                content: input.content,
                metadata: input.metadata.unwrap_or_else(|| json!({})),
            },
        )
        .await?;
        self.link_content_files(&tx, actor, id, &content).await?;
        let artifact = self.artifact_for(&tx, actor, id, Want::Read).await?;
        let events = self
            .artifact_event(&tx, actor, &artifact, kind::ARTIFACT_CREATED)
            .await?;
        self.commit_and_publish(tx, events).await?;
        Ok(artifact)
    }

    /// Links the files the content names, under the rule of message
    /// attachments: each must be one the caller may read and not deleted
    /// (400 naming `content.file_id` otherwise); a `pdf` artifact's must be
    /// a PDF. Once linked, whoever may read the artifact may read the file.
    async fn link_content_files(
        &self,
        tx: &Tx,
        actor: &Actor,
        id: ArtifactId,
        content: &ArtifactContent,
    ) -> Result<(), ServiceError> {
        const FIELD: &str = "content.file_id";
        let files = self
            .attachable_files(tx, actor, FIELD, &content.files())
            .await?;
        if matches!(content, ArtifactContent::Pdf(_))
            && files
                .iter()
                .any(|file| FileKind::of(&file.content_type) != Some(FileKind::Pdf))
        {
            return Err(DomainError::invalid(FIELD, "must be a PDF file").into());
        }
        let ids: Vec<_> = files.iter().map(|file| file.id).collect();
        repo::artifacts::link_files(tx, id, &ids).await?;
        Ok(())
    }

    /// The event of a change to an artifact in a thread (none outside one).
    async fn artifact_event(
        &self,
        tx: &Tx,
        actor: &Actor,
        artifact: &Artifact,
        event: &str,
    ) -> Result<Vec<ThreadEvent>, ServiceError> {
        let Some(thread) = artifact.thread_id else {
            return Ok(Vec::new());
        };
        let payload = EventPayload::from(artifact);
        let logged = self
            .log_event(tx, thread, event, artifact.message_id, Some(actor), payload)
            .await?;
        Ok(vec![logged])
    }

    /// The caller's own artifacts (in threads or not).
    pub async fn list_artifacts(
        &self,
        actor: &Actor,
        filter: &ArtifactFilter,
        page: &PageRequest,
    ) -> Result<Page<Artifact>, ServiceError> {
        Ok(repo::artifacts::list(
            self.store.reader(),
            actor.org_id,
            Scope::Owner(actor.user_id),
            filter,
            page,
        )
        .await?)
    }

    /// The artifacts of a thread the caller may read.
    pub async fn list_thread_artifacts(
        &self,
        actor: &Actor,
        thread: ThreadId,
        filter: &ArtifactFilter,
        page: &PageRequest,
    ) -> Result<Page<Artifact>, ServiceError> {
        self.thread_for(actor, thread, Access::Read).await?;
        Ok(repo::artifacts::list(
            self.store.reader(),
            actor.org_id,
            Scope::Thread(thread),
            filter,
            page,
        )
        .await?)
    }

    /// An artifact the caller may read, at its current version.
    pub async fn get_artifact(
        &self,
        actor: &Actor,
        id: ArtifactId,
    ) -> Result<Artifact, ServiceError> {
        self.artifact_for(self.store.reader(), actor, id, Want::Read)
            .await
    }

    /// Changes an artifact, making a new version. With `if_match`, only if
    /// that is still the current version (412 otherwise).
    pub async fn update_artifact(
        &self,
        actor: &Actor,
        id: ArtifactId,
        input: ArtifactUpdate,
        if_match: Option<i32>,
    ) -> Result<Artifact, ServiceError> {
        // Checked on the read pool first, so bad input never waits for the writer.
        let current = self
            .artifact_for(self.store.reader(), actor, id, Want::Change)
            .await?;
        let title = input
            .title
            .as_deref()
            .map(|raw| parse_title("title", raw))
            .transpose()?;
        check_long_text(
            "description",
            input.description.as_ref().and_then(Option::as_deref),
            MAX_DESCRIPTION_CHARS,
        )?;
        check_note(input.change_note.as_deref())?;
        if let Some(metadata) = &input.metadata {
            validate_metadata("metadata", metadata)?;
        }
        let content = input
            .content
            .as_ref()
            .map(|value| ArtifactContent::parse(current.kind, value))
            .transpose()?;
        if input.title.is_none()
            && input.description.is_none()
            && input.content.is_none()
            && input.metadata.is_none()
        {
            let mut errors = FieldErrors::new();
            errors.add(
                "body",
                "must change title, description, content or metadata",
            );
            return Err(DomainError::Validation(errors).into());
        }
        let tx = self.store.begin_write().await?;
        let artifact = self.artifact_for(&tx, actor, id, Want::Change).await?;
        let expected = if_match.unwrap_or(artifact.version);
        if expected != artifact.version {
            return Err(stale(artifact.version));
        }
        let next = NextVersion {
            expected,
            title: title.unwrap_or_else(|| artifact.title.clone()),
            content: input.content.unwrap_or_else(|| artifact.content.clone()),
            change_note: input.change_note,
            created_by: actor.user_id,
            description: input.description,
            metadata: input.metadata,
        };
        self.write_version(tx, actor, &artifact, next, content.as_ref())
            .await
    }

    /// Writes the next version of an artifact read in `tx`, links the
    /// files it names, logs its event and commits.
    async fn write_version(
        &self,
        tx: Tx,
        actor: &Actor,
        artifact: &Artifact,
        next: NextVersion,
        content: Option<&ArtifactContent>,
    ) -> Result<Artifact, ServiceError> {
        if repo::artifacts::add_version(&tx, actor.org_id, artifact.id, next)
            .await?
            .is_none()
        {
            return Err(stale(artifact.version));
        }
        if let Some(content) = content {
            self.link_content_files(&tx, actor, artifact.id, content)
                .await?;
        }
        let updated = self
            .artifact_for(&tx, actor, artifact.id, Want::Read)
            .await?;
        let events = self
            .artifact_event(&tx, actor, &updated, kind::ARTIFACT_UPDATED)
            .await?;
        self.commit_and_publish(tx, events).await?;
        Ok(updated)
    }

    /// Makes an old version current again, as a new version.
    pub async fn restore_artifact_version(
        &self,
        actor: &Actor,
        id: ArtifactId,
        version: i32,
        if_match: Option<i32>,
    ) -> Result<Artifact, ServiceError> {
        let tx = self.store.begin_write().await?;
        let artifact = self.artifact_for(&tx, actor, id, Want::Change).await?;
        let expected = if_match.unwrap_or(artifact.version);
        if expected != artifact.version {
            return Err(stale(artifact.version));
        }
        let old = repo::artifacts::version(&tx, id, version)
            .await?
            .ok_or(ServiceError::NotFound("artifact version"))?;
        let next = NextVersion {
            expected,
            title: old.title,
            content: old.content,
            change_note: Some(format!("restored from version {version}")),
            created_by: actor.user_id,
            description: None,
            metadata: None,
        };
        // The old version's file was linked when that version was written,
        // and links accumulate, so nothing is linked anew: a version whose
        // file was deleted since can still be restored (its PDF export then
        // says the file is gone).
        self.write_version(tx, actor, &artifact, next, None).await
    }

    /// Deletes an artifact; with `if_match`, only at that version.
    pub async fn delete_artifact(
        &self,
        actor: &Actor,
        id: ArtifactId,
        if_match: Option<i32>,
    ) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        let artifact = self.artifact_for(&tx, actor, id, Want::Change).await?;
        if if_match.is_some_and(|expected| expected != artifact.version) {
            return Err(stale(artifact.version));
        }
        if !repo::artifacts::set_deleted(&tx, actor.org_id, id, if_match).await? {
            return Err(match if_match {
                Some(_) => stale(artifact.version),
                None => ServiceError::NotFound("artifact"),
            });
        }
        let events = self
            .artifact_event(&tx, actor, &artifact, kind::ARTIFACT_DELETED)
            .await?;
        let details = serde_json::json!({ "kind": artifact.kind, "title": artifact.title });
        let target = Some(("artifact", id.to_string()));
        crate::audit::record(
            &tx,
            actor.into(),
            xl_domain::audit::action::ARTIFACT_DELETED,
            target,
            Some(details),
        )
        .await?;
        self.commit_and_publish(tx, events).await?;
        Ok(())
    }

    /// The versions of an artifact the caller may read, newest first by default.
    pub async fn artifact_versions(
        &self,
        actor: &Actor,
        id: ArtifactId,
        page: &PageRequest,
    ) -> Result<Page<ArtifactVersion>, ServiceError> {
        let db = self.store.reader();
        self.artifact_for(db, actor, id, Want::Read).await?;
        Ok(repo::artifacts::versions(db, id, page).await?)
    }

    /// Version `n` of an artifact the caller may read.
    pub async fn artifact_version(
        &self,
        actor: &Actor,
        id: ArtifactId,
        version: i32,
    ) -> Result<ArtifactVersion, ServiceError> {
        let db = self.store.reader();
        self.artifact_for(db, actor, id, Want::Read).await?;
        repo::artifacts::version(db, id, version)
            .await?
            .ok_or(ServiceError::NotFound("artifact version"))
    }

    /// Renders a version (the current one by default) of an artifact the
    /// caller may read. The same version always renders to the same bytes.
    pub async fn export_artifact(
        &self,
        actor: &Actor,
        id: ArtifactId,
        format: ExportFormat,
        version: Option<i32>,
    ) -> Result<Export, ServiceError> {
        let db = self.store.reader();
        let artifact = self.artifact_for(db, actor, id, Want::Read).await?;
        let version = match version {
            Some(n) => repo::artifacts::version(db, id, n)
                .await?
                .ok_or(ServiceError::NotFound("artifact version"))?,
            None => repo::artifacts::version(db, id, artifact.version)
                .await?
                .ok_or(ServiceError::NotFound("artifact version"))?,
        };
        let body = match export::render(&artifact, &version, format)? {
            Rendering::Rendered(bytes) => ExportBody::Rendered(bytes),
            Rendering::Wrapped(file) => self.wrapped_file(db, &artifact, file).await?,
        };
        Ok(Export {
            body,
            content_type: format.content_type(),
            filename: export::filename(&artifact, version.version, format),
            version: version.version,
        })
    }

    /// The bytes of the uploaded PDF a `pdf` artifact links, read with the
    /// artifact's authority: whoever may read the artifact may read them.
    ///
    /// A file deleted since is 409, not 404: the artifact and its version
    /// are there and readable (their JSON export still works), and a 404
    /// would read as "no such artifact, or not yours". What stands in the
    /// way is the artifact's state, which its owner can resolve by pointing
    /// it at a new upload, so the problem says that.
    async fn wrapped_file(
        &self,
        db: &Db,
        artifact: &Artifact,
        file: FileId,
    ) -> Result<ExportBody, ServiceError> {
        let linked = repo::artifacts::files(db, artifact.id)
            .await?
            .contains(&file);
        let record = match repo::files::find(db, artifact.org_id, file).await? {
            Some(record) if linked => record,
            // Only versions written before links were checked can name a
            // file they do not link; their file is not theirs to hand out.
            _ => {
                return Err(ServiceError::Conflict(format!(
                    "this version names the file {file}, which the artifact does not link; \
                     update its content with a PDF you can read"
                )));
            }
        };
        if record.info.deleted_at.is_some() {
            return Err(ServiceError::Conflict(format!(
                "the PDF this version wraps (file {file}) was deleted; \
                 update the artifact's content with a new upload"
            )));
        }
        let size = u64::try_from(record.info.size_bytes).unwrap_or(0);
        let stream = self
            .files
            .read_range(&record.storage_key, 0..size)
            .await
            .map_err(ServiceError::FileStore)?;
        Ok(ExportBody::Stored { size, stream })
    }
}
