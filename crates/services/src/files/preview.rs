//! Previews, made from bounded input with bounded memory: image thumbnails
//! (decoded under `image`'s limits, so a decompression bomb is refused
//! before it is inflated), the first lines of text, a PDF's page count and
//! first-page text. Each returns why it cannot, never panics the caller.

use std::io::Cursor;

use xl_domain::files::Preview;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// The largest image or PDF read to make a preview.
pub const MAX_SOURCE_BYTES: u64 = 32 * 1024 * 1024;
/// The most of a text file read for its first lines.
pub const TEXT_HEAD_BYTES: u64 = 64 * 1024;
/// How many lines a text preview shows.
pub const TEXT_LINES: usize = 20;
/// Longest first-page text of a PDF preview, in characters.
pub const PDF_TEXT_CHARS: usize = 2_000;

/// Largest image decoded: wider or taller is refused unread.
const MAX_SIDE: u32 = 8_192;
/// Most memory the decoder may allocate.
const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
/// Most a PDF's content streams may inflate to while their text is read.
const MAX_PDF_INFLATE: usize = 16 * 1024 * 1024;

/// A PNG thumbnail of an image at most [`THUMBNAIL_SIDE`] on its longest side.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|err| format!("the image cannot be read: {err}"))?;
    reader.limits(limits);
    let image = reader.decode().map_err(|err| match err {
        image::ImageError::Limits(_) => {
            format!("the image is too large to preview (at most {MAX_SIDE}×{MAX_SIDE} pixels)")
        }
        other => format!("the image is corrupt: {other}"),
    })?;
    let small = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let mut out = Cursor::new(Vec::new());
    small
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|err| format!("the thumbnail cannot be written: {err}"))?;
    Ok(out.into_inner())
}

/// The first lines of text whose first bytes are `head` (`complete` when
/// that is the whole file).
pub fn text(head: &[u8], complete: bool) -> Preview {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Cut at the last whole character (the head may end mid-character).
        Err(err) => std::str::from_utf8(&head[..err.valid_up_to()]).unwrap_or_default(),
    };
    let mut lines: Vec<String> = valid
        .lines()
        .take(TEXT_LINES + 1)
        .map(str::to_owned)
        .collect();
    let more_lines = lines.len() > TEXT_LINES;
    lines.truncate(TEXT_LINES);
    // A last line cut by the end of the head is still shown, marked as cut.
    Preview::Text {
        lines,
        truncated: more_lines || !complete,
    }
}

/// A PDF's page count and the text of its first page.
pub fn pdf(bytes: &[u8]) -> Result<Preview, String> {
    let document =
        lopdf::Document::load_mem(bytes).map_err(|err| format!("the PDF is corrupt: {err}"))?;
    let pages = u32::try_from(document.get_pages().len()).unwrap_or(u32::MAX);
    let first_page_text = if pages == 0 {
        String::new()
    } else {
        document
            .extract_text_with_limit(&[1], MAX_PDF_INFLATE)
            .map(|text| text.trim().chars().take(PDF_TEXT_CHARS).collect())
            .unwrap_or_default()
    };
    Ok(Preview::Pdf {
        pages,
        first_page_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 10, 10]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn thumbnails_are_bounded() {
        let thumb = thumbnail(&png(1000, 500)).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
    }

    #[test]
    fn a_bomb_and_a_corrupt_image_are_refused() {
        // A PNG header claiming 100000×100000 pixels: refused unread.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let err = thumbnail(&bomb).unwrap_err();
        assert!(
            err.contains("too large") || err.contains("corrupt"),
            "{err}"
        );
        let mut cut = png(64, 64);
        cut.truncate(cut.len() / 2);
        assert!(thumbnail(&cut).is_err());
    }

    #[test]
    fn text_shows_its_first_lines() {
        let body: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        let Preview::Text { lines, truncated } = text(body.as_bytes(), true) else {
            panic!("not text");
        };
        assert_eq!(lines.len(), TEXT_LINES);
        assert_eq!(lines[0], "line 1");
        assert!(truncated);
        let Preview::Text { lines, truncated } = text("a\nb é".as_bytes(), true) else {
            panic!("not text");
        };
        assert_eq!(lines, ["a", "b é"]);
        assert!(!truncated);
    }

    #[test]
    fn garbage_is_not_a_pdf() {
        assert!(pdf(b"%PDF-1.4\nnot really").is_err());
    }
}
