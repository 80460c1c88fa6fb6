//! Interactive actions: Slack's `block_actions` payloads (a person pressed a
//! button or picked an option in a message's blocks), parsed with the path
//! of every problem, and the lookup of the element an action names.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::FieldErrors;
use chrono::{DateTime, Utc};

use crate::{ActionId, DomainError, MessageId, OrgId, ThreadId, UserId};

/// Actions one payload may carry (Slack sends one; an actions block holds at most 25).
pub const MAX_ACTIONS: usize = 25;
/// Characters in an `action_id` or a `block_id` (Slack's limit).
const ID_MAX: usize = 255;
/// Characters in an action's `value` (Slack's limit for a button's).
const VALUE_MAX: usize = 2000;
/// The serialised size of a payload's `state.values` and of each action.
const PART_MAX_BYTES: usize = 64 * 1024;
/// How deep the element an action names may sit inside its block.
const SEARCH_DEPTH: usize = 8;

/// A `block_actions` payload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockActions {
    /// The message whose blocks were acted on (`container.message_id`).
    pub message_id: MessageId,
    /// What was done, in order.
    pub actions: Vec<BlockAction>,
    /// The values of the message's inputs (`state.values`), if sent.
    pub state: Option<Value>,
}

/// One action of a payload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockAction {
    /// The element's `action_id`.
    pub action_id: String,
    /// The block's `block_id`.
    pub block_id: String,
    /// The element's type (`button`, `static_select`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The action as sent (its `value`, `selected_option`, …).
    pub payload: Value,
}

/// An action as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecordedAction {
    /// The record's id.
    pub id: ActionId,
    /// The org.
    pub org_id: OrgId,
    /// The thread of the message.
    pub thread_id: ThreadId,
    /// The message acted on.
    pub message_id: MessageId,
    /// Who acted.
    pub user_id: UserId,
    /// The element's `action_id`.
    pub action_id: String,
    /// The block's `block_id`.
    pub block_id: String,
    /// The element's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The action as sent, with the payload's `state.values` as `state`.
    pub payload: Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl BlockActions {
    /// Parses a payload; every problem is a 400 naming its field
    /// (`actions[0].action_id`, `container.message_id`).
    pub fn parse(value: &Value) -> Result<Self, DomainError> {
        let mut errors = FieldErrors::new();
        let Some(obj) = value.as_object() else {
            return Err(DomainError::invalid("body", "must be an object"));
        };
        match obj.get("type").and_then(Value::as_str) {
            None | Some("block_actions") => {}
            Some(_) => errors.add("type", "must be block_actions"),
        }
        let message_id = match obj.get("container").and_then(Value::as_object) {
            None => {
                errors.add("container", "is required and must be an object");
                None
            }
            Some(container) => match container.get("message_id").and_then(Value::as_str) {
                None => {
                    errors.add("container.message_id", "is required");
                    None
                }
                Some(raw) => match raw.parse::<MessageId>() {
                    Ok(id) => Some(id),
                    Err(_) => {
                        errors.add("container.message_id", "must be a message id");
                        None
                    }
                },
            },
        };
        let state = match obj.get("state") {
            None | Some(Value::Null) => None,
            Some(Value::Object(state)) => match state.get("values") {
                None | Some(Value::Null) => None,
                Some(values @ Value::Object(_)) if size(values) <= PART_MAX_BYTES => {
                    Some(values.clone())
                }
                Some(Value::Object(_)) => {
                    errors.add(
                        "state.values",
                        format!("must be at most {PART_MAX_BYTES} bytes"),
                    );
                    None
                }
                Some(_) => {
                    errors.add("state.values", "must be an object");
                    None
                }
            },
            Some(_) => {
                errors.add("state", "must be an object");
                None
            }
        };
        let actions = match obj.get("actions").and_then(Value::as_array) {
            None => {
                errors.add("actions", "is required and must be an array");
                Vec::new()
            }
            Some(items) if items.is_empty() || items.len() > MAX_ACTIONS => {
                errors.add("actions", format!("must hold 1 to {MAX_ACTIONS} actions"));
                Vec::new()
            }
            Some(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| action(&mut errors, item, &format!("actions[{i}]")))
                .collect(),
        };
        errors.into_result()?;
        Ok(BlockActions {
            message_id: message_id.ok_or_else(|| DomainError::invalid("container", "missing"))?,
            actions,
            state,
        })
    }
}

fn size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

