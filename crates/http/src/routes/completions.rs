//! The OpenAI-compatible chat surface: `POST /chat/completions` speaking
//! OpenAI's own shapes instead of the envelope, so any OpenAI client works
//! against this server unchanged (`base_url=…/api/v1`, an `xl_…` key or a
//! JWT as the API key).
//!
//! Errors here are OpenAI's `{"error":{"message","type","param","code"}}`
//! with OpenAI's statuses, authentication failures included, because
//! clients (the official SDKs first) parse that shape to raise their typed
//! exceptions. Streams are Server-Sent Events of `chat.completion.chunk`
//! frames written as they arrive; a failure after the first frame becomes an
//! error frame followed by `data: [DONE]`, so clients end cleanly.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;
use xl_domain::{Actor, ThreadId};
use xl_llm::{
    ChatChunk, ChatCompletionChunk, ChatRequest, ChatRole, LlmError, MessageDelta, Usage,
};
use xl_services::ServiceError;
use xl_services::completions::{CompletionLink, CompletionStream};
use xl_services::threads::Access;

use crate::auth::Authenticated;
use crate::correlation::current_correlation_id;
use crate::error::error_chain;
use crate::{ApiError, AppState};

/// Carries the id of the `completions` record of a call, so a client's
/// report can be matched to the record.
pub(crate) const COMPLETION_ID_HEADER: &str = "x-completion-id";

/// Registers `/chat/completions`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/chat/completions").post(chat_completions));
}

/// An error in OpenAI's shape and with OpenAI's status.
#[derive(Debug)]
pub struct OpenAiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    param: Option<String>,
    code: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    retry_after: Option<u64>,
}

/// Every error of the OpenAI-compatible routes, in OpenAI's shape, which
/// the SDKs parse to raise their typed exceptions.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OpenAiErrorBody)]
pub(crate) struct ErrorBody<'a> {
    /// The error.
    error: ErrorObject<'a>,
}

/// OpenAI's error object.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OpenAiError)]
pub(crate) struct ErrorObject<'a> {
    /// What happened, for people.
    message: &'a str,
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `rate_limit_error`, `timeout` or `api_error`.
    #[serde(rename = "type")]
    kind: &'a str,
    /// The request parameter at fault (`messages`, `input[2].content[0].type`).
    param: Option<&'a str>,
    /// A machine-readable code (`model_not_found`, `token_expired`).
    code: Option<&'a str>,
}

impl OpenAiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        OpenAiError {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// A 400 `invalid_request_error`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The `{"error":{…}}` document.
    pub(crate) fn to_json(&self) -> String {
        let body = ErrorBody {
            error: ErrorObject {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code.as_deref(),
            },
        };
        serde_json::to_string(&body).unwrap_or_else(|_| {
            r#"{"error":{"message":"internal error","type":"api_error","param":null,"code":null}}"#
                .to_owned()
        })
    }

    /// Refuses a body that could not be read (too large, broken upload).
    pub(crate) fn from_payload(err: &actix_web::Error) -> Self {
        match err.as_error::<PayloadError>() {
            Some(PayloadError::Overflow) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "the request body is too large",
            )
            .code("payload_too_large"),
            _ => Self::invalid(format!("the request body could not be read: {err}")),
        }
    }
}

impl fmt::Display for OpenAiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.kind, self.message)
    }
}

impl ResponseError for OpenAiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        response
            .content_type("application/json")
            .body(self.to_json())
    }
}

/// OpenAI's spelling of a problem slug (`token-expired` → `token_expired`).
fn snake(slug: &str) -> String {
    slug.replace('-', "_")
}

