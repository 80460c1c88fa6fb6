//! Validates Slack Block Kit `blocks` arrays against Slack's documented limits.
//!
//! Chat messages may carry Block Kit `blocks`. Every problem is reported, keyed by its path
//! (`blocks[3].elements[0].text`), so a caller can fix a payload in one round trip instead of
//! meeting one fault at a time.
//!
//! This is validation over `serde_json::Value`, not a typed model: fields Slack adds or that
//! only matter for rendering (`emoji`, `verbatim`, `dispatch_action_config`, …) pass untouched,
//! because refusing a payload Slack accepts would be worse than missing a rare fault.

mod assistant;
mod check;
mod elements;
mod rich_text;
#[cfg(test)]
mod tests;

use serde_json::Value;

use self::check::{Checker, Need, Object, TextKind, field, index};
use self::elements::{ALT_TEXT_MAX, Place, URL_MAX, element, image};
use crate::DomainError;

pub use self::check::MAX_ERRORS;

/// Blocks one message may carry.
pub const MAX_BLOCKS: usize = 50;

/// Characters allowed in a `block_id`.
const BLOCK_ID_MAX: usize = 255;
/// Characters allowed in a text object unless its field says otherwise.
pub(super) const TEXT_MAX: usize = 3000;

/// The path of the whole array in error reports.
const ROOT: &str = "blocks";

/// A check for one block type, given the block and its path.
type BlockCheck = fn(&mut Checker, &Object, &str);

/// Every block type accepted, with its check.
const BLOCKS: &[(&str, BlockCheck)] = &[
    ("section", section),
    ("header", header),
    ("divider", divider),
    ("context", context),
    ("actions", actions),
    ("input", input),
    ("image", image_block),
    ("rich_text", rich_text::rich_text),
    ("table", table),
    ("markdown", markdown),
    ("file", file),
    ("video", video),
    ("card", assistant::card),
    ("carousel", assistant::carousel),
    ("alert", assistant::alert),
    ("plan", assistant::plan),
    ("task_card", assistant::task_card),
    ("context_actions", assistant::context_actions),
    ("call", assistant::call),
];

/// Checks that `blocks` is a Block Kit `blocks` array Slack would accept.
///
/// Every problem found is reported (up to [`MAX_ERRORS`]) as a
/// [`DomainError::Validation`] keyed by path: `blocks` for the array itself, then
/// `blocks[3].type`, `blocks[3].elements[0].text` and so on.
pub fn validate_blocks(blocks: &Value) -> Result<(), DomainError> {
    let mut c = Checker::default();
    let Some(items) = c.items(blocks, ROOT, 0..=MAX_BLOCKS) else {
        return c.finish(ROOT);
    };
    let mut block_ids: Vec<&str> = Vec::new();
    for (i, value) in items.iter().enumerate() {
        if c.full() {
            break;
        }
        let path = index(ROOT, i);
        block(&mut c, value, &path);
        // Slack refuses a message whose blocks share a `block_id`.
        if let Some(id) = value.get("block_id").and_then(Value::as_str) {
            if block_ids.contains(&id) {
                c.report(field(&path, "block_id"), "must be unique in the message");
            } else {
                block_ids.push(id);
            }
        }
    }
    c.finish(ROOT)
}

/// One block: its type, its `block_id` and then whatever its type requires.
fn block(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    c.string(obj, path, "block_id", Need::Optional, 0..=BLOCK_ID_MAX);
    let Some(ty) = c.string(obj, path, "type", Need::Required, 0..=usize::MAX) else {
        return;
    };
    match BLOCKS.iter().find(|(name, _)| *name == ty) {
        Some((_, check)) => check(c, obj, path),
        None => c.report(field(path, "type"), format!("unknown block type `{ty}`")),
    }
}

/// Text, two-column fields or both, and an optional accessory element.
fn section(c: &mut Checker, obj: &Object, path: &str) {
    c.text(obj, path, "text", Need::Optional, TextKind::Any, TEXT_MAX);
    let fields = c.array(obj, path, "fields", Need::Optional, 0..=10);
    if let Some(fields) = fields {
        let fields_path = field(path, "fields");
        for (i, item) in fields.iter().enumerate() {
            c.text_value(item, &index(&fields_path, i), TextKind::Any, 2000);
        }
    }
    let has_text = obj.get("text").is_some_and(|v| !v.is_null());
    if !has_text && fields.is_none_or(<[Value]>::is_empty) {
        c.report(
            field(path, "text"),
            "is required when `fields` is absent or empty",
        );
    }
    if let Some(accessory) = obj.get("accessory").filter(|v| !v.is_null()) {
        element(c, accessory, &field(path, "accessory"), Place::Section);
    }
}

/// A rule between blocks: nothing to check beyond the common fields.
fn divider(_: &mut Checker, _: &Object, _: &str) {}