fn action(errors: &mut FieldErrors, value: &Value, path: &str) -> Option<BlockAction> {
    let Some(obj) = value.as_object() else {
        errors.add(path, "must be an object");
        return None;
    };
    if size(value) > PART_MAX_BYTES {
        errors.add(path, format!("must be at most {PART_MAX_BYTES} bytes"));
        return None;
    }
    let action_id = id(errors, obj, path, "action_id");
    let block_id = id(errors, obj, path, "block_id");
    let kind = id(errors, obj, path, "type");
    match obj.get("value") {
        None | Some(Value::Null) => {}
        Some(Value::String(raw)) if raw.chars().count() <= VALUE_MAX => {}
        Some(Value::String(_)) => errors.add(
            format!("{path}.value"),
            format!("must be at most {VALUE_MAX} characters"),
        ),
        Some(_) => errors.add(format!("{path}.value"), "must be a string"),
    }
    for key in ["selected_user", "selected_date"] {
        match obj.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(_) => errors.add(format!("{path}.{key}"), "must be a string"),
        }
    }
    match obj.get("selected_option") {
        None | Some(Value::Null) => {}
        Some(option) => chosen_option(errors, option, &format!("{path}.selected_option")),
    }
    match obj.get("selected_options") {
        None | Some(Value::Null) => {}
        Some(Value::Array(options)) => {
            for (i, option) in options.iter().enumerate() {
                chosen_option(errors, option, &format!("{path}.selected_options[{i}]"));
            }
        }
        Some(_) => errors.add(format!("{path}.selected_options"), "must be an array"),
    }
    Some(BlockAction {
        action_id: action_id?,
        block_id: block_id?,
        kind: kind?,
        payload: value.clone(),
    })
}

/// An option the person chose: an object with a string `value`, which is
/// what is compared with the element's options.
fn chosen_option(errors: &mut FieldErrors, value: &Value, path: &str) {
    let Some(obj) = value.as_object() else {
        errors.add(path, "must be an object");
        return;
    };
    match obj.get("value") {
        Some(Value::String(_)) => {}
        None | Some(Value::Null) => errors.add(format!("{path}.value"), "is required"),
        Some(_) => errors.add(format!("{path}.value"), "must be a string"),
    }
}

/// `obj[key]` as a non-blank string of at most [`ID_MAX`] characters.
fn id(errors: &mut FieldErrors, obj: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
    let path = format!("{path}.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => errors.add(path, "is required"),
        Some(Value::String(raw)) if raw.trim().is_empty() => errors.add(path, "must not be empty"),
        Some(Value::String(raw)) if raw.chars().count() > ID_MAX => {
            errors.add(path, format!("must be at most {ID_MAX} characters"))
        }
        Some(Value::String(raw)) if raw.chars().any(char::is_control) => {
            errors.add(path, "must not contain control characters")
        }
        Some(Value::String(raw)) => return Some(raw.clone()),
        Some(_) => errors.add(path, "must be a string"),
    }
    None
}

/// The interactive element with `action_id` inside the block with
/// `block_id` of a message's `blocks`, wherever the block keeps it
/// (`elements`, `accessory`, `element`, or deeper in newer blocks).
pub fn find_element<'a>(blocks: &'a Value, block_id: &str, action_id: &str) -> Option<&'a Value> {
    let block = blocks
        .as_array()?
        .iter()
        .find(|block| block.get("block_id").and_then(Value::as_str) == Some(block_id))?;
    search(block, action_id, SEARCH_DEPTH)
}

fn search<'a>(value: &'a Value, action_id: &str, depth: usize) -> Option<&'a Value> {
    if depth == 0 {
        return None;
    }
    match value {
        Value::Object(obj) => {
            if obj.get("action_id").and_then(Value::as_str) == Some(action_id) {
                return Some(value);
            }
            obj.values()
                .find_map(|inner| search(inner, action_id, depth - 1))
        }
        Value::Array(items) => items
            .iter()
            .find_map(|inner| search(inner, action_id, depth - 1)),
        _ => None,
    }
}

/// The options an element offers, listed or in groups.
fn offered_options(element: &Value) -> impl Iterator<Item = &Value> {
    let listed = element.get("options").and_then(Value::as_array);
    let grouped = element
        .get("option_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|group| group.get("options").and_then(Value::as_array));
    listed.into_iter().chain(grouped).flatten()
}

/// The element's option with this `value`.
fn offered<'a>(element: &'a Value, value: &str) -> Option<&'a Value> {
    offered_options(element)
        .find(|option| option.get("value").and_then(Value::as_str) == Some(value))
}

