//! OpenAI's Responses API (`/responses`) and Conversations API
//! (`/conversations`) over threads, in OpenAI's shapes and error format so
//! that the official SDKs work unchanged. What they write is a thread's
//! messages, seen by the thread API and the event streams as any other.
//!
//! - `wire`: requests parsed, objects written, ids with OpenAI's prefixes.
//! - `stream`: a response as OpenAI's typed events, replayable from the log.

mod stream;
mod wire;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;
use xl_domain::{MessageId, Order, ThreadId};
use xl_services::completions::CompletionLink;
use xl_services::responses::items::ToolCalls;
use xl_services::responses::{Created, ResponseRequest};

use self::stream::Unstored;
use self::wire::Outcome;
use crate::AppState;
use crate::routes::completions::{
    COMPLETION_ID_HEADER, OpenAiCaller, OpenAiError, json_bytes, panicked,
};

/// A query string that does not parse is an OpenAI error here, as every
/// other refusal on these routes is.
fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    OpenAiError::invalid(format!("The query string is invalid: {err}")).into()
}

/// A resource of these APIs, whose query errors are OpenAI's.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).app_data(web::QueryConfig::default().error_handler(query_error))
}

/// Registers `/responses` and `/conversations`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/responses").post(create_response))
        .service(
            resource("/responses/{id}")
                .get(get_response)
                .delete(delete_response),
        )
        .service(resource("/responses/{id}/cancel").post(cancel_response))
        .service(resource("/responses/{id}/input_items").get(input_items))
        .service(resource("/conversations").post(create_conversation))
        .service(
            resource("/conversations/{id}")
                .get(get_conversation)
                .post(update_conversation)
                .delete(delete_conversation),
        )
        .service(
            resource("/conversations/{id}/items")
                .get(list_items)
                .post(add_items),
        )
        .service(
            resource("/conversations/{id}/items/{item}")
                .get(get_item)
                .delete(delete_item),
        );
}

fn not_found(what: &str, id: &str) -> OpenAiError {
    OpenAiError::new(
        StatusCode::NOT_FOUND,
        "not_found_error",
        format!("No {what} found with id '{id}'."),
    )
}

/// A service error, with a thing not found named as OpenAI names it.
fn service_error(what: &str, id: &str) -> impl FnOnce(xl_services::ServiceError) -> OpenAiError {
    let (what, id) = (what.to_owned(), id.to_owned());
    move |err| match err {
        xl_services::ServiceError::NotFound(_) => not_found(&what, &id),
        other => other.into(),
    }
}

/// A JSON body, refused in OpenAI's shape when it is not one.
fn json_body(
    req: &HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<serde_json::Map<String, Value>, OpenAiError> {
    wire::body_object(&json_bytes(req, body)?)
}

#[utoipa::path(post, path = "/api/v1/responses", tag = "OpenAI: Responses", operation_id = "create_response",
    description = "Starts a response: the assistant's reply in a new thread, after `previous_response_id`, or in `conversation`. With `stream: true` the answer is OpenAI's typed events (`response.created`, `response.output_text.delta`, …, `response.completed`), each with its `sequence_number`; with `background: true` it is `queued` at once. `store: false` is one model call that is not kept.",
    request_body(content = crate::openapi::CreateResponseRequest),
    responses(
        (status = 200, description = "The response, or its events",
            content(
                (crate::openapi::ResponseObject = "application/json"),
                (crate::openapi::ServerSentEvent = "text/event-stream", example = json!("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"delta\":\"Par\"}\n\n")),
            )),
        (status = 404, description = "The previous response or the conversation was not found"),
        (status = 502, description = "The model provider failed"),
        (status = 504, description = "The model provider did not answer in time"),
    ))]