impl From<ApiError> for OpenAiError {
    fn from(err: ApiError) -> Self {
        let status = err.status_code();
        match err {
            ApiError::BadRequest {
                kind,
                detail,
                errors,
            } => {
                let param = errors
                    .as_ref()
                    .and_then(|e| e.fields().next().map(str::to_owned));
                let mut out = Self::invalid(detail).code(snake(kind));
                out.param = param;
                out
            }
            ApiError::Unprocessable { detail, errors } => {
                let mut out = Self::invalid(detail);
                out.param = errors.fields().next().map(str::to_owned);
                out
            }
            ApiError::Unauthorized { kind, detail } => {
                Self::new(status, "authentication_error", detail).code(snake(kind))
            }
            ApiError::Forbidden(detail) => Self::new(status, "permission_error", detail),
            ApiError::NotFound(detail) => Self::new(status, "not_found_error", detail),
            ApiError::RateLimited {
                detail,
                retry_after,
            } => {
                let mut out =
                    Self::new(status, "rate_limit_error", detail).code("rate_limit_exceeded");
                out.retry_after = retry_after;
                out
            }
            // OpenAI answers a spent quota with 429 `insufficient_quota`,
            // which its SDKs raise as a rate-limit error that retrying
            // does not fix.
            ApiError::PaymentRequired(detail) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", detail)
                    .code("insufficient_quota")
            }
            ApiError::GatewayTimeout(detail) => {
                Self::new(status, "timeout", detail).code("timeout")
            }
            ApiError::BadGateway(detail) => {
                Self::new(status, "api_error", detail).code("upstream_error")
            }
            ApiError::Unavailable(detail) => Self::new(status, "api_error", detail),
            ApiError::Internal(cause) => {
                // The cause is logged here, inside the request's span, and
                // never sent.
                tracing::error!(cause = %cause, "internal error");
                Self::new(
                    status,
                    "api_error",
                    format!(
                        "An unexpected error occurred; quote the request id {} when reporting it.",
                        current_correlation_id()
                    ),
                )
            }
            other => Self::new(status, "invalid_request_error", other.to_string()),
        }
    }
}

impl From<LlmError> for OpenAiError {
    /// Maps a failed model call, logging an upstream failure (a 502) inside
    /// the request's span, so the log line carries the correlation id.
    fn from(err: LlmError) -> Self {
        if let LlmError::Upstream(detail) = &err {
            tracing::warn!(error = %detail, "the model provider failed");
        }
        Self::from_llm(err)
    }
}

impl OpenAiError {
    /// The OpenAI error for a failed model call; the message is safe to
    /// send (the provider keeps keys and upstream bodies out of it).
    pub(crate) fn from_llm(err: LlmError) -> Self {
        match err {
            LlmError::InvalidRequest(detail) => {
                let param = request_param(&detail);
                let mut out = Self::invalid(detail);
                out.param = param;
                out
            }
            LlmError::UnknownModel(model) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found_error",
                format!("The model `{model}` does not exist or you do not have access to it."),
            )
            .param("model")
            .code("model_not_found"),
            LlmError::RateLimited => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "The model provider is rate limiting requests; retry later.",
            )
            .code("rate_limit_exceeded"),
            LlmError::Timeout => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "The model provider did not answer in time.",
            )
            .code("timeout"),
            LlmError::Upstream(detail) => Self::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                format!("The model provider failed: {detail}"),
            )
            .code("upstream_error"),
        }
    }
}

impl From<ServiceError> for OpenAiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Llm(llm) => llm.into(),
            ServiceError::Store(store) => ApiError::Internal(error_chain(&store)).into(),
            other => ApiError::from(other).into(),
        }
    }
}

/// The request field a validation message names (`temperature must be …`,
/// `messages[2]: …`), for the error's `param`.
fn request_param(message: &str) -> Option<String> {
    let head = message.split([' ', ':', '[']).next()?;
    const FIELDS: &[&str] = &[
        "model",
        "messages",
        "temperature",
        "top_p",
        "n",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "response_format",
        "tools",
        "tool_choice",
    ];
    FIELDS.contains(&head).then(|| head.to_owned())
}

/// The caller, established like [`Authenticated`] but refused in OpenAI's
/// error shape.
#[derive(Clone, Debug)]
pub struct OpenAiCaller(pub Actor);

