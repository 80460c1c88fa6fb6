//! Block elements (buttons, menus, pickers, inputs, images) and the option and confirm objects they hold.

use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;

use super::check::{Checker, Need, Object, TextKind, field, index};
use super::rich_text;

/// Where an element sits; Slack allows each element type in some places only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    /// An item of an actions block's `elements`.
    Actions,
    /// A section block's `accessory`.
    Section,
    /// An input block's `element`.
    Input,
    /// An item of a context block's `elements` (text objects are handled by the block).
    Context,
    /// An item of a context_actions block's `elements`.
    ContextActions,
    /// An item of a card block's `actions`.
    Card,
}

impl Place {
    fn bit(self) -> u8 {
        match self {
            Place::Actions => A,
            Place::Section => S,
            Place::Input => I,
            Place::Context => C,
            Place::ContextActions => X,
            Place::Card => K,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Place::Actions => "an actions block",
            Place::Section => "a section accessory",
            Place::Input => "an input block",
            Place::Context => "a context block",
            Place::ContextActions => "a context_actions block",
            Place::Card => "a card's actions",
        }
    }
}

const A: u8 = 1;
const S: u8 = 2;
const I: u8 = 4;
const C: u8 = 8;
const X: u8 = 16;
const K: u8 = 32;

/// What shape an element has, beyond the fields all elements share.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Button,
    /// A select menu; its type name says whether options are inline (`*static_select`) and
    /// whether several can be chosen (`multi_*`).
    Select,
    Overflow,
    Checkboxes,
    RadioButtons,
    DatePicker,
    TimePicker,
    DateTimePicker,
    PlainTextInput,
    /// `email_text_input` and `url_text_input`, which only carry an initial value.
    SimpleInput,
    NumberInput,
    RichTextInput,
    FileInput,
    WorkflowButton,
    Image,
    /// A pair of buttons for positive and negative feedback.
    FeedbackButtons,
    /// A button shown as an icon.
    IconButton,
}

/// Every element type, its shape and where Slack accepts it (Block Kit element reference).
/// Placement follows the reference generously: when in doubt an element is allowed, because
/// refusing a payload Slack would take is worse than letting Slack refuse it.
const ELEMENTS: &[(&str, Kind, u8)] = &[
    ("button", Kind::Button, A | S | K),
    ("static_select", Kind::Select, A | S | I),
    ("external_select", Kind::Select, A | S | I),
    ("users_select", Kind::Select, A | S | I),
    ("conversations_select", Kind::Select, A | S | I),
    ("channels_select", Kind::Select, A | S | I),
    ("multi_static_select", Kind::Select, A | S | I),
    ("multi_external_select", Kind::Select, A | S | I),
    ("multi_users_select", Kind::Select, A | S | I),
    ("multi_conversations_select", Kind::Select, A | S | I),
    ("multi_channels_select", Kind::Select, A | S | I),
    ("overflow", Kind::Overflow, A | S | K),
    ("checkboxes", Kind::Checkboxes, A | S | I),
    ("radio_buttons", Kind::RadioButtons, A | S | I),
    ("datepicker", Kind::DatePicker, A | S | I),
    ("timepicker", Kind::TimePicker, A | S | I),
    ("datetimepicker", Kind::DateTimePicker, A | I),
    ("plain_text_input", Kind::PlainTextInput, I),
    ("email_text_input", Kind::SimpleInput, I),
    ("url_text_input", Kind::SimpleInput, I),
    ("number_input", Kind::NumberInput, I),
    ("rich_text_input", Kind::RichTextInput, A | I),
    ("file_input", Kind::FileInput, I),
    ("workflow_button", Kind::WorkflowButton, A | S | K),
    ("image", Kind::Image, S | C),
    ("feedback_buttons", Kind::FeedbackButtons, X),
    ("icon_button", Kind::IconButton, X),
];