async fn create_response(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OpenAiError> {
    let fields = json_body(&req, body)?;
    let parsed = wire::response_request(&fields)?;
    let services = Arc::clone(&state.services);
    let actor = caller.0;
    if !parsed.request.store {
        return unstored(&state, actor, parsed.request, parsed.stream).await;
    }
    let not_found_as = match parsed.request.continues {
        xl_services::responses::Continues::Conversation(_) => "conversation",
        _ => "response",
    };
    let named = fields
        .get("previous_response_id")
        .or_else(|| fields.get("conversation"))
        .map(|value| {
            value
                .as_str()
                .unwrap_or_else(|| value["id"].as_str().unwrap_or_default())
        })
        .unwrap_or_default()
        .to_owned();
    let created = services
        .create_response(&actor, parsed.request, parsed.background, parsed.stream)
        .await
        .map_err(service_error(not_found_as, &named))?;
    match created {
        Created::Response(response) => {
            Ok(HttpResponse::Ok().json(Outcome::stored(&response).to_json()))
        }
        Created::Stream(response, feed) => {
            let frames = stream::stored(services, actor, response, feed, None);
            Ok(stream::respond(frames, state.config.sse_keep_alive))
        }
    }
}

/// A response that is not kept: one model call, recorded like any other,
/// answered whole or as typed events.
async fn unstored(
    state: &AppState,
    actor: xl_domain::Actor,
    request: ResponseRequest,
    streamed: bool,
) -> Result<HttpResponse, OpenAiError> {
    let services = Arc::clone(&state.services);
    let mut chat = services
        .unstored_request(&actor, &request)
        .await
        .map_err(service_error("response", ""))?;
    chat.validate()?;
    let settings = request.settings;
    let model = chat.model.clone();
    let created_at = chrono::Utc::now().timestamp();
    let link = CompletionLink::default();
    if streamed {
        chat.stream = Some(true);
        chat.stream_options = Some(xl_llm::StreamOptions {
            include_usage: Some(true),
        });
        let call = async move { services.complete_stream(&actor, chat, link).await };
        let chunks = tokio::spawn(call.in_current_span())
            .await
            .map_err(panicked)??;
        let id = chunks.id;
        let state_of = Unstored::new(
            MessageId::from_uuid(id.as_uuid()),
            created_at,
            model,
            settings,
        );
        let frames = stream::unstored(state_of, chunks);
        let mut answer = stream::respond(frames, state.config.sse_keep_alive);
        if let Ok(value) = id.to_string().parse() {
            answer.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static(COMPLETION_ID_HEADER),
                value,
            );
        }
        return Ok(answer);
    }
    let call = async move { services.complete(&actor, chat, link).await };
    let (id, answer) = tokio::spawn(call.in_current_span())
        .await
        .map_err(panicked)??;
    let mut calls = ToolCalls::default();
    let choice = answer.choices.first();
    if let Some(choice) = choice {
        for (index, call) in choice.message.tool_calls.iter().enumerate() {
            calls.push(&xl_llm::ToolCallDelta {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                id: Some(call.id.clone()),
                kind: Some(call.kind),
                function: Some(xl_llm::FunctionCallDelta {
                    name: Some(call.function.name.clone()),
                    arguments: Some(call.function.arguments.clone()),
                }),
            });
        }
    }
    let whole = Unstored::new(
        MessageId::from_uuid(id.as_uuid()),
        created_at,
        model,
        settings,
    )
    .whole(
        answer.content().into_owned(),
        calls,
        answer.usage,
        answer.finish_reason(),
    );
    let status = whole.final_status();
    Ok(HttpResponse::Ok()
        .insert_header((COMPLETION_ID_HEADER, id.to_string()))
        .json(whole.outcome(status).to_json()))
}