impl FromRequest for OpenAiCaller {
    type Error = OpenAiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, OpenAiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticated = Authenticated::from_request(req, payload);
        Box::pin(async move {
            authenticated
                .await
                .map(|Authenticated(actor)| OpenAiCaller(actor))
                .map_err(OpenAiError::from)
        })
    }
}

/// A chat-completions body taken apart: OpenAI's request, and what this
/// server adds to it.
#[derive(Debug)]
struct ParsedBody {
    request: ChatRequest,
    thread_id: Option<ThreadId>,
}

/// Parses the body: OpenAI's request plus an optional `thread_id`, with
/// `model` defaulting to the installation's default model. Every problem is
/// a 400 naming the parameter, as OpenAI reports it (never a 422).
fn parse_body(body: &[u8], default_model: &str) -> Result<ParsedBody, OpenAiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        OpenAiError::invalid(format!(
            "We could not parse the JSON body of your request: {err}"
        ))
    })?;
    let Value::Object(mut fields) = value else {
        return Err(OpenAiError::invalid(
            "The request body must be a JSON object.",
        ));
    };
    // `thread_id` is this server's parameter: taken out here so that it is
    // never forwarded upstream with the vendor parameters.
    let thread_id = match fields.remove("thread_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(raw.parse::<ThreadId>().map_err(|_| {
            OpenAiError::invalid("thread_id must be a thread's id (a UUID).").param("thread_id")
        })?),
        Some(_) => {
            return Err(OpenAiError::invalid("thread_id must be a string.").param("thread_id"));
        }
    };
    match fields.get("model") {
        None | Some(Value::Null) => {
            fields.insert("model".into(), Value::String(default_model.to_owned()));
        }
        Some(Value::String(model)) if model.trim().is_empty() => {
            fields.insert("model".into(), Value::String(default_model.to_owned()));
        }
        Some(_) => {}
    }
    let request: ChatRequest = serde_json::from_value(Value::Object(fields)).map_err(|err| {
        let message = err.to_string();
        let mut out = OpenAiError::invalid(format!("Invalid request body: {message}"));
        out.param = backticked(&message);
        out
    })?;
    Ok(ParsedBody { request, thread_id })
}

/// The first `quoted` word of a serde message (`missing field `messages``).
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let field = &message[start..start + len];
    (message.contains("field") && !field.is_empty()).then(|| field.to_owned())
}

#[utoipa::path(post, path = "/api/v1/chat/completions", tag = "OpenAI: Chat", operation_id = "create_chat_completion",
    description = "OpenAI's Chat Completions, recorded in the usage ledger (the record's id in `X-Completion-Id`). With `stream: true` the answer is server-sent events of `chat.completion.chunk` objects (`data: {…}`), then `data: [DONE]`; a failure after the first frame is an error frame before `[DONE]`.",
    request_body(content = crate::openapi::ChatCompletionRequest),
    responses(
        (status = 200, description = "The completion, or its chunks as events",
            content(
                (xl_llm::ChatResponse = "application/json"),
                (crate::openapi::ServerSentEvent = "text/event-stream", example = json!("data: {\"id\":\"chatcmpl-…\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n")),
            ),
            headers(("X-Completion-Id" = String, description = "The call's record in the usage ledger"))),
        (status = 404, description = "The model, or `thread_id`, was not found"),
        (status = 502, description = "The model provider failed"),
        (status = 504, description = "The model provider did not answer in time"),
    ))]