/// Characters allowed in an `action_id`.
const ACTION_ID_MAX: usize = 255;
/// Characters allowed in a select or input placeholder.
const PLACEHOLDER_MAX: usize = 150;
/// Characters allowed in a button's text (and an accessibility label).
const BUTTON_TEXT_MAX: usize = 75;
/// Characters allowed in any URL field.
pub(super) const URL_MAX: usize = 3000;
/// Characters allowed in an image's alt text.
pub(super) const ALT_TEXT_MAX: usize = 2000;
/// Options a select menu may list, and option groups it may have.
const SELECT_OPTIONS_MAX: usize = 100;
/// Options a checkbox group or radio button group may list.
const CHOICES_MAX: usize = 10;
/// Options an overflow menu may list.
const OVERFLOW_OPTIONS_MAX: usize = 5;
/// Characters allowed in an option's text and description, and an option group's label.
const OPTION_TEXT_MAX: usize = 75;
/// Characters allowed in an option's value.
const OPTION_VALUE_MAX: usize = 150;
/// The bounds Slack puts on a plain-text input's `min_length` and `max_length`.
const INPUT_LENGTH_MAX: i64 = 3000;
/// Files a file input may accept.
const FILES_MAX: i64 = 10;

/// Checks one element at `path`, placed at `place`.
pub(super) fn element(c: &mut Checker, value: &Value, path: &str, place: Place) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    let Some(ty) = c.string(obj, path, "type", Need::Required, 0..=usize::MAX) else {
        return;
    };
    let Some(&(_, kind, places)) = ELEMENTS.iter().find(|(name, _, _)| *name == ty) else {
        c.report(field(path, "type"), format!("unknown element type `{ty}`"));
        return;
    };
    if places & place.bit() == 0 {
        c.report(
            field(path, "type"),
            format!("`{ty}` cannot be used in {}", place.name()),
        );
        return;
    }

    c.string(obj, path, "action_id", Need::Optional, 0..=ACTION_ID_MAX);
    c.text(
        obj,
        path,
        "placeholder",
        Need::Optional,
        TextKind::Plain,
        PLACEHOLDER_MAX,
    );
    if let Some(confirm) = obj.get("confirm").filter(|v| !v.is_null()) {
        confirm_object(c, confirm, &field(path, "confirm"));
    }

    match kind {
        Kind::Button | Kind::WorkflowButton => button(c, obj, path, kind),
        Kind::FeedbackButtons => {
            for key in ["positive_button", "negative_button"] {
                match obj.get(key).filter(|v| !v.is_null()) {
                    Some(button) => feedback_button(c, button, &field(path, key)),
                    None => c.report(field(path, key), "is required"),
                }
            }
        }
        Kind::IconButton => {
            c.string(obj, path, "icon", Need::Required, 1..=usize::MAX);
            c.text(
                obj,
                path,
                "text",
                Need::Required,
                TextKind::Plain,
                BUTTON_TEXT_MAX,
            );
            c.string(
                obj,
                path,
                "accessibility_label",
                Need::Optional,
                0..=BUTTON_TEXT_MAX,
            );
            c.string(obj, path, "value", Need::Optional, 0..=2000);
            if let Some(users) = c.array(obj, path, "visible_to_user_ids", Need::Optional, 0..=10) {
                let users_path = field(path, "visible_to_user_ids");
                for (i, user) in users.iter().enumerate() {
                    if !user.is_string() {
                        c.report(index(&users_path, i), "must be a string");
                    }
                }
            }
        }
        Kind::Select => select(
            c,
            obj,
            path,
            ty.ends_with("static_select"),
            ty.starts_with("multi_"),
        ),
        Kind::Overflow => {
            options(
                c,
                obj,
                path,
                "options",
                Need::Required,
                1..=OVERFLOW_OPTIONS_MAX,
            );
        }
        Kind::Checkboxes => {
            options(c, obj, path, "options", Need::Required, 1..=CHOICES_MAX);
            options(
                c,
                obj,
                path,
                "initial_options",
                Need::Optional,
                0..=CHOICES_MAX,
            );
        }
        Kind::RadioButtons => {
            options(c, obj, path, "options", Need::Required, 1..=CHOICES_MAX);
            if let Some(initial) = obj.get("initial_option").filter(|v| !v.is_null()) {
                option(c, initial, &field(path, "initial_option"));
            }
        }
        Kind::DatePicker => {
            if let Some(date) = c.string(obj, path, "initial_date", Need::Optional, 0..=10)
                && NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err()
            {
                c.report(field(path, "initial_date"), "must be a date as YYYY-MM-DD");
            }
        }
        Kind::TimePicker => {
            if let Some(time) = c.string(obj, path, "initial_time", Need::Optional, 0..=5)
                && NaiveTime::parse_from_str(time, "%H:%M").is_err()
            {
                c.report(field(path, "initial_time"), "must be a time as HH:mm");
            }
            c.string(obj, path, "timezone", Need::Optional, 0..=usize::MAX);
        }
        Kind::DateTimePicker => {
            c.integer(obj, path, "initial_date_time", 0..=i64::MAX);
        }
        Kind::PlainTextInput => plain_text_input(c, obj, path),
        Kind::SimpleInput => {
            c.string(obj, path, "initial_value", Need::Optional, 0..=usize::MAX);
        }
        Kind::NumberInput => {
            // Slack requires the flag, since it decides how the other values are read.
            c.boolean(obj, path, "is_decimal_allowed", Need::Required);
            for key in ["initial_value", "min_value", "max_value"] {
                c.string(obj, path, key, Need::Optional, 0..=usize::MAX);
            }
        }
        Kind::RichTextInput => {
            if let Some(initial) = obj.get("initial_value").filter(|v| !v.is_null()) {
                let initial_path = field(path, "initial_value");
                if let Some(initial) = c.object(initial, &initial_path) {
                    c.one_of(
                        initial,
                        &initial_path,
                        "type",
                        Need::Required,
                        &["rich_text"],
                    );
                    rich_text::rich_text(c, initial, &initial_path);
                }
            }
        }
        Kind::FileInput => {
            if let Some(types) = c.array(obj, path, "filetypes", Need::Optional, 0..=usize::MAX) {
                let types_path = field(path, "filetypes");
                for (i, ty) in types.iter().enumerate() {
                    if !ty.is_string() {
                        c.report(index(&types_path, i), "must be a string");
                    }
                }
            }
            c.integer(obj, path, "max_files", 1..=FILES_MAX);
        }
        Kind::Image => image(c, obj, path),
    }
}