/// `?stream=true&starting_after=N` on `GET /responses/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RetrieveQuery {
    /// `true` for the typed events instead of the object.
    #[param(value_type = Option<bool>)]
    stream: Option<String>,
    /// With `stream`: only the events after this `sequence_number`.
    #[param(value_type = Option<u64>)]
    starting_after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/responses/{id}", tag = "OpenAI: Responses", operation_id = "retrieve_response",
    description = "The response as it is now, or with `stream=true` its typed events again, from the start or after `starting_after`, live until it ends.",
    params(("id" = String, Path, description = "The response (`resp_…`)"), RetrieveQuery),
    responses((status = 200, description = "The response, or its events",
        content(
            (crate::openapi::ResponseObject = "application/json"),
            (crate::openapi::ServerSentEvent = "text/event-stream"),
        ))))]
async fn get_response(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
    query: web::Query<RetrieveQuery>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = wire::response_id(&raw).ok_or_else(|| not_found("response", &raw))?;
    let services = Arc::clone(&state.services);
    let actor = caller.0;
    let streamed = matches!(query.stream.as_deref(), Some("true" | "1"));
    if !streamed {
        let response = services
            .get_response(&actor, id)
            .await
            .map_err(service_error("response", &raw))?;
        return Ok(HttpResponse::Ok().json(Outcome::stored(&response).to_json()));
    }
    let starting_after = match query.starting_after.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            OpenAiError::invalid("starting_after must be a sequence number.")
                .param("starting_after")
        })?),
    };
    let (response, feed) = services
        .follow_response(&actor, id)
        .await
        .map_err(service_error("response", &raw))?;
    let frames = stream::stored(services, actor, response, feed, starting_after);
    Ok(stream::respond(frames, state.config.sse_keep_alive))
}

#[utoipa::path(delete, path = "/api/v1/responses/{id}", tag = "OpenAI: Responses", operation_id = "delete_response",
    params(("id" = String, Path, description = "The response (`resp_…`)")),
    responses((status = 200, description = "Deleted", body = crate::openapi::DeletedObject)))]
async fn delete_response(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = wire::response_id(&raw).ok_or_else(|| not_found("response", &raw))?;
    state
        .services
        .delete_response(&caller.0, id)
        .await
        .map_err(service_error("response", &raw))?;
    Ok(HttpResponse::Ok().json(json!({
        "id": wire::resp_id(id),
        "object": "response.deleted",
        "deleted": true,
    })))
}

#[utoipa::path(post, path = "/api/v1/responses/{id}/cancel", tag = "OpenAI: Responses", operation_id = "cancel_response",
    params(("id" = String, Path, description = "The response (`resp_…`)")),
    responses(
        (status = 200, description = "The response, now `cancelled`", body = crate::openapi::ResponseObject),
        (status = 409, description = "Only a response in progress can be cancelled"),
    ))]
async fn cancel_response(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = wire::response_id(&raw).ok_or_else(|| not_found("response", &raw))?;
    let response = state
        .services
        .cancel_response(&caller.0, id)
        .await
        .map_err(service_error("response", &raw))?;
    Ok(HttpResponse::Ok().json(Outcome::stored(&response).to_json()))
}

/// `after`, `limit` and `order` on OpenAI's lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The `last_id` of the previous page.
    after: Option<String>,
    /// 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `desc` (the default) or `asc`.
    #[param(value_type = Option<xl_domain::Order>)]
    order: Option<String>,
}

impl ListQuery {
    fn limit(&self) -> Result<u32, OpenAiError> {
        match self.limit.as_deref() {
            None | Some("") => Ok(20),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    OpenAiError::invalid("limit must be between 1 and 100.").param("limit")
                }),
        }
    }

    fn order(&self) -> Result<Order, OpenAiError> {
        match self.order.as_deref() {
            None | Some("" | "desc") => Ok(Order::Desc),
            Some("asc") => Ok(Order::Asc),
            Some(_) => Err(OpenAiError::invalid("order must be asc or desc.").param("order")),
        }
    }

    fn after(&self) -> Result<Option<MessageId>, OpenAiError> {
        match self.after.as_deref() {
            None | Some("") => Ok(None),
            Some(raw) => wire::item_message_id(raw).map(Some).ok_or_else(|| {
                OpenAiError::invalid("after must be an item id from this list.").param("after")
            }),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/responses/{id}/input_items", tag = "OpenAI: Responses", operation_id = "list_response_input_items",
    params(("id" = String, Path, description = "The response (`resp_…`)"), ListQuery),
    responses((status = 200, description = "The items the response was given", body = crate::openapi::ItemList)))]
