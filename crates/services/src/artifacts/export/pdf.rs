//! The PDF export: an A4 document with the artifact's title, its kind and
//! version, then its content laid out as headings, paragraphs and ruled
//! tables, on pages numbered "n of N".
//!
//! Written with `pdf-writer` on two of the fourteen fonts every PDF reader
//! has (Helvetica and Helvetica-Bold), so nothing is read from disk or
//! embedded. Those fonts cover WinAnsi (Latin-1 and a few more); any other
//! character is shown as `?`. Lines are broken with the fonts' published
//! glyph widths. The document has no dates of its own (the version's date
//! is part of the content) and its file id is derived from the artifact's
//! id and version, so a version always renders to the same bytes.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use serde_json::Value;
use sha2::{Digest, Sha256};
use xl_domain::artifacts::{
    Artifact, ArtifactContent, ArtifactVersion, Chart, Dashboard, Insight, Reference, Report,
    Widget,
};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// The lowest a line of body text may sit; the footer goes below.
const BOTTOM: f32 = MARGIN + 14.0;
const BODY_SIZE: f32 = 10.5;
const TABLE_SIZE: f32 = 9.0;
const CELL_PAD: f32 = 4.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.35;
/// Characters of one table cell shown before it is cut.
const CELL_CHARS: usize = 600;

/// The widths of the printable ASCII characters (32–126) in thousandths of
/// the font size, from Adobe's metrics of the standard fonts.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];
/// The width assumed for a character outside ASCII.
const OTHER_WIDTH: u16 = 600;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    /// The width of `text` at `size` points.
    fn width(self, text: &str, size: f32) -> f32 {
        let table = match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        };
        let units: u32 = text
            .chars()
            .map(|c| {
                let code = c as usize;
                let width = if (32..=126).contains(&code) {
                    table.get(code - 32).copied().unwrap_or(OTHER_WIDTH)
                } else {
                    OTHER_WIDTH
                };
                u32::from(width)
            })
            .sum();
        units as f32 * size / 1000.0
    }
}

/// `text` in WinAnsiEncoding, the standard fonts' encoding; a character it
/// lacks becomes `?`, a control character a space.
fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '™' => 0x99,
            c if c.is_control() => b' ',
            _ => b'?',
        })
        .collect()
}