/// A button or a workflow button: both have short plain text and the same styles.
fn button(c: &mut Checker, obj: &Object, path: &str, kind: Kind) {
    c.text(
        obj,
        path,
        "text",
        Need::Required,
        TextKind::Plain,
        BUTTON_TEXT_MAX,
    );
    c.one_of(obj, path, "style", Need::Optional, &["primary", "danger"]);
    c.string(
        obj,
        path,
        "accessibility_label",
        Need::Optional,
        0..=BUTTON_TEXT_MAX,
    );
    if let Kind::WorkflowButton = kind {
        if let Some(workflow) = obj.get("workflow") {
            c.object(workflow, &field(path, "workflow"));
        } else {
            c.report(field(path, "workflow"), "is required");
        }
        return;
    }
    c.string(obj, path, "value", Need::Optional, 0..=2000);
    c.url(obj, path, "url", Need::Optional, URL_MAX);
}

/// A select menu. Only static menus list options inline; the others fetch them.
fn select(c: &mut Checker, obj: &Object, path: &str, inline: bool, multi: bool) {
    if multi {
        c.integer(obj, path, "max_selected_items", 1..=i64::MAX);
    }
    if let Some(initial) = obj.get("initial_option").filter(|v| !v.is_null()) {
        option(c, initial, &field(path, "initial_option"));
    }
    let initial_count = 0..=SELECT_OPTIONS_MAX;
    options(
        c,
        obj,
        path,
        "initial_options",
        Need::Optional,
        initial_count,
    );
    if !inline {
        return;
    }
    let count = 1..=SELECT_OPTIONS_MAX;
    let listed = options(c, obj, path, "options", Need::Optional, count.clone());
    let groups = c.array(obj, path, "option_groups", Need::Optional, count);
    if let Some(groups) = groups {
        let groups_path = field(path, "option_groups");
        for (i, group) in groups.iter().enumerate() {
            option_group(c, group, &index(&groups_path, i));
        }
    }
    if !listed && groups.is_none() {
        let message = "is required when `option_groups` is absent";
        c.report(field(path, "options"), message);
    }
}