async fn input_items(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = wire::response_id(&raw).ok_or_else(|| not_found("response", &raw))?;
    let (limit, order, after) = (query.limit()?, query.order()?, query.after()?);
    let mut input = state
        .services
        .response_input(&caller.0, id)
        .await
        .map_err(service_error("response", &raw))?;
    if order == Order::Desc {
        input.reverse();
    }
    let start = match after {
        Some(after) => input
            .iter()
            .position(|message| message.id == after)
            .map_or(input.len(), |at| at + 1),
        None => 0,
    };
    let mut data = Vec::new();
    let mut taken = 0;
    for message in &input[start..] {
        if taken == limit as usize {
            break;
        }
        let mut items = wire::message_items(message);
        if order == Order::Desc {
            items.reverse();
        }
        data.extend(items);
        taken += 1;
    }
    let has_more = start + taken < input.len();
    Ok(HttpResponse::Ok().json(wire::list(data, has_more)))
}

fn conversation_path(raw: &str) -> Result<ThreadId, OpenAiError> {
    wire::conversation_id(raw).ok_or_else(|| not_found("conversation", raw))
}

#[utoipa::path(post, path = "/api/v1/conversations", tag = "OpenAI: Conversations", operation_id = "create_conversation",
    description = "A conversation is a thread; its items are the thread's messages.",
    request_body(content = Option<crate::openapi::CreateConversationRequest>),
    responses((status = 200, description = "The conversation", body = crate::openapi::ConversationObject)))]
async fn create_conversation(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OpenAiError> {
    let fields = match body {
        // The SDK sends no body for a conversation made empty.
        Ok(bytes) if bytes.is_empty() => serde_json::Map::new(),
        body => json_body(&req, body)?,
    };
    let items = wire::items_of(fields.get("items"), "items")?;
    let metadata = wire::metadata(&fields)?;
    let thread = state
        .services
        .create_conversation(&caller.0, &items, metadata)
        .await?;
    Ok(HttpResponse::Ok().json(wire::conversation(&thread)))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "OpenAI: Conversations", operation_id = "retrieve_conversation",
    params(("id" = String, Path, description = "The conversation (`conv_…`)")),
    responses((status = 200, description = "The conversation", body = crate::openapi::ConversationObject)))]
async fn get_conversation(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = conversation_path(&raw)?;
    let thread = state
        .services
        .get_conversation(&caller.0, id)
        .await
        .map_err(service_error("conversation", &raw))?;
    Ok(HttpResponse::Ok().json(wire::conversation(&thread)))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}", tag = "OpenAI: Conversations", operation_id = "update_conversation",
    params(("id" = String, Path, description = "The conversation (`conv_…`)")),
    request_body(content = crate::openapi::UpdateConversationRequest),
    responses((status = 200, description = "The conversation", body = crate::openapi::ConversationObject)))]
async fn update_conversation(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = conversation_path(&raw)?;
    let fields = json_body(&req, body)?;
    let metadata = wire::metadata(&fields)?
        .ok_or_else(|| OpenAiError::invalid("metadata is required.").param("metadata"))?;
    let thread = state
        .services
        .update_conversation(&caller.0, id, metadata)
        .await
        .map_err(service_error("conversation", &raw))?;
    Ok(HttpResponse::Ok().json(wire::conversation(&thread)))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "OpenAI: Conversations", operation_id = "delete_conversation",
    params(("id" = String, Path, description = "The conversation (`conv_…`)")),
    responses((status = 200, description = "Deleted (the thread, softly)", body = crate::openapi::DeletedObject)))]