/// The `value` of a chosen option (an object, as [`BlockActions::parse`] checked).
fn chosen_value(option: &Value) -> Option<&str> {
    option.get("value").and_then(Value::as_str)
}

impl BlockAction {
    /// Checks the action against the element it names (`path` is the
    /// action's, `actions[0]`): its type is the element's; every option it
    /// chose (`selected_option`, `selected_options`) is one the element
    /// offers, compared by `value`; and a button that has a `value` is
    /// pressed with that value. So a payload can only say what the message
    /// let the person do. External menus are the exception: their options
    /// come from the app that serves them and are not in the blocks.
    pub fn check_against(&self, element: &Value, path: &str) -> Result<(), DomainError> {
        let ty = element.get("type").and_then(Value::as_str);
        if let Some(ty) = ty
            && ty != self.kind
        {
            return Err(DomainError::invalid(
                format!("{path}.type"),
                format!("must be the element's type, {ty}"),
            ));
        }
        let mut errors = FieldErrors::new();
        if !ty.is_some_and(|ty| ty.ends_with("external_select")) {
            let single = self.payload.get("selected_option").into_iter();
            let single = single.map(|option| (option, format!("{path}.selected_option.value")));
            let many = self
                .payload
                .get("selected_options")
                .and_then(Value::as_array);
            let many = many
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, option)| (option, format!("{path}.selected_options[{i}].value")));
            for (option, field) in single.chain(many) {
                let known =
                    chosen_value(option).is_some_and(|value| offered(element, value).is_some());
                if !option.is_null() && !known {
                    errors.add(field, "must be the value of one of the element's options");
                }
            }
        }
        if ty == Some("button")
            && let Some(expected) = element.get("value").and_then(Value::as_str)
            && self.payload.get("value").and_then(Value::as_str) != Some(expected)
        {
            errors.add(format!("{path}.value"), "must be the button's value");
        }
        errors.into_result()
    }

    /// One line saying what was done, for the assistant's prompt:
    /// `pressed the button "Approve" (action approve, value "yes")`.
    /// A chosen option is named by the element's own text where the element
    /// lists it, not by the text the payload carries.
    pub fn describe(&self, element: Option<&Value>) -> String {
        let label = element
            .and_then(|e| e.get("text"))
            .and_then(|t| t.get("text").or(Some(t)))
            .and_then(Value::as_str);
        let mut line = match label {
            Some(label) => format!("used the {} \"{}\"", self.kind, clip(label)),
            None => format!("used the {}", self.kind),
        };
        line.push_str(&format!(
            " (action_id {}, block_id {}",
            self.action_id, self.block_id
        ));
        if let Some(value) = self.payload.get("value").and_then(Value::as_str) {
            line.push_str(&format!(", value \"{}\"", clip(value)));
        }
        let single = self.payload.get("selected_option").into_iter();
        let many = self
            .payload
            .get("selected_options")
            .and_then(Value::as_array);
        let labels: Vec<String> = single
            .chain(many.into_iter().flatten())
            .filter_map(|option| {
                let listed = element
                    .zip(chosen_value(option))
                    .and_then(|(e, v)| offered(e, v));
                let text = listed.unwrap_or(option).get("text")?;
                let text = text.get("text").unwrap_or(text).as_str()?;
                Some(format!("\"{}\"", clip(text)))
            })
            .collect();
        if !labels.is_empty() {
            line.push_str(&format!(", selected {}", labels.join(", ")));
        }
        line.push(')');
        line
    }
}

