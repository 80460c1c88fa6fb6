//! Maps every failure to an RFC 7807 problem inside the error envelope:
//! `{"success":false,"error":{"type","title","status","detail","errors","timestamp","trace_id"}}`
//! with `Content-Type: application/problem+json`.

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use xl_domain::{DomainError, FieldErrors};
use xl_services::ServiceError;

use crate::correlation::current_correlation_id;
use crate::envelope::now_rfc3339;

/// Where problem types are documented.
const PROBLEM_BASE: &str = "https://experience-layer.dev/problems/";

/// An error as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed. Returns 400 Bad Request.
    #[error("{detail}")]
    BadRequest {
        /// Problem slug, such as `malformed-json`.
        kind: &'static str,
        /// What is wrong.
        detail: String,
        /// Field errors, if any.
        errors: Option<FieldErrors>,
    },
    /// Authentication is missing or invalid. Returns 401 Unauthorized.
    #[error("{detail}")]
    Unauthorized {
        /// Problem slug, such as `invalid-token`.
        kind: &'static str,
        /// Why.
        detail: String,
    },
    /// A browser without a session is sent to the login page. Returns 302 Found.
    #[error("sign-in required")]
    LoginRedirect(String),
    /// The caller may not do this. Returns 403 Forbidden.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing here, or nothing the caller may see. Returns 404 Not Found.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method. Returns 405 Method Not Allowed.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with current state. Returns 409 Conflict.
    #[error("{0}")]
    Conflict(String),
    /// A conditional request's precondition (`If-Match`) does not hold.
    /// Returns 412 Precondition Failed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The body is larger than allowed. Returns 413 Payload Too Large.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The range asked for selects nothing. Returns 416 Range Not
    /// Satisfiable, with `Content-Range: bytes */size`.
    #[error("the range selects nothing of the file's {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The body is not JSON. Returns 415 Unsupported Media Type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed JSON with fields that are unknown, missing or of the wrong
    /// type. Returns 422 Unprocessable Entity.
    #[error("{detail}")]
    Unprocessable {
        /// What is wrong.
        detail: String,
        /// Field errors.
        errors: FieldErrors,
    },
    /// Too many requests. Returns 429 Too Many Requests, with `Retry-After`
    /// when it is known.
    #[error("{detail}")]
    RateLimited {
        /// What refused.
        detail: String,
        /// Seconds until a retry may succeed.
        retry_after: Option<u64>,
    },
    /// A budget is spent. Returns 402 Payment Required.
    #[error("{0}")]
    PaymentRequired(String),
    /// An upstream failed. Returns 502 Bad Gateway.
    #[error("{0}")]
    BadGateway(String),
    /// An upstream did not answer in time. Returns 504 Gateway Timeout.
    #[error("{0}")]
    GatewayTimeout(String),
    /// A dependency is down. Returns 503 Service Unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure. Returns 500; the cause is logged,
    /// never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming one field.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        ApiError::from(DomainError::invalid(field, reason))
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { kind, .. } => (StatusCode::BAD_REQUEST, kind, "Bad Request"),
            ApiError::Unauthorized { kind, .. } => (StatusCode::UNAUTHORIZED, kind, "Unauthorized"),
            ApiError::LoginRedirect(_) => (StatusCode::FOUND, "login-required", "Found"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not Found"),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method Not Allowed",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition Failed",
            ),
            ApiError::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload Too Large",
            ),
            ApiError::RangeNotSatisfiable { .. } => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                "Range Not Satisfiable",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported Media Type",
            ),
            ApiError::Unprocessable { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable-entity",
                "Unprocessable Entity",
            ),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too Many Requests",
            ),
            ApiError::PaymentRequired(_) => (
                StatusCode::PAYMENT_REQUIRED,
                "budget-exceeded",
                "Payment Required",
            ),
            ApiError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "bad-gateway", "Bad Gateway"),
            ApiError::GatewayTimeout(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                "gateway-timeout",
                "Gateway Timeout",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service-unavailable",
                "Service Unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "Internal Server Error",
            ),
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "An unexpected error occurred; quote the trace_id when reporting it.".to_owned()
            }
            other => other.to_string(),
        }
    }

    fn field_errors(&self) -> Option<&FieldErrors> {
        match self {
            ApiError::BadRequest { errors, .. } => errors.as_ref(),
            ApiError::Unprocessable { errors, .. } => Some(errors),
            _ => None,
        }
    }
}