async fn chat_completions(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: OpenAiCaller,
    body: Result<Bytes, actix_web::Error>,
) -> Result<HttpResponse, OpenAiError> {
    let body = json_bytes(&req, body)?;
    let services = &state.services;
    let ParsedBody { request, thread_id } = parse_body(&body, services.default_model())?;
    request.validate()?;
    let actor = caller.0;
    if let Some(thread) = thread_id {
        // A thread the caller cannot read is reported as not found, so ids
        // do not leak across users or orgs.
        services
            .thread_for(&actor, thread, Access::Read)
            .await
            .map_err(|err| match err {
                ServiceError::NotFound(_) => OpenAiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found_error",
                    "No thread with that id.",
                )
                .param("thread_id")
                .code("thread_not_found"),
                other => other.into(),
            })?;
    }
    let link = CompletionLink {
        thread_id,
        message_id: None,
    };
    // The model call runs in a task of its own (in the request's span, so
    // its log lines keep the correlation id): actix may drop a handler whose
    // client went away, and the call must still finish and be recorded (a
    // whole reply as it was billed; a stream as cancelled, when the task
    // drops it unread).
    let services = Arc::clone(services);
    if request.stream != Some(true) {
        let call = async move { services.complete(&actor, request, link).await };
        let call = tokio::spawn(call.in_current_span());
        let (id, response) = call.await.map_err(panicked)??;
        return Ok(HttpResponse::Ok()
            .insert_header((COMPLETION_ID_HEADER, id.to_string()))
            .json(response));
    }
    let include_usage = request
        .stream_options
        .and_then(|options| options.include_usage)
        .unwrap_or(false);
    let model = request.model.clone();
    let call = async move { services.complete_stream(&actor, request, link).await };
    let call = tokio::spawn(call.in_current_span());
    let stream = call.await.map_err(panicked)??;
    let id = stream.id;
    let frames = SseFrames::new(stream, model, include_usage);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Asks nginx and similar proxies not to buffer the stream.
        .insert_header((
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        ))
        .insert_header((COMPLETION_ID_HEADER, id.to_string()))
        .streaming(frames))
}

/// The bytes of a JSON body, refused in OpenAI's shape when the request does
/// not say it is JSON or could not be read.
pub(crate) fn json_bytes(
    req: &HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> Result<Bytes, OpenAiError> {
    if !crate::body::is_json(req) {
        return Err(OpenAiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "The body must be JSON sent with Content-Type: application/json.",
        )
        .code("unsupported_media_type"));
    }
    body.map_err(|err| OpenAiError::from_payload(&err))
}

/// A model-call task that panicked (a bug): a 500, the cause logged.
pub(crate) fn panicked(err: tokio::task::JoinError) -> OpenAiError {
    ApiError::Internal(format!("the model call failed: {err}")).into()
}

/// The SSE body of a streamed completion: one `data:` frame per chunk,
/// written as each arrives, then `data: [DONE]`.
///
/// The service's stream is polled until it ends (not only until the finish
/// chunk), because it records the call as complete only then; dropping this
/// body early (the client went away) drops it and records the call as
/// cancelled.
struct SseFrames {
    inner: Option<CompletionStream>,
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
    role_sent: bool,
    queued: VecDeque<Bytes>,
    correlation_id: String,
}

impl SseFrames {
    fn new(inner: CompletionStream, model: String, include_usage: bool) -> Self {
        let created = chrono::Utc::now().timestamp();
        SseFrames {
            id: format!("chatcmpl-{}", inner.id.as_uuid().simple()),
            inner: Some(inner),
            created,
            model,
            include_usage,
            role_sent: false,
            queued: VecDeque::with_capacity(4),
            correlation_id: current_correlation_id(),
        }
    }

    fn data(value: &impl Serialize) -> Bytes {
        let mut frame = Vec::with_capacity(256);
        frame.extend_from_slice(b"data: ");
        if serde_json::to_writer(&mut frame, value).is_err() {
            // Serializing these plain types cannot fail; should it ever,
            // a comment line keeps the stream well-formed.
            return Bytes::from_static(b": unserializable chunk\n\n");
        }
        frame.extend_from_slice(b"\n\n");
        Bytes::from(frame)
    }

    fn on_chunk(&mut self, chunk: &ChatChunk) {
        let mut wire = chunk.to_wire(&self.id, self.created, &self.model);
        // OpenAI names the role in the first delta; some clients rely on it.
        if !self.role_sent
            && let Some(first) = wire.choices.first_mut()
        {
            first.delta = MessageDelta {
                role: Some(ChatRole::Assistant),
                ..std::mem::take(&mut first.delta)
            };
            self.role_sent = true;
        }
        self.queued.push_back(Self::data(&wire));
        if let ChatChunk::Finish { usage, .. } = chunk
            && self.include_usage
        {
            let usage = usage.unwrap_or_else(Usage::default);
            let last = ChatCompletionChunk::usage_only(&self.id, self.created, &self.model, usage);
            self.queued.push_back(Self::data(&last));
        }
    }

