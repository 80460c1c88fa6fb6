//! Renders one version of an artifact as JSON (as stored), CSV (its
//! tabular parts) or PDF (a readable document). Every rendering is a pure
//! function of the version, so the same version exports to the same bytes.
//!
//! - `csv`: what each kind exports as rows.
//! - `pdf`: the layout, on the PDF's built-in fonts.

mod csv;
mod pdf;

use serde::Serialize;
use serde_json::Value;
use xl_domain::artifacts::{Artifact, ArtifactContent, ArtifactVersion};
use xl_domain::{ArtifactId, ArtifactKind};

use super::ExportFormat;
use crate::ServiceError;

/// A rendered export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their media type.
    pub content_type: &'static str,
    /// A safe file name: `<kind>-<id>-v<version>.<ext>`.
    pub filename: String,
    /// The version rendered.
    pub version: i32,
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

pub(super) fn render(
    artifact: &Artifact,
    version: &ArtifactVersion,
    format: ExportFormat,
) -> Result<Export, ServiceError> {
    let (bytes, content_type, ext) = match format {
        ExportFormat::Json => {
            let export = JsonExport {
                id: artifact.id,
                kind: artifact.kind,
                version: version.version,
                title: &version.title,
                content: &version.content,
            };
            let bytes = serde_json::to_vec_pretty(&export).map_err(|err| {
                ServiceError::Store(xl_store::StoreError::Corrupt(format!(
                    "rendering JSON failed: {err}"
                )))
            })?;
            (bytes, "application/json", "json")
        }
        ExportFormat::Csv => (
            csv::render(&typed(artifact, version)?)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        ExportFormat::Pdf => (
            pdf::render(artifact, version, &typed(artifact, version)?),
            "application/pdf",
            "pdf",
        ),
    };
    Ok(Export {
        bytes,
        content_type,
        filename: format!(
            "{}-{}-v{}.{ext}",
            artifact.kind, artifact.id, version.version
        ),
        version: version.version,
    })
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