/// An RFC 7807 problem document.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Problem<'a> {
    /// `https://experience-layer.dev/problems/<slug>`, the slug naming the kind of failure.
    #[serde(rename = "type")]
    kind: String,
    /// The HTTP status's reason phrase.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What happened, for people.
    detail: String,
    /// Field errors keyed by field path (`content`, `actions[0].action_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a FieldErrors>,
    /// When (RFC 3339, UTC).
    timestamp: String,
    /// The request's correlation id, to quote when reporting a problem.
    trace_id: String,
}

/// Every error outside the OpenAI-compatible routes: a problem inside the
/// error envelope, sent as `application/problem+json`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ProblemEnvelope<'a> {
    /// Always false.
    success: bool,
    /// The problem.
    error: Problem<'a>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::LoginRedirect(location) = self {
            return HttpResponse::Found()
                .insert_header((actix_web::http::header::LOCATION, location.as_str()))
                .finish();
        }
        let (status, kind, title) = self.parts();
        if let ApiError::Internal(cause) = self {
            tracing::error!(cause = %cause, "internal error");
        }
        let body = ProblemEnvelope {
            success: false,
            error: Problem {
                kind: format!("{PROBLEM_BASE}{kind}"),
                title,
                status: status.as_u16(),
                detail: self.detail(),
                errors: self.field_errors(),
                timestamp: now_rfc3339(),
                trace_id: current_correlation_id(),
            },
        };
        let json = serde_json::to_string(&body).unwrap_or_else(|_| {
            r#"{"success":false,"error":{"title":"Internal Server Error","status":500}}"#.to_owned()
        });
        let mut response = HttpResponse::build(status);
        if let ApiError::RateLimited {
            retry_after: Some(seconds),
            ..
        } = self
        {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        if let ApiError::RangeNotSatisfiable { size } = self {
            response.insert_header((
                actix_web::http::header::CONTENT_RANGE,
                format!("bytes */{size}"),
            ));
        }
        response.content_type("application/problem+json").body(json)
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        let kind = match err {
            DomainError::Validation(_) => "validation-error",
            _ => "invalid-parameter",
        };
        ApiError::BadRequest {
            kind,
            detail: err.to_string(),
            errors: Some(err.field_errors()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(domain) => domain.into(),
            ServiceError::Unauthenticated(failure) => ApiError::Unauthorized {
                kind: failure.slug(),
                detail: failure.to_string(),
            },
            ServiceError::Unprocessable(errors) => ApiError::Unprocessable {
                detail: format!(
                    "the request cannot be applied: {}",
                    errors.fields().collect::<Vec<_>>().join(", ")
                ),
                errors,
            },
            ServiceError::Forbidden(detail) => ApiError::Forbidden(detail),
            ServiceError::NotFound(resource) => ApiError::NotFound(format!("{resource} not found")),
            ServiceError::Conflict(detail) => ApiError::Conflict(detail),
            ServiceError::PreconditionFailed(detail) => ApiError::PreconditionFailed(detail),
            ServiceError::Unavailable(detail) => ApiError::Unavailable(detail),
            ServiceError::RateLimited(refused) => ApiError::RateLimited {
                detail: refused.to_string(),
                retry_after: Some(refused.retry_after.as_secs().max(1)),
            },
            ServiceError::BudgetExceeded(detail) => ApiError::PaymentRequired(detail),
            ServiceError::Llm(llm) => ApiError::from(llm),
            ServiceError::Store(store) => ApiError::Internal(error_chain(&store)),
            ServiceError::TooLarge { limit } => ApiError::PayloadTooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            ServiceError::RangeNotSatisfiable { size } => ApiError::RangeNotSatisfiable { size },
            ServiceError::FileStore(err) => ApiError::Internal(error_chain(&err)),
        }
    }
}

impl From<xl_llm::LlmError> for ApiError {
    fn from(err: xl_llm::LlmError) -> Self {
        use xl_llm::LlmError;
        match err {
            LlmError::InvalidRequest(detail) => ApiError::BadRequest {
                kind: "invalid-request",
                detail,
                errors: None,
            },
            LlmError::UnknownModel(model) => ApiError::NotFound(format!("model {model} not found")),
            LlmError::RateLimited => ApiError::RateLimited {
                detail: "the model provider is rate limiting; retry later".into(),
                retry_after: None,
            },
            LlmError::Timeout => {
                ApiError::GatewayTimeout("the model provider did not answer in time".into())
            }
            LlmError::Upstream(detail) => {
                ApiError::BadGateway(format!("the model provider failed: {detail}"))
            }
        }
    }
}