    fn on_error(&mut self, err: LlmError) {
        // The body is written after the request's span has closed, so the
        // correlation id is named explicitly.
        tracing::warn!(
            correlation_id = %self.correlation_id,
            error = %err,
            "the model provider failed mid-stream"
        );
        let error = OpenAiError::from_llm(err);
        let mut frame = Vec::with_capacity(256);
        frame.extend_from_slice(b"data: ");
        frame.extend_from_slice(error.to_json().as_bytes());
        frame.extend_from_slice(b"\n\n");
        self.queued.push_back(Bytes::from(frame));
    }
}

impl Stream for SseFrames {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(frame) = this.queued.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.on_chunk(&chunk),
                Poll::Ready(Some(Err(err))) => {
                    this.on_error(err);
                    this.queued
                        .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                    this.inner = None;
                }
                Poll::Ready(None) => {
                    this.queued
                        .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                    this.inner = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_takes_thread_id_out_and_defaults_the_model() {
        let thread = ThreadId::new();
        let body = serde_json::json!({
            "messages": [{"role": "user", "content": "hi"}],
            "thread_id": thread.to_string(),
            "top_k": 3
        });
        let parsed = parse_body(body.to_string().as_bytes(), "echo").unwrap();
        assert_eq!(parsed.request.model, "echo");
        assert_eq!(parsed.thread_id, Some(thread));
        assert!(!parsed.request.extra.contains_key("thread_id"));
        assert_eq!(parsed.request.extra["top_k"], 3);
    }

    #[test]
    fn bad_bodies_are_400s_naming_the_parameter() {
        let cases = [
            ("{", None),
            ("[]", None),
            (r#"{"model":"m"}"#, Some("messages")),
            (r#"{"messages":[],"thread_id":"nope"}"#, Some("thread_id")),
            (r#"{"messages":[],"thread_id":7}"#, Some("thread_id")),
        ];
        for (body, param) in cases {
            let err = parse_body(body.as_bytes(), "m").unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.kind, "invalid_request_error");
            assert_eq!(err.param.as_deref(), param, "{body}");
        }
        assert_eq!(
            request_param("temperature must be between 0 and 2").as_deref(),
            Some("temperature")
        );
        assert_eq!(
            request_param("messages[1]: a tool message needs tool_call_id").as_deref(),
            Some("messages")
        );
        assert_eq!(request_param("something else"), None);
    }

    #[test]
    fn llm_errors_have_openai_statuses_and_types() {
        let cases = [
            (LlmError::UnknownModel("m".into()), 404, "not_found_error"),
            (LlmError::RateLimited, 429, "rate_limit_error"),
            (LlmError::Timeout, 504, "timeout"),
            (LlmError::Upstream("x".into()), 502, "api_error"),
            (
                LlmError::InvalidRequest("n must be".into()),
                400,
                "invalid_request_error",
            ),
        ];
        for (err, status, kind) in cases {
            let err = OpenAiError::from(err);
            assert_eq!(err.status.as_u16(), status);
            assert_eq!(err.kind, kind);
            let body: Value = serde_json::from_str(&err.to_json()).unwrap();
            let keys: Vec<&String> = body["error"].as_object().unwrap().keys().collect();
            assert_eq!(keys, ["code", "message", "param", "type"]);
        }
    }

    proptest::proptest! {
        /// Any body field name or model is parsed without a panic.
        #[test]
        fn any_field_or_model_is_parsed_without_panicking(name in "\\PC{0,16}", model in "\\PC{0,16}") {
            let body = serde_json::json!({ name.clone(): 1, "model": model,
                "messages": [{"role": "user", "content": "hi"}] });
            let _ = parse_body(body.to_string().as_bytes(), "echo");
            let _ = backticked(&format!("unknown field `{name}`"));
        }
    }
}