/// Breaks `text` into lines at most `width` wide (a word wider than a line
/// is broken between characters); line breaks in the text are kept.
fn wrap(text: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if font.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it if it is still too wide.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if font.width(&next, size) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Pages being filled from the top down.
struct Layout {
    done: Vec<Content>,
    page: Content,
    /// The baseline of the next line.
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Layout {
            done: Vec::new(),
            page: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn new_page(&mut self) {
        let page = std::mem::replace(&mut self.page, Content::new());
        self.done.push(page);
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Starts a new page unless `height` more fits on this one.
    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    fn space(&mut self, points: f32) {
        self.y -= points;
    }

    fn show(&mut self, x: f32, y: f32, font: Font, size: f32, gray: f32, text: &str) {
        let bytes = encode(text);
        self.page
            .set_fill_gray(gray)
            .begin_text()
            .set_font(font.name(), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// Wrapped text, starting a new page wherever a line would not fit.
    fn paragraph(&mut self, text: &str, font: Font, size: f32, gray: f32, indent: f32) {
        let height = size * LEADING;
        for line in wrap(text, font, size, CONTENT_WIDTH - indent) {
            self.ensure(height);
            self.y -= height;
            self.show(MARGIN + indent, self.y, font, size, gray, &line);
        }
        self.space(size * 0.5);
    }

    fn heading(&mut self, text: &str, size: f32) {
        // A heading is not left alone at the bottom of a page.
        self.ensure(size * LEADING * 3.0);
        self.space(size * 0.4);
        self.paragraph(text, Font::Bold, size, 0.0, 0.0);
    }

    /// A ruled table with a shaded header row, repeated on every page it
    /// spans. Columns get widths in proportion to their longest text.
    fn table(&mut self, columns: &[String], rows: &[Vec<String>]) {
        if columns.is_empty() {
            return;
        }
        let weights: Vec<f32> = (0..columns.len())
            .map(|i| {
                let longest = rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .chain(columns.get(i))
                    .map(|text| text.chars().count().min(40))
                    .max()
                    .unwrap_or(1);
                longest.max(3) as f32
            })
            .collect();
        let total: f32 = weights.iter().sum();
        let widths: Vec<f32> = weights.iter().map(|w| CONTENT_WIDTH * w / total).collect();
        let line = TABLE_SIZE * LEADING;
        // A row never holds more lines than fit on an empty page.
        let max_lines = (((PAGE_HEIGHT - MARGIN - BOTTOM) / line) as usize)
            .saturating_sub(6)
            .max(1);
        self.space(4.0);
        self.table_row(columns, &widths, Font::Bold, max_lines, true);
        for row in rows {
            let height = self.row_height(row, &widths, Font::Regular, max_lines);
            if self.y - height < BOTTOM {
                self.new_page();
                self.table_row(columns, &widths, Font::Bold, max_lines, true);
            }
            self.table_row(row, &widths, Font::Regular, max_lines, false);
        }
        self.space(BODY_SIZE);
    }

    fn cell_lines(text: &str, font: Font, width: f32, max_lines: usize) -> Vec<String> {
        let text: String = text.chars().take(CELL_CHARS).collect();
        let mut lines = wrap(&text, font, TABLE_SIZE, width - 2.0 * CELL_PAD);
        if lines.len() > max_lines {
            lines.truncate(max_lines);
            if let Some(last) = lines.last_mut() {
                last.push('…');
            }
        }
        lines
    }

    fn row_height(&self, cells: &[String], widths: &[f32], font: Font, max_lines: usize) -> f32 {
        let lines = cells
            .iter()
            .zip(widths)
            .map(|(text, width)| Self::cell_lines(text, font, *width, max_lines).len())
            .max()
            .unwrap_or(1)
            .max(1);
        lines as f32 * TABLE_SIZE * LEADING + 2.0 * CELL_PAD
    }

    fn table_row(
        &mut self,
        cells: &[String],
        widths: &[f32],
        font: Font,
        max_lines: usize,
        header: bool,
    ) {
        let height = self.row_height(cells, widths, font, max_lines);
        self.ensure(height);
        let top = self.y;
        let bottom = top - height;
        let mut x = MARGIN;
        for (i, width) in widths.iter().enumerate() {
            if header {
                self.page
                    .set_fill_gray(0.9)
                    .rect(x, bottom, *width, height)
                    .fill_nonzero();
            }
            self.page
                .set_stroke_gray(0.6)
                .set_line_width(0.5)
                .rect(x, bottom, *width, height)
                .stroke();
            let text = cells.get(i).map(String::as_str).unwrap_or_default();
            let mut baseline = top - CELL_PAD - TABLE_SIZE;
            for line in Self::cell_lines(text, font, *width, max_lines) {
                self.show(x + CELL_PAD, baseline, font, TABLE_SIZE, 0.0, &line);
                baseline -= TABLE_SIZE * LEADING;
            }
            x += width;
        }
        self.y = bottom;
    }

    /// The pages, each with its number.
    fn finish(mut self) -> Vec<Content> {
        self.new_page();
        let total = self.done.len();
        let mut pages = std::mem::take(&mut self.done);
        for (i, page) in pages.iter_mut().enumerate() {
            let label = format!("Page {} of {total}", i + 1);
            let x = PAGE_WIDTH - MARGIN - Font::Regular.width(&label, 8.0);
            let bytes = encode(&label);
            page.set_fill_gray(0.4)
                .begin_text()
                .set_font(Font::Regular.name(), 8.0)
                .next_line(x, MARGIN - 20.0)
                .show(Str(&bytes))
                .end_text();
        }
        pages
    }
}

/// A scalar as text (strings as they are, null as nothing).
fn scalar(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Markdown as plain text: heading marks and emphasis dropped, list items
/// shown with bullets.
fn plain_markdown(markdown: &str) -> String {
    markdown
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let line = if let Some(rest) = trimmed
                .strip_prefix("- ")
                .or_else(|| trimmed.strip_prefix("* "))
            {
                format!("• {rest}")
            } else {
                trimmed.trim_start_matches('#').trim_start().to_owned()
            };
            line.replace("**", "").replace("__", "").replace('`', "")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `text` string inside a Block Kit value, in order.
fn block_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (key, inner) in obj {
                match inner {
                    Value::String(text) if key == "text" => out.push(text.clone()),
                    _ => block_texts(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| block_texts(item, out)),
        _ => {}
    }
}

fn blocks(layout: &mut Layout, blocks: &Value) {
    for block in blocks.as_array().into_iter().flatten() {
        if block.get("type").and_then(Value::as_str) == Some("table") {
            let rows: Vec<Vec<String>> = block
                .get("rows")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|row| {
                    row.as_array()
                        .into_iter()
                        .flatten()
                        .map(|cell| {
                            let mut texts = Vec::new();
                            block_texts(cell, &mut texts);
                            texts.join(" ")
                        })
                        .collect()
                })
                .collect();
            if let Some((head, body)) = rows.split_first() {
                layout.table(head, body);
            }
            continue;
        }
        let mut texts = Vec::new();
        block_texts(block, &mut texts);
        if !texts.is_empty() {
            layout.paragraph(
                &plain_markdown(&texts.join("\n")),
                Font::Regular,
                BODY_SIZE,
                0.0,
                0.0,
            );
        }
    }
}

fn insight(layout: &mut Layout, insight: &Insight) {
    layout.heading("Summary", 14.0);
    layout.paragraph(&insight.summary, Font::Regular, BODY_SIZE, 0.0, 0.0);
    let confidence = format!("Confidence: {:.0}%", insight.confidence * 100.0);
    layout.paragraph(&confidence, Font::Bold, BODY_SIZE, 0.2, 0.0);
    if insight.findings.is_empty() {
        return;
    }
    layout.heading("Findings", 14.0);
    let with_evidence = insight.findings.iter().any(|f| f.evidence.is_some());
    let mut columns = vec!["#".to_owned(), "Finding".to_owned()];
    if with_evidence {
        columns.push("Evidence".to_owned());
    }
    let rows: Vec<Vec<String>> = insight
        .findings
        .iter()
        .enumerate()
        .map(|(i, finding)| {
            let mut row = vec![(i + 1).to_string(), finding.text.clone()];
            if with_evidence {
                row.push(finding.evidence.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    layout.table(&columns, &rows);
}

fn report(layout: &mut Layout, report: &Report) {
    for section in &report.sections {
        layout.heading(&section.heading, 14.0);
        if !section.body_markdown.trim().is_empty() {
            layout.paragraph(
                &plain_markdown(&section.body_markdown),
                Font::Regular,
                BODY_SIZE,
                0.0,
                0.0,
            );
        }
        if let Some(value) = &section.blocks {
            blocks(layout, value);
        }
    }
}

fn chart(layout: &mut Layout, chart: &Chart) {
    layout.paragraph(
        &format!("{} chart", chart.chart),
        Font::Regular,
        9.0,
        0.4,
        0.0,
    );
    let mut columns = vec![String::new()];
    columns.extend(chart.series.iter().map(|s| s.name.clone()));
    let rows: Vec<Vec<String>> = chart
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mut row = vec![label.clone()];
            row.extend(chart.series.iter().map(|s| {
                s.values
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            }));
            row
        })
        .collect();
    layout.table(&columns, &rows);
}

fn dashboard(layout: &mut Layout, dashboard: &Dashboard) {
    for widget in &dashboard.widgets {
        layout.heading(widget.title(), 13.0);
        match widget {
            Widget::Metric { data, .. } => {
                let mut text = scalar(&data.value);
                if let Some(unit) = &data.unit {
                    text = format!("{text} {unit}");
                }
                layout.paragraph(&text, Font::Bold, 18.0, 0.0, 0.0);
                if let Some(delta) = data.delta {
                    let sign = if delta > 0.0 { "+" } else { "" };
                    layout.paragraph(
                        &format!("change: {sign}{delta}"),
                        Font::Regular,
                        9.0,
                        0.4,
                        0.0,
                    );
                }
            }
            Widget::Table { data, .. } => {
                let rows: Vec<Vec<String>> = data
                    .rows
                    .iter()
                    .map(|row| row.iter().map(scalar).collect())
                    .collect();
                layout.table(&data.columns, &rows);
            }
            Widget::Chart { data, .. } => chart(layout, data),
        }
    }
}

fn reference(layout: &mut Layout, reference: &Reference) {
    layout.heading(&reference.title, 14.0);
    layout.paragraph(&reference.url, Font::Regular, BODY_SIZE, 0.2, 0.0);
    if let Some(excerpt) = &reference.excerpt {
        layout.paragraph(excerpt, Font::Regular, BODY_SIZE, 0.15, 18.0);
    }
}

/// Renders the document.
pub(super) fn render(
    artifact: &Artifact,
    version: &ArtifactVersion,
    content: &ArtifactContent,
) -> Vec<u8> {
    let mut layout = Layout::new();
    layout.paragraph(&version.title, Font::Bold, 20.0, 0.0, 0.0);
    let kind = artifact.kind.as_str();
    let mut kind_label: String = kind.chars().take(1).flat_map(char::to_uppercase).collect();
    kind_label.push_str(kind.get(1..).unwrap_or_default());
    let subtitle = format!(
        "{kind_label} · version {} · {}",
        version.version,
        version.created_at.format("%Y-%m-%d")
    );
    layout.paragraph(&subtitle, Font::Regular, 9.5, 0.4, 0.0);
    if let Some(description) = &artifact.description
        && !description.trim().is_empty()
    {
        layout.paragraph(description, Font::Regular, BODY_SIZE, 0.25, 0.0);
    }
    layout.space(6.0);
    match content {
        ArtifactContent::Insight(content) => insight(&mut layout, content),
        ArtifactContent::Report(content) => report(&mut layout, content),
        ArtifactContent::Dashboard(content) => dashboard(&mut layout, content),
        ArtifactContent::Reference(content) => reference(&mut layout, content),
        // A `pdf` artifact exports as the file it wraps (see `render` in
        // `export`), so there is nothing of its own to lay out.
        ArtifactContent::Pdf(_) => {}
    }
    write(&version.title, artifact, version, layout.finish())
}

/// Writes the pages as a PDF file. Object numbers are handed out in order
/// from one counter, so none is used twice.
fn write(
    title: &str,
    artifact: &Artifact,
    version: &ArtifactVersion,
    pages: Vec<Content>,
) -> Vec<u8> {
    let mut next = 0;
    let mut alloc = || {
        next += 1;
        Ref::new(next)
    };
    let catalog = alloc();
    let tree = alloc();
    let regular = alloc();
    let bold = alloc();
    let info = alloc();
    let ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(ids.len()).unwrap_or(i32::MAX));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Experience Layer"));
    for ((page_id, content_id), content) in ids.iter().zip(pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Font::Regular.name(), regular);
        fonts.pair(Font::Bold.name(), bold);
        fonts.finish();
        resources.finish();
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    // The file id a reader uses to tell documents apart: the same for the
    // same version, different for any other.
    let digest = Sha256::digest(format!("{}:{}", artifact.id, version.version));
    let id = digest.get(..16).unwrap_or_default().to_vec();
    pdf.set_file_id((id.clone(), id));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fit_their_width_and_keep_every_word() {
        let text = "The quick brown fox jumps over the lazy dog ".repeat(20);
        let lines = wrap(&text, Font::Regular, 10.0, 200.0);
        assert!(lines.len() > 5);
        for line in &lines {
            assert!(Font::Regular.width(line, 10.0) <= 200.0, "{line}");
        }
        assert_eq!(
            lines.join(" ").split_whitespace().count(),
            text.split_whitespace().count()
        );
        let long = wrap(&"x".repeat(500), Font::Bold, 10.0, 100.0);
        assert!(long.len() > 1);
    }

    #[test]
    fn text_is_encoded_for_the_standard_fonts() {
        assert_eq!(encode("Café €5 — ok"), b"Caf\xe9 \x805 \x97 ok".to_vec());
        assert_eq!(encode("日本\u{7}"), b"?? ".to_vec());
    }
}
