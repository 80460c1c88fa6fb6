//! Rich text, checked shallowly: known container types holding arrays of typed objects.
//!
//! The inline elements (text, links, mentions, emoji, dates…) grow with Slack's releases, so only
//! their shape is checked here, never their type names.

use serde_json::Value;

use super::check::{Checker, Need, Object, field, index};
use super::elements::URL_MAX;

/// The containers a rich text object may hold.
const CONTAINERS: &[&str] = &[
    "rich_text_section",
    "rich_text_list",
    "rich_text_preformatted",
    "rich_text_quote",
];

/// The `elements` of a rich text object (a block, a table cell or an input's initial value).
pub(super) fn rich_text(c: &mut Checker, obj: &Object, path: &str) {
    let Some(items) = c.array(obj, path, "elements", Need::Required, 0..=usize::MAX) else {
        return;
    };
    let items_path = field(path, "elements");
    for (i, item) in items.iter().enumerate() {
        container(c, item, &index(&items_path, i));
    }
}

/// One container and, one level down, that its children are typed objects.
fn container(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    let Some(ty) = c.string(obj, path, "type", Need::Required, 0..=usize::MAX) else {
        return;
    };
    if !CONTAINERS.contains(&ty) {
        c.report(
            field(path, "type"),
            format!("unknown rich text element type `{ty}`"),
        );
        return;
    }
    let is_list = ty == "rich_text_list";
    if is_list {
        c.one_of(obj, path, "style", Need::Optional, &["bullet", "ordered"]);
    }
    let Some(children) = c.array(obj, path, "elements", Need::Required, 0..=usize::MAX) else {
        return;
    };
    let children_path = field(path, "elements");
    for (i, child) in children.iter().enumerate() {
        let child_path = index(&children_path, i);
        let Some(child) = c.object(child, &child_path) else {
            continue;
        };
        let child_type = c.string(child, &child_path, "type", Need::Required, 0..=usize::MAX);
        links(c, child, &child_path, child_type);
        // A list holds one section per item; anything else in it is a mistake.
        if is_list && child_type.is_some_and(|t| t != "rich_text_section") {
            c.report(
                field(&child_path, "type"),
                "list items must be rich_text_section",
            );
        }
    }
}

/// A `link` element's `url` must be http(s); a list item's own links (one
/// level further down) are checked the same way.
fn links(c: &mut Checker, obj: &Object, path: &str, ty: Option<&str>) {
    match ty {
        Some("link") => c.url(obj, path, "url", Need::Required, URL_MAX),
        Some("rich_text_section") => {
            let Some(items) = obj.get("elements").and_then(Value::as_array) else {
                return;
            };
            let items_path = field(path, "elements");
            for (i, item) in items.iter().enumerate() {
                if let Some(item) = item.as_object()
                    && item.get("type").and_then(Value::as_str) == Some("link")
                {
                    c.url(item, &index(&items_path, i), "url", Need::Required, URL_MAX);
                }
            }
        }
        _ => {}
    }
}