fn header(c: &mut Checker, obj: &Object, path: &str) {
    c.text(obj, path, "text", Need::Required, TextKind::Plain, 150);
}

/// Small text and images: text objects or image elements, at most ten.
fn context(c: &mut Checker, obj: &Object, path: &str) {
    let Some(items) = c.array(obj, path, "elements", Need::Required, 1..=10) else {
        return;
    };
    let items_path = field(path, "elements");
    for (i, item) in items.iter().enumerate() {
        let item_path = index(&items_path, i);
        match item.get("type").and_then(Value::as_str) {
            Some("plain_text" | "mrkdwn") => {
                c.text_value(item, &item_path, TextKind::Any, TEXT_MAX)
            }
            _ => element(c, item, &item_path, Place::Context),
        }
    }
}

fn actions(c: &mut Checker, obj: &Object, path: &str) {
    let Some(items) = c.array(obj, path, "elements", Need::Required, 1..=25) else {
        return;
    };
    let items_path = field(path, "elements");
    for (i, item) in items.iter().enumerate() {
        element(c, item, &index(&items_path, i), Place::Actions);
    }
}

/// A labelled input element.
fn input(c: &mut Checker, obj: &Object, path: &str) {
    c.text(obj, path, "label", Need::Required, TextKind::Plain, 2000);
    c.text(obj, path, "hint", Need::Optional, TextKind::Plain, 2000);
    c.boolean(obj, path, "optional", Need::Optional);
    let dispatch = c.boolean(obj, path, "dispatch_action", Need::Optional);
    let Some(inner) = obj.get("element").filter(|v| !v.is_null()) else {
        c.report(field(path, "element"), "is required");
        return;
    };
    element(c, inner, &field(path, "element"), Place::Input);
    // Slack documents this pair as an error: file inputs cannot dispatch actions.
    if dispatch == Some(true) && inner.get("type").and_then(Value::as_str) == Some("file_input") {
        c.report(
            field(path, "dispatch_action"),
            "cannot be true with a file_input element",
        );
    }
}

fn image_block(c: &mut Checker, obj: &Object, path: &str) {
    image(c, obj, path);
    c.text(obj, path, "title", Need::Optional, TextKind::Plain, 2000);
}

/// Rows of raw or rich text cells, with optional per-column settings.
fn table(c: &mut Checker, obj: &Object, path: &str) {
    if let Some(rows) = c.array(obj, path, "rows", Need::Required, 1..=100) {
        let rows_path = field(path, "rows");
        for (r, row) in rows.iter().enumerate() {
            let row_path = index(&rows_path, r);
            let Some(cells) = c.items(row, &row_path, 1..=20) else {
                continue;
            };
            for (i, cell) in cells.iter().enumerate() {
                table_cell(c, cell, &index(&row_path, i));
            }
        }
    }
    let Some(settings) = c.array(obj, path, "column_settings", Need::Optional, 0..=20) else {
        return;
    };
    let settings_path = field(path, "column_settings");
    for (i, setting) in settings.iter().enumerate() {
        // A null leaves that column with Slack's defaults.
        if setting.is_null() {
            continue;
        }
        let setting_path = index(&settings_path, i);
        let Some(setting) = c.object(setting, &setting_path) else {
            continue;
        };
        c.one_of(
            setting,
            &setting_path,
            "align",
            Need::Optional,
            &["left", "center", "right"],
        );
        c.boolean(setting, &setting_path, "is_wrapped", Need::Optional);
    }
}

fn table_cell(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    match c.string(obj, path, "type", Need::Required, 0..=usize::MAX) {
        Some("raw_text") => {
            c.string(obj, path, "text", Need::Required, 0..=usize::MAX);
        }
        Some("rich_text") => rich_text::rich_text(c, obj, path),
        Some(other) => c.report(
            field(path, "type"),
            format!("unknown table cell type `{other}`"),
        ),
        None => {}
    }
}

/// Standard Markdown, as LLM output is most often written.
fn markdown(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "text", Need::Required, 1..=12000);
}

/// A remote file; Slack fills in the rest.
fn file(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "external_id", Need::Required, 0..=usize::MAX);
    c.string(obj, path, "source", Need::Required, 0..=usize::MAX);
}

/// An embedded video: only the fields Slack requires are checked.
fn video(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "alt_text", Need::Required, 0..=ALT_TEXT_MAX);
    c.text(obj, path, "title", Need::Required, TextKind::Plain, 200);
    c.url(obj, path, "thumbnail_url", Need::Required, URL_MAX);
    c.url(obj, path, "video_url", Need::Required, URL_MAX);
    c.text(
        obj,
        path,
        "description",
        Need::Optional,
        TextKind::Plain,
        TEXT_MAX,
    );
}
