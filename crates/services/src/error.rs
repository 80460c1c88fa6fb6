//! The one error type of the service layer; each variant says the HTTP status
//! an adapter should give it.

use xl_domain::{DomainError, FieldErrors};

use crate::auth::AuthFailure;
use xl_store::StoreError;

/// Why a service call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is malformed. Returns 400 Bad Request.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The caller is not authenticated. Returns 401 Unauthorized.
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// The caller may not do this. Returns 403 Forbidden.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist or is not visible to the caller. Returns 404 Not Found.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with existing state. Returns 409 Conflict.
    #[error("{0}")]
    Conflict(String),
    /// The caller's `If-Match` names a version that is no longer current.
    /// Returns 412 Precondition Failed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// Well-formed input that a rule refuses, such as a field the caller may
    /// not set. Returns 422 Unprocessable Entity.
    #[error("{0:?}")]
    Unprocessable(FieldErrors),
    /// An upload passed the size limit. Returns 413 Payload Too Large.
    #[error("the file exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The range asked for selects nothing of the file. Returns 416 Range
    /// Not Satisfiable.
    #[error("the range selects nothing of the file's {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The file store failed. Returns 500 Internal Server Error (cause logged only).
    #[error("file store failure")]
    FileStore(#[source] crate::files::StorageError),
    /// A dependency is down. Returns 503 Service Unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// A rate limit refused the request. Returns 429 Too Many Requests,
    /// with `Retry-After`.
    #[error("{0}")]
    RateLimited(crate::limits::Refused),
    /// A monthly budget is spent. Returns 402 Payment Required.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The model call failed; the variant of the inner error names the
    /// status (400, 404, 429, 502, 504).
    #[error(transparent)]
    Llm(#[from] xl_llm::LlmError),
    /// A storage failure. Returns 500 Internal Server Error (cause logged only).
    #[error("storage failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(resource) => ServiceError::NotFound(resource),
            other => ServiceError::Store(other),
        }
    }
}

impl ServiceError {
    /// Maps a unique-constraint violation to a 409 with the given message,
    /// passing every other error through.
    pub fn on_unique(message: impl Into<String>) -> impl FnOnce(StoreError) -> ServiceError {
        move |err| {
            if err.is_conflict() {
                ServiceError::Conflict(message.into())
            } else {
                ServiceError::from(err)
            }
        }
    }
}
