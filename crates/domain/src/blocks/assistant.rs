//! The blocks Slack added for apps and AI assistants, with the fields and
//! limits of python-slack-sdk's model classes (`slack_sdk/models/blocks`):
//! `card` and `carousel`, `alert`, `plan` and `task_card`,
//! `context_actions`, and `call`.

use serde_json::Value;

use super::check::{Checker, Need, Object, TextKind, field, index};
use super::elements::{Place, URL_MAX, element, image};
use super::{TEXT_MAX, rich_text};

/// Characters allowed in a card's title and subtitle, and in its body.
const CARD_TITLE_MAX: usize = 150;
const CARD_BODY_MAX: usize = 200;
/// Cards a carousel holds.
const CAROUSEL_MAX: usize = 10;
/// Elements a context_actions block holds.
const CONTEXT_ACTIONS_MAX: usize = 5;
/// Buttons a card shows (Slack's bound on an actions block).
const CARD_ACTIONS_MAX: usize = 25;
/// The states of a task.
const TASK_STATUSES: &[&str] = &["pending", "in_progress", "complete", "error"];
/// The levels of an alert.
const ALERT_LEVELS: &[&str] = &["default", "info", "warning", "error", "success"];

/// An image, a title, a subtitle, a body and buttons: at least one of the
/// image, the title, the body or the buttons.
pub(super) fn card(c: &mut Checker, obj: &Object, path: &str) {
    for key in ["hero_image", "icon"] {
        if let Some(value) = obj.get(key).filter(|v| !v.is_null())
            && let Some(img) = c.object(value, &field(path, key))
        {
            image(c, img, &field(path, key));
        }
    }
    c.text(
        obj,
        path,
        "title",
        Need::Optional,
        TextKind::Any,
        CARD_TITLE_MAX,
    );
    c.text(
        obj,
        path,
        "subtitle",
        Need::Optional,
        TextKind::Any,
        CARD_TITLE_MAX,
    );
    c.text(
        obj,
        path,
        "body",
        Need::Optional,
        TextKind::Any,
        CARD_BODY_MAX,
    );
    if let Some(actions) = c.array(obj, path, "actions", Need::Optional, 0..=CARD_ACTIONS_MAX) {
        let actions_path = field(path, "actions");
        for (i, action) in actions.iter().enumerate() {
            element(c, action, &index(&actions_path, i), Place::Card);
        }
    }
    let present = |key| obj.get(key).is_some_and(|v: &Value| !v.is_null());
    if !["hero_image", "title", "body", "actions"]
        .into_iter()
        .any(present)
    {
        c.report(
            field(path, "title"),
            "a card needs a hero_image, a title, a body or actions",
        );
    }
}

/// One to ten cards, scrolled sideways.
pub(super) fn carousel(c: &mut Checker, obj: &Object, path: &str) {
    let Some(cards) = c.array(obj, path, "elements", Need::Required, 1..=CAROUSEL_MAX) else {
        return;
    };
    let cards_path = field(path, "elements");
    for (i, item) in cards.iter().enumerate() {
        let item_path = index(&cards_path, i);
        let Some(card_obj) = c.object(item, &item_path) else {
            continue;
        };
        match card_obj.get("type").and_then(Value::as_str) {
            Some("card") => card(c, card_obj, &item_path),
            _ => c.report(field(&item_path, "type"), "must be card"),
        }
    }
}

/// A message in plain text or mrkdwn, at a level.
pub(super) fn alert(c: &mut Checker, obj: &Object, path: &str) {
    c.text(obj, path, "text", Need::Required, TextKind::Any, TEXT_MAX);
    c.one_of(obj, path, "level", Need::Optional, ALERT_LEVELS);
}

/// One task: an id, a title, its status, details and output as rich
/// text, and the sources it used.
pub(super) fn task_card(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "task_id", Need::Required, 1..=usize::MAX);
    c.string(obj, path, "title", Need::Required, 1..=usize::MAX);
    c.one_of(obj, path, "status", Need::Required, TASK_STATUSES);
    for key in ["details", "output"] {
        let Some(value) = obj.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let key_path = field(path, key);
        let Some(text) = c.object(value, &key_path) else {
            continue;
        };
        match text.get("type").and_then(Value::as_str) {
            Some("rich_text") => rich_text::rich_text(c, text, &key_path),
            _ => c.report(field(&key_path, "type"), "must be rich_text"),
        }
    }
    if let Some(sources) = c.array(obj, path, "sources", Need::Optional, 0..=usize::MAX) {
        let sources_path = field(path, "sources");
        for (i, source) in sources.iter().enumerate() {
            let source_path = index(&sources_path, i);
            let Some(source) = c.object(source, &source_path) else {
                continue;
            };
            c.one_of(source, &source_path, "type", Need::Required, &["url"]);
            c.url(source, &source_path, "url", Need::Required, URL_MAX);
            c.string(source, &source_path, "text", Need::Required, 1..=usize::MAX);
        }
    }
}

/// A titled collection of task cards.
pub(super) fn plan(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "title", Need::Required, 1..=usize::MAX);
    let Some(tasks) = c.array(obj, path, "tasks", Need::Optional, 0..=usize::MAX) else {
        return;
    };
    let tasks_path = field(path, "tasks");
    for (i, task) in tasks.iter().enumerate() {
        let task_path = index(&tasks_path, i);
        let Some(task_obj) = c.object(task, &task_path) else {
            continue;
        };
        match task_obj.get("type").and_then(Value::as_str) {
            Some("task_card") => task_card(c, task_obj, &task_path),
            _ => c.report(field(&task_path, "type"), "must be task_card"),
        }
    }
}

/// Feedback buttons and icon buttons shown as context, one to five.
pub(super) fn context_actions(c: &mut Checker, obj: &Object, path: &str) {
    let Some(items) = c.array(
        obj,
        path,
        "elements",
        Need::Required,
        1..=CONTEXT_ACTIONS_MAX,
    ) else {
        return;
    };
    let items_path = field(path, "elements");
    for (i, item) in items.iter().enumerate() {
        element(c, item, &index(&items_path, i), Place::ContextActions);
    }
}

/// A call, by its id.
pub(super) fn call(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "call_id", Need::Required, 1..=usize::MAX);
    c.boolean(obj, path, "api_decoration_available", Need::Optional);
    if let Some(details) = obj.get("call").filter(|v| !v.is_null()) {
        c.object(details, &field(path, "call"));
    }
}
