//! Interactive actions: Block Kit `block_actions` payloads, as JSON.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use xl_domain::Message;
use xl_domain::interactive::{BlockActions, RecordedAction};
use xl_services::assistant::ReplyMode;

use crate::auth::Authenticated;
use crate::body::{is_json, read_body};
use crate::correlation::detached;
use crate::error::json_error;
use crate::{ApiError, AppState, Envelope};

/// Registers the interactive route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/interactive").post(act));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplyQuery {
    /// `sync` or `stream` (default: the server's `DEFAULT_REPLY_MODE`).
    #[param(value_type = Option<ReplyMode>)]
    reply: Option<String>,
}

/// What a payload did: the recorded actions and the assistant's reply, if
/// the thread's assistant answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Acted {
    /// The actions, as recorded.
    actions: Vec<RecordedAction>,
    /// The assistant's reply, if it answered.
    reply: Option<Message>,
}

#[utoipa::path(post, path = "/api/v1/interactive", tag = "Interactive", operation_id = "act",
    description = "Records a `block_actions` payload against the message's blocks (each action must name an element in them) and lets the thread's assistant answer, per `?reply=`.",
    params(ReplyQuery),
    request_body(content = crate::openapi::BlockActionsPayload),
    responses(
        (status = 200, description = "The recorded actions and the assistant's reply, if it answered", body = Envelope<Acted>),
        (status = 404, description = "The message, or one the caller may read, was not found"),
    ))]
async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ReplyQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mode = match query.reply.as_deref() {
        None | Some("") => state.services.config.default_reply_mode,
        Some(raw) => raw.parse::<ReplyMode>()?,
    };
    let body = read_body(payload, state.config.max_json_bytes).await?;
    if !is_json(&req) {
        return Err(ApiError::UnsupportedMediaType(
            "the body must be JSON sent with Content-Type: application/json".into(),
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|err| json_error(&err))?;
    // Every shape problem is a 400 naming its field (`actions[0].action_id`).
    let actions = BlockActions::parse(&value)?;
    let actor = caller.0;
    // Detached, as a post: a client that leaves must not stop the reply
    // between its commit and its start.
    detached(async move {
        let acted = state.services.interact(&actor, actions, mode).await?;
        Ok::<_, ApiError>(Envelope::ok(Acted {
            actions: acted.actions,
            reply: acted.reply,
        }))
    })
    .await
    .map_err(|err| ApiError::Internal(format!("recording an action failed: {err}")))?
}
