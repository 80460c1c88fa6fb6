//! What a file is, judged by its first bytes, never by the name or the
//! type the client sent: a recognised binary type must be on the allow-list,
//! and anything else must be UTF-8 text (whose flavour the name tells).

use xl_domain::files::text_type;

/// How many leading bytes decide the type.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// The binary types accepted, as `infer` names them.
const ALLOWED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "application/pdf",
];

/// The content type of a file whose content starts with `head`
/// (`complete` when `head` is the whole file), or why it is refused.
pub fn sniff(head: &[u8], complete: bool, filename: &str) -> Result<&'static str, String> {
    if let Some(kind) = infer::get(head) {
        let mime = kind.mime_type();
        return ALLOWED
            .iter()
            .find(|allowed| **allowed == mime)
            .copied()
            .ok_or_else(|| format!("files of type {mime} are not accepted"));
    }
    if is_text(head, complete) {
        return Ok(text_type(filename));
    }
    Err("the content is not a recognised type (images, PDF, or UTF-8 text)".into())
}

/// UTF-8 without NUL; a sequence cut at the end of a partial head is fine.
fn is_text(head: &[u8], complete: bool) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(err) => !complete && err.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executable_named_like_an_image_is_refused() {
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.resize(64, 0);
        let err = sniff(&elf, true, "cat.png").unwrap_err();
        assert!(err.contains("not accepted"), "{err}");
        let mut pe = b"MZ\x90\x00".to_vec();
        pe.resize(128, 0);
        assert!(sniff(&pe, true, "report.pdf").is_err());
    }

    #[test]
    fn images_pdf_and_text_are_recognised_by_content() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", false, "x.txt"),
            Ok("image/png")
        );
        assert_eq!(sniff(b"%PDF-1.7\n", true, "x"), Ok("application/pdf"));
        assert_eq!(sniff(b"a,b\n1,2\n", true, "t.csv"), Ok("text/csv"));
        assert_eq!(sniff("héllo".as_bytes(), true, "n.md"), Ok("text/markdown"));
        // A character cut by the end of the sniffed head is still text.
        assert_eq!(
            sniff(&"é".as_bytes()[..1], false, "a.txt"),
            Ok("text/plain")
        );
        assert!(sniff(&"é".as_bytes()[..1], true, "a.txt").is_err());
        assert!(sniff(b"\xff\xfe\x00\x01", true, "a.txt").is_err());
    }
}
