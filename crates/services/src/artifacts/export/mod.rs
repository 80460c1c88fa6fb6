//! Renders one version of an artifact as JSON (as stored), CSV (its
//! tabular parts) or PDF (a readable document; for a `pdf` artifact, the
//! uploaded file it wraps). Every rendering is a pure function of the
//! version, and a wrapped file is stored by content, so the same version
//! exports to the same bytes.
//!
//! - `csv`: what each kind exports as rows.
//! - `pdf`: the layout, on the PDF's built-in fonts.

mod csv;
mod pdf;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde_json::Value;
use xl_domain::artifacts::{Artifact, ArtifactContent, ArtifactVersion};
use xl_domain::{ArtifactId, ArtifactKind, FileId};

use super::ExportFormat;
use crate::ServiceError;
use crate::files::{StorageError, collect};

/// An export on its way to the caller.
#[derive(Debug)]
pub struct Export {
    /// The bytes.
    pub body: ExportBody,
    /// Their media type.
    pub content_type: &'static str,
    /// A safe file name: `<kind>-<id>-v<version>.<ext>`.
    pub filename: String,
    /// The version exported.
    pub version: i32,
}

/// The bytes of an export.
pub enum ExportBody {
    /// Rendered from the version (JSON, CSV, a PDF laid out here).
    Rendered(Vec<u8>),
    /// The uploaded file a `pdf` artifact wraps, streamed from the file
    /// store as it is read.
    Stored {
        /// Its size in bytes.
        size: u64,
        /// The bytes.
        stream: BoxStream<'static, Result<Bytes, StorageError>>,
    },
}

impl std::fmt::Debug for ExportBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportBody::Rendered(bytes) => write!(f, "Rendered({} bytes)", bytes.len()),
            ExportBody::Stored { size, .. } => write!(f, "Stored({size} bytes)"),
        }
    }
}

impl Export {
    /// The whole export in memory (tests and tools).
    pub async fn into_bytes(self) -> Result<Vec<u8>, ServiceError> {
        match self.body {
            ExportBody::Rendered(bytes) => Ok(bytes),
            ExportBody::Stored { stream, .. } => {
                collect(stream).await.map_err(ServiceError::FileStore)
            }
        }
    }
}

/// What a version exports as, before anything is read from the file store.
pub(super) enum Rendering {
    /// Bytes rendered from the version.
    Rendered(Vec<u8>),
    /// A `pdf` artifact's PDF: the uploaded file it wraps, as uploaded.
    Wrapped(FileId),
}

/// The JSON export: the version as stored, with what identifies it.
#[derive(Serialize)]
struct JsonExport<'a> {
    id: ArtifactId,
    kind: ArtifactKind,
    version: i32,
    title: &'a str,
    content: &'a Value,
}

impl ExportFormat {
    /// The media type of an export in this format.
    pub(super) fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Pdf => "application/pdf",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::Pdf => "pdf",
        }
    }
}

/// The export's file name: `<kind>-<id>-v<version>.<ext>`, whatever the
/// names inside it, so it is always safe in a header.
pub(super) fn filename(artifact: &Artifact, version: i32, format: ExportFormat) -> String {
    format!(
        "{}-{}-v{version}.{}",
        artifact.kind,
        artifact.id,
        format.extension()
    )
}

pub(super) fn render(
    artifact: &Artifact,
    version: &ArtifactVersion,
    format: ExportFormat,
) -> Result<Rendering, ServiceError> {
    let bytes = match format {
        ExportFormat::Json => {
            let export = JsonExport {
                id: artifact.id,
                kind: artifact.kind,
                version: version.version,
                title: &version.title,
                content: &version.content,
            };
            serde_json::to_vec_pretty(&export).map_err(|err| {
                ServiceError::Store(xl_store::StoreError::Corrupt(format!(
                    "rendering JSON failed: {err}"
                )))
            })?
        }
        ExportFormat::Csv => csv::render(&typed(artifact, version)?)?,
        ExportFormat::Pdf => match typed(artifact, version)? {
            ArtifactContent::Pdf(wrapped) => return Ok(Rendering::Wrapped(wrapped.file_id)),
            content => pdf::render(artifact, version, &content),
        },
    };
    Ok(Rendering::Rendered(bytes))
}

/// A stored version's content, typed. Stored content was validated when
/// written, so a failure here is a corrupt row (500), not the caller's fault.
fn typed(artifact: &Artifact, version: &ArtifactVersion) -> Result<ArtifactContent, ServiceError> {
    ArtifactContent::parse(artifact.kind, &version.content).map_err(|err| {
        ServiceError::Store(xl_store::StoreError::Corrupt(format!(
            "artifact {} version {} does not parse: {err}",
            artifact.id, version.version
        )))
    })
}