impl From<JsonPayloadError> for ApiError {
    fn from(err: JsonPayloadError) -> Self {
        match err {
            JsonPayloadError::OverflowKnownLength { limit, .. }
            | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge { limit },
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                "the body must be JSON sent with Content-Type: application/json".into(),
            ),
            JsonPayloadError::Deserialize(err) => json_error(&err),
            JsonPayloadError::Payload(PayloadError::Overflow) => {
                ApiError::PayloadTooLarge { limit: 0 }
            }
            other => ApiError::BadRequest {
                kind: "malformed-body",
                detail: format!("the request body could not be read: {other}"),
                errors: None,
            },
        }
    }
}

/// Tells malformed JSON (400) from well-formed JSON of the wrong shape (422),
/// naming the field when serde names it.
pub(crate) fn json_error(err: &serde_json::Error) -> ApiError {
    let message = err.to_string();
    if err.is_syntax() || err.is_eof() {
        return ApiError::BadRequest {
            kind: "malformed-json",
            detail: format!("the request body is not valid JSON: {message}"),
            errors: None,
        };
    }
    let field = backticked(&message).unwrap_or_else(|| "body".to_owned());
    let mut errors = FieldErrors::new();
    let reason = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    errors.add(field, reason.clone());
    ApiError::Unprocessable {
        detail: reason,
        errors,
    }
}

/// The first `quoted` word of a serde message (`unknown field `role``).
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let field = &message[start..start + len];
    (message.contains("field") && !field.is_empty()).then(|| field.to_owned())
}

impl From<QueryPayloadError> for ApiError {
    fn from(err: QueryPayloadError) -> Self {
        ApiError::BadRequest {
            kind: "invalid-parameter",
            detail: format!("invalid query string: {err}"),
            errors: None,
        }
    }
}

impl From<PathError> for ApiError {
    fn from(err: PathError) -> Self {
        ApiError::BadRequest {
            kind: "invalid-parameter",
            detail: format!("invalid path: {err}"),
            errors: None,
        }
    }
}

/// Formats an error with all its sources, for the log.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Replaces actix's empty 405 with a problem document.
pub(crate) fn method_not_allowed<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (req, _) = res.into_parts();
    let mut response = ApiError::MethodNotAllowed.error_response();
    // The document knows every route's methods (and a test holds it to the
    // route table), so it names them.
    let allow = req
        .match_pattern()
        .and_then(|pattern| crate::openapi::allowed_methods(&pattern))
        .and_then(|methods| actix_web::http::header::HeaderValue::from_str(methods).ok());
    if let Some(allow) = allow {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, allow);
    }
    let res: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let err = serde_json::from_str::<xl_domain::users::NewUser>(
            r#"{"email":"a@b.co","name":"x","role":"ADMIN","admin":true}"#,
        )
        .unwrap_err();
        let ApiError::Unprocessable { errors, .. } = json_error(&err) else {
            panic!("expected 422");
        };
        assert_eq!(errors.fields().collect::<Vec<_>>(), vec!["admin"]);

        let err =
            serde_json::from_str::<xl_domain::users::NewUser>(r#"{"email":"a@b.co"}"#).unwrap_err();
        let ApiError::Unprocessable { errors, .. } = json_error(&err) else {
            panic!("expected 422");
        };
        assert_eq!(errors.fields().collect::<Vec<_>>(), vec!["name"]);
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        let err = serde_json::from_str::<serde_json::Value>("{\"a\":").unwrap_err();
        assert_eq!(json_error(&err).status_code(), StatusCode::BAD_REQUEST);
    }

    proptest::proptest! {
        /// serde quotes the client's own field names; any of them is named
        /// without a panic.
        #[test]
        fn any_unknown_field_name_is_named(name in "\\PC{0,20}") {
            let body = serde_json::json!({ name.clone(): 1, "email": "a@b.co", "name": "x" });
            if let Err(err) = serde_json::from_value::<xl_domain::users::NewUser>(body) {
                let _ = json_error(&err);
                let _ = backticked(&err.to_string());
            }
        }
    }
}
