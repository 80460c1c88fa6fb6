//! Files: their metadata, the rules for names and types, and what a preview
//! shows. The bytes live in the file store; these types never hold them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DomainError, FileId, MessageId, OrgId, ThreadId, UserId};

/// The longest file name kept, in bytes (what most file systems allow).
pub const MAX_FILENAME_BYTES: usize = 255;

/// An uploaded file as the API shows it. A deleted file attached to a
/// message stays as a tombstone: `deleted_at` is set and its bytes are gone.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FileInfo {
    /// The file.
    pub id: FileId,
    /// Its org.
    pub org_id: OrgId,
    /// Who uploaded it (`None` once that user is deleted).
    pub user_id: Option<UserId>,
    /// The thread it was first attached in, if any.
    pub thread_id: Option<ThreadId>,
    /// The sanitised name.
    pub filename: String,
    /// The type sniffed from the content.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Whether a cached preview exists.
    pub has_preview: bool,
    /// The uploader's metadata (a JSON object).
    pub metadata: Option<Value>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// When it was deleted (a tombstone).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A change to a file's name or metadata (`PUT /files/{id}`).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileUpdate {
    /// A new name, sanitised like an upload's.
    pub filename: Option<String>,
    /// New metadata (a JSON object; replaces the old).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

impl FileUpdate {
    /// Checks the change: a name that sanitises to something, metadata
    /// that is a bounded object (400 naming the field).
    pub fn check(&self) -> Result<(), DomainError> {
        if let Some(name) = &self.filename
            && sanitize_filename(name).is_none()
        {
            return Err(DomainError::invalid(
                "filename",
                "must contain a usable name",
            ));
        }
        if let Some(metadata) = &self.metadata {
            crate::threads::validate_metadata("metadata", metadata)?;
        }
        Ok(())
    }
}

/// Filters of `GET /files`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFilter {
    /// Only files attached in this thread.
    pub thread: Option<ThreadId>,
    /// Only files of this type: a full type (`image/png`) or a family (`image`).
    pub content_type: Option<String>,
}

/// What the content of a file is, by the sniffed type, for previews.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// PNG, JPEG, WebP or GIF.
    Image,
    /// Plain text, Markdown, CSV, JSON.
    Text,
    /// A PDF document.
    Pdf,
}

impl FileKind {
    /// The kind of an allowed content type.
    pub fn of(content_type: &str) -> Option<FileKind> {
        match content_type {
            "image/png" | "image/jpeg" | "image/webp" | "image/gif" => Some(FileKind::Image),
            "application/pdf" => Some(FileKind::Pdf),
            "text/plain" | "text/markdown" | "text/csv" | "application/json" => {
                Some(FileKind::Text)
            }
            _ => None,
        }
    }
}

/// The preview of a file that is not an image (an image's preview is a
/// thumbnail, served as an image).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Preview {
    /// The first lines of a text file.
    Text {
        /// The lines, without their line breaks.
        lines: Vec<String>,
        /// Whether the file goes on past them.
        truncated: bool,
    },
    /// A PDF's page count and the text of its first page.
    Pdf {
        /// Number of pages.
        pages: u32,
        /// Text of the first page, cut to a bounded length.
        first_page_text: String,
    },
}

/// The type of text content, chosen by the name's extension once the
/// content is known to be UTF-8 text (text has no magic number).
pub fn text_type(filename: &str) -> &'static str {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        _ => "text/plain",
    }
}

/// Makes a client's file name safe to store and to send back in
/// `Content-Disposition`: only the last path component (either slash), no
/// control characters, no leading dots (no `..`, no hidden files), no
/// trailing dots or spaces, at most [`MAX_FILENAME_BYTES`] bytes (cut on a
/// character boundary, the extension kept). `None` when nothing usable is
/// left.
pub fn sanitize_filename(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ':' | '*' | '?' | '<' | '>' | '|'))
        .collect();
    let name = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .trim();
    if name.is_empty() {
        return None;
    }
    if name.len() <= MAX_FILENAME_BYTES {
        return Some(name.to_owned());
    }
    // Keep a short extension, cut the stem.
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 16 => (stem, Some(ext)),
        _ => (name, None),
    };
    let room = MAX_FILENAME_BYTES - extension.map_or(0, |ext| ext.len() + 1);
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = stem[..cut].trim_end();
    Some(match extension {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_owned(),
    })
}

/// The event payload of a file attached to a message.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Attached<'a> {
    /// The file.
    pub file: &'a FileInfo,
    /// The message it was attached to.
    pub message_id: MessageId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_control_characters_are_removed() {
        assert_eq!(
            sanitize_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename("..\\..\\boot.ini").as_deref(),
            Some("boot.ini")
        );
        assert_eq!(
            sanitize_filename("a\u{0}b\r\n.txt").as_deref(),
            Some("ab.txt")
        );
        assert_eq!(sanitize_filename("..").as_deref(), None);
        assert_eq!(sanitize_filename("/").as_deref(), None);
        assert_eq!(sanitize_filename(".hidden").as_deref(), Some("hidden"));
        assert_eq!(
            sanitize_filename("say \"hi\".txt").as_deref(),
            Some("say hi.txt")
        );
        assert_eq!(
            sanitize_filename("rapport é.pdf").as_deref(),
            Some("rapport é.pdf")
        );
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(300));
        let name = sanitize_filename(&long).unwrap();
        assert!(name.len() <= MAX_FILENAME_BYTES, "{}", name.len());
        assert!(name.ends_with(".pdf"));
    }

    #[test]
    fn text_types_follow_the_extension() {
        assert_eq!(text_type("notes.MD"), "text/markdown");
        assert_eq!(text_type("data.csv"), "text/csv");
        assert_eq!(text_type("x.json"), "application/json");
        assert_eq!(text_type("README"), "text/plain");
    }
}