/// At most 200 characters of a label or value, cut on a character boundary.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(value: Value) -> Vec<String> {
        BlockActions::parse(&value)
            .unwrap_err()
            .field_errors()
            .fields()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_payload_parses_and_bad_fields_are_named() {
        let id = MessageId::new();
        let parsed = BlockActions::parse(&json!({
            "type": "block_actions",
            "container": {"message_id": id.to_string()},
            "actions": [{"action_id": "a", "block_id": "b", "type": "button", "value": "v"}],
            "state": {"values": {}}
        }))
        .unwrap();
        assert_eq!(parsed.message_id, id);
        assert_eq!(parsed.actions[0].action_id, "a");
        assert_eq!(
            problems(
                json!({"container": {"message_id": "x"}, "actions": [{"block_id": 3, "type": "button"}]})
            ),
            [
                "actions[0].action_id",
                "actions[0].block_id",
                "container.message_id"
            ]
        );
        assert_eq!(problems(json!({"actions": []})), ["actions", "container"]);
    }

    fn action(payload: Value) -> BlockAction {
        BlockAction {
            action_id: "a".into(),
            block_id: "b".into(),
            kind: payload["type"].as_str().unwrap().to_owned(),
            payload,
        }
    }

    fn refused(action: &BlockAction, element: &Value) -> Vec<String> {
        match action.check_against(element, "actions[0]") {
            Ok(()) => Vec::new(),
            Err(err) => err.field_errors().fields().map(str::to_owned).collect(),
        }
    }

    fn option(text: &str, value: &str) -> Value {
        json!({"text": {"type": "plain_text", "text": text}, "value": value})
    }

    #[test]
    fn a_choice_must_be_one_the_element_offers() {
        let select = json!({"type": "static_select", "action_id": "a",
            "option_groups": [{"label": {"type": "plain_text", "text": "G"},
                               "options": [option("Today", "today")]}]});
        let picked = |value: &str| {
            action(json!({"type": "static_select", "selected_option": option("Forged", value)}))
        };
        assert!(refused(&picked("today"), &select).is_empty());
        assert_eq!(
            refused(&picked("yesterday"), &select),
            ["actions[0].selected_option.value"]
        );
        // The prompt names the option as the message shows it.
        assert!(
            picked("today")
                .describe(Some(&select))
                .contains("selected \"Today\"")
        );

        let boxes = json!({"type": "checkboxes", "action_id": "a",
            "options": [option("A", "a"), option("B", "b")]});
        let ticked = |values: &[&str]| {
            let options: Vec<Value> = values.iter().map(|v| option(v, v)).collect();
            action(json!({"type": "checkboxes", "selected_options": options}))
        };
        assert!(refused(&ticked(&["a", "b"]), &boxes).is_empty());
        assert!(refused(&ticked(&[]), &boxes).is_empty());
        assert_eq!(
            refused(&ticked(&["b", "c"]), &boxes),
            ["actions[0].selected_options[1].value"]
        );
        // A button offers no options to choose.
        let button = json!({"type": "button", "action_id": "a", "value": "yes"});
        assert_eq!(
            refused(
                &action(
                    json!({"type": "button", "value": "yes", "selected_option": option("x", "x")})
                ),
                &button
            ),
            ["actions[0].selected_option.value"]
        );
        // An external menu's options are the app's, not the message's.
        let external = json!({"type": "external_select", "action_id": "a"});
        let chosen =
            action(json!({"type": "external_select", "selected_option": option("X", "x")}));
        assert!(refused(&chosen, &external).is_empty());
    }

    #[test]
    fn a_button_with_a_value_is_pressed_with_that_value() {
        let button = json!({"type": "button", "action_id": "a", "value": "yes"});
        assert!(refused(&action(json!({"type": "button", "value": "yes"})), &button).is_empty());
        assert_eq!(
            refused(&action(json!({"type": "button", "value": "no"})), &button),
            ["actions[0].value"]
        );
        assert_eq!(
            refused(&action(json!({"type": "button"})), &button),
            ["actions[0].value"]
        );
        let plain = json!({"type": "button", "action_id": "a"});
        assert!(refused(&action(json!({"type": "button", "value": "any"})), &plain).is_empty());
        assert_eq!(
            refused(&action(json!({"type": "overflow"})), &plain),
            ["actions[0].type"]
        );
    }

    #[test]
    fn chosen_options_must_carry_a_value() {
        let id = MessageId::new().to_string();
        let got = problems(json!({
            "container": {"message_id": id},
            "actions": [{"action_id": "a", "block_id": "b", "type": "checkboxes",
                         "selected_option": {"text": "x"},
                         "selected_options": [{"value": "a"}, 3, {"value": 4}]}]
        }));
        assert_eq!(
            got,
            [
                "actions[0].selected_option.value",
                "actions[0].selected_options[1]",
                "actions[0].selected_options[2].value"
            ]
        );
    }

    #[test]
    fn elements_are_found_inside_their_block_only() {
        let blocks = json!([
            {"type": "actions", "block_id": "b1", "elements": [{"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}]},
            {"type": "section", "block_id": "b2", "text": {"type": "mrkdwn", "text": "x"},
             "accessory": {"type": "static_select", "action_id": "pick", "options": []}}
        ]);
        assert!(find_element(&blocks, "b1", "go").is_some());
        assert!(find_element(&blocks, "b2", "pick").is_some());
        assert!(find_element(&blocks, "b2", "go").is_none());
        assert!(find_element(&blocks, "b3", "go").is_none());
    }
}
