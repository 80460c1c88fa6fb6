//! Client analytics events: a client reports what a person did (`name`,
//! a few `properties`), recorded per user and org and summed by day in the
//! usage report. Bounded so that a client cannot store much through it.

use serde::Deserialize;
use serde_json::Value;
use xl_domain::{Actor, DomainError, FieldErrors};
use xl_store::repo;

use crate::{ServiceError, Services};

/// Events one request may carry.
pub const MAX_EVENTS: usize = 100;
/// The longest event name.
pub const MAX_NAME: usize = 100;
/// The most properties an event may have, and their size as JSON.
pub const MAX_PROPERTIES: usize = 32;
pub const MAX_PROPERTIES_BYTES: usize = 4096;

/// One event as a client sends it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// What happened: letters, digits and `._:-`, such as `thread.opened`.
    pub name: String,
    /// Details: a flat object of strings, numbers and booleans.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

fn check(index: usize, event: &NewEvent, errors: &mut FieldErrors) {
    let at = format!("events[{index}]");
    let name_ok = !event.name.is_empty()
        && event.name.len() <= MAX_NAME
        && event
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !name_ok {
        errors.add(
            format!("{at}.name"),
            format!("must be 1 to {MAX_NAME} letters, digits or ._:-"),
        );
    }
    match &event.properties {
        None | Some(Value::Null) => {}
        Some(Value::Object(properties)) => {
            let flat = properties.values().all(|v| {
                matches!(
                    v,
                    Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
                )
            });
            let size = serde_json::to_vec(properties).map_or(usize::MAX, |bytes| bytes.len());
            if !flat || properties.len() > MAX_PROPERTIES || size > MAX_PROPERTIES_BYTES {
                errors.add(
                    format!("{at}.properties"),
                    format!(
                        "must be a flat object of at most {MAX_PROPERTIES} strings, numbers or booleans, {MAX_PROPERTIES_BYTES} bytes as JSON"
                    ),
                );
            }
        }
        Some(_) => errors.add(format!("{at}.properties"), "must be an object"),
    }
}

impl Services {
    /// Records a client's analytics events for the caller (all or none).
    pub async fn track_events(
        &self,
        actor: &Actor,
        events: Vec<NewEvent>,
    ) -> Result<usize, ServiceError> {
        if events.is_empty() || events.len() > MAX_EVENTS {
            return Err(ServiceError::Invalid(DomainError::invalid(
                "events",
                format!("must hold 1 to {MAX_EVENTS} events"),
            )));
        }
        let mut errors = FieldErrors::new();
        for (index, event) in events.iter().enumerate() {
            check(index, event, &mut errors);
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(DomainError::Validation(errors)));
        }
        let count = events.len();
        let rows = events
            .into_iter()
            .map(|event| {
                let properties = match event.properties {
                    Some(Value::Object(properties)) => Value::Object(properties),
                    _ => Value::Object(serde_json::Map::new()),
                };
                (event.name, properties)
            })
            .collect();
        let tx = self.store.begin_write().await?;
        repo::usage::insert_events(&tx, actor.org_id, actor.user_id, rows).await?;
        tx.commit().await?;
        Ok(count)
    }
}