async fn delete_conversation(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = conversation_path(&raw)?;
    state
        .services
        .delete_conversation(&caller.0, id)
        .await
        .map_err(service_error("conversation", &raw))?;
    Ok(HttpResponse::Ok().json(json!({
        "id": wire::conv_id(id),
        "object": "conversation.deleted",
        "deleted": true,
    })))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/items", tag = "OpenAI: Conversations", operation_id = "list_conversation_items",
    params(("id" = String, Path, description = "The conversation (`conv_…`)"), ListQuery),
    responses((status = 200, description = "A page of items", body = crate::openapi::ItemList)))]
async fn list_items(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = conversation_path(&raw)?;
    let (limit, order, after) = (query.limit()?, query.order()?, query.after()?);
    let page = state
        .services
        .conversation_messages(&caller.0, id, after, limit, order)
        .await
        .map_err(service_error("conversation", &raw))?;
    let mut data = Vec::with_capacity(page.items.len());
    for message in &page.items {
        let mut items = wire::message_items(message);
        if order == Order::Desc {
            items.reverse();
        }
        data.extend(items);
    }
    Ok(HttpResponse::Ok().json(wire::list(data, page.has_more)))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/items", tag = "OpenAI: Conversations", operation_id = "create_conversation_items",
    description = "Items other than user messages are for the thread's owner and administrators.",
    params(("id" = String, Path, description = "The conversation (`conv_…`)")),
    request_body(content = crate::openapi::AddItemsRequest),
    responses((status = 200, description = "The items written", body = crate::openapi::ItemList)))]
async fn add_items(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<String>,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OpenAiError> {
    let raw = path.into_inner();
    let id = conversation_path(&raw)?;
    let fields = json_body(&req, body)?;
    let items = wire::items_of(fields.get("items"), "items")?;
    if items.is_empty() {
        return Err(OpenAiError::invalid("items must not be empty.").param("items"));
    }
    let written = state
        .services
        .add_conversation_items(&caller.0, id, &items)
        .await
        .map_err(service_error("conversation", &raw))?;
    let data = written.iter().flat_map(wire::message_items).collect();
    Ok(HttpResponse::Ok().json(wire::list(data, false)))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/items/{item}", tag = "OpenAI: Conversations", operation_id = "retrieve_conversation_item",
    params(("id" = String, Path, description = "The conversation (`conv_…`)"), ("item" = String, Path, description = "The item (`msg_…`, `fc_…` or `fco_…`)")),
    responses((status = 200, description = "The item", body = crate::openapi::OutputItem)))]
async fn get_item(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OpenAiError> {
    let (raw, item) = path.into_inner();
    let id = conversation_path(&raw)?;
    let message = wire::item_message_id(&item).ok_or_else(|| not_found("item", &item))?;
    let found = state
        .services
        .conversation_message(&caller.0, id, message)
        .await
        .map_err(service_error("item", &item))?;
    let item_json = wire::item_in(&found, &item).ok_or_else(|| not_found("item", &item))?;
    Ok(HttpResponse::Ok().json(item_json))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}/items/{item}", tag = "OpenAI: Conversations", operation_id = "delete_conversation_item",
    params(("id" = String, Path, description = "The conversation (`conv_…`)"), ("item" = String, Path, description = "The item (`msg_…`, `fc_…` or `fco_…`)")),
    responses((status = 200, description = "The conversation", body = crate::openapi::ConversationObject)))]
async fn delete_item(
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OpenAiError> {
    let (raw, item) = path.into_inner();
    let id = conversation_path(&raw)?;
    let message = wire::item_message_id(&item).ok_or_else(|| not_found("item", &item))?;
    let thread = state
        .services
        .delete_conversation_message(&caller.0, id, message)
        .await
        .map_err(service_error("item", &item))?;
    Ok(HttpResponse::Ok().json(wire::conversation(&thread)))
}