/// A plain-text input, whose length bounds must be sensible together.
fn plain_text_input(c: &mut Checker, obj: &Object, path: &str) {
    c.string(obj, path, "initial_value", Need::Optional, 0..=usize::MAX);
    let min = c.integer(obj, path, "min_length", 0..=INPUT_LENGTH_MAX);
    let max = c.integer(obj, path, "max_length", 1..=INPUT_LENGTH_MAX);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        c.report(field(path, "min_length"), "must not exceed max_length");
    }
}

/// An image element, or the image source fields of an image block: a URL or a Slack file,
/// and alt text.
pub(super) fn image(c: &mut Checker, obj: &Object, path: &str) {
    c.url(obj, path, "image_url", Need::Optional, URL_MAX);
    let file = obj.get("slack_file").filter(|v| !v.is_null());
    if let Some(file) = file {
        c.object(file, &field(path, "slack_file"));
    }
    let has_url = obj.get("image_url").is_some_and(|v| !v.is_null());
    if !has_url && file.is_none() {
        c.report(
            field(path, "image_url"),
            "is required when `slack_file` is absent",
        );
    }
    c.string(obj, path, "alt_text", Need::Required, 0..=ALT_TEXT_MAX);
}

/// One button of a feedback_buttons element: text, value and label.
fn feedback_button(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    c.text(
        obj,
        path,
        "text",
        Need::Required,
        TextKind::Plain,
        BUTTON_TEXT_MAX,
    );
    c.string(obj, path, "value", Need::Required, 0..=2000);
    c.string(
        obj,
        path,
        "accessibility_label",
        Need::Optional,
        0..=BUTTON_TEXT_MAX,
    );
}

/// `obj[key]` as an array of option objects; returns whether the array was there.
fn options(
    c: &mut Checker,
    obj: &Object,
    path: &str,
    key: &str,
    need: Need,
    count: std::ops::RangeInclusive<usize>,
) -> bool {
    let Some(items) = c.array(obj, path, key, need, count) else {
        return false;
    };
    let items_path = field(path, key);
    for (i, item) in items.iter().enumerate() {
        option(c, item, &index(&items_path, i));
    }
    true
}

/// An option object. Checkboxes and radio buttons may use mrkdwn, so either text type is taken.
fn option(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    c.text(
        obj,
        path,
        "text",
        Need::Required,
        TextKind::Any,
        OPTION_TEXT_MAX,
    );
    c.string(obj, path, "value", Need::Required, 0..=OPTION_VALUE_MAX);
    c.text(
        obj,
        path,
        "description",
        Need::Optional,
        TextKind::Any,
        OPTION_TEXT_MAX,
    );
    c.url(obj, path, "url", Need::Optional, URL_MAX);
}

/// An option group: a plain-text label over up to 100 options.
fn option_group(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    c.text(
        obj,
        path,
        "label",
        Need::Required,
        TextKind::Plain,
        OPTION_TEXT_MAX,
    );
    options(
        c,
        obj,
        path,
        "options",
        Need::Required,
        1..=SELECT_OPTIONS_MAX,
    );
}

/// A confirmation dialog shown before an element acts.
fn confirm_object(c: &mut Checker, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path) else {
        return;
    };
    c.text(obj, path, "title", Need::Required, TextKind::Plain, 100);
    c.text(obj, path, "text", Need::Required, TextKind::Any, 300);
    c.text(obj, path, "confirm", Need::Required, TextKind::Plain, 30);
    c.text(obj, path, "deny", Need::Required, TextKind::Plain, 30);
    c.one_of(obj, path, "style", Need::Optional, &["primary", "danger"]);
}
