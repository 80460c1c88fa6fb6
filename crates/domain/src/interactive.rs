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
    for key in ["selected_option", "selected_user", "selected_date"] {
        let want_object = key == "selected_option";
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(_)) if want_object => {}
            Some(Value::String(_)) if !want_object => {}
            Some(_) => errors.add(
                format!("{path}.{key}"),
                if want_object {
                    "must be an object"
                } else {
                    "must be a string"
                },
            ),
        }
    }
    match obj.get("selected_options") {
        None | Some(Value::Null) | Some(Value::Array(_)) => {}
        Some(_) => errors.add(format!("{path}.selected_options"), "must be an array"),
    }
    Some(BlockAction {
        action_id: action_id?,
        block_id: block_id?,
        kind: kind?,
        payload: value.clone(),
    })
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

impl BlockAction {
    /// One line saying what was done, for the assistant's prompt:
    /// `pressed the button "Approve" (action approve, value "yes")`.
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
        let selected = self
            .payload
            .get("selected_option")
            .and_then(|o| o.get("text"))
            .and_then(|t| t.get("text"))
            .and_then(Value::as_str);
        if let Some(selected) = selected {
            line.push_str(&format!(", selected \"{}\"", clip(selected)));
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
