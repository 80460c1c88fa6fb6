//! `POST /analytics/events`: a client's analytics events, one
//! (`{"name", "properties"}`) or several (`{"events": […]}`), recorded for
//! the caller and summed by day in `GET /usage`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use xl_services::analytics::NewEvent;

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/analytics/events`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/analytics/events").post(track));
}

/// One event or a batch.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Body {
    Batch { events: Vec<NewEvent> },
    One(NewEvent),
}

#[utoipa::path(post, path = "/api/v1/analytics/events", tag = "Usage", operation_id = "track_analytics_events",
    description = "One event (`{\"name\", \"properties\"}`) or a batch (`{\"events\": […]}`, at most 100). Names are letters, digits and `._:-`; properties are a flat object of strings, numbers and booleans, at most 32 and 4 KiB. A batch with any bad event is refused whole.",
    request_body(content = NewEvent, example = json!({"name": "thread.opened", "properties": {"source": "sidebar"}})),
    responses((status = 202, description = "Recorded: `{\"recorded\": n}`", body = Envelope<serde_json::Value>)))]
async fn track(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let events = match body.into_inner() {
        Body::Batch { events } => events,
        Body::One(event) => vec![event],
    };
    let recorded = state.services.track_events(&caller.0, events).await?;
    Ok(Envelope::with_status(
        actix_web::http::StatusCode::ACCEPTED,
        json!({ "recorded": recorded }),
    ))
}
