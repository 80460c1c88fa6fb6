//! `Idempotency-Key` on creates: the header and the request it guards (the
//! method, the path with its query, since `?reply=stream` changes the
//! answer, and the body) become a service [`Retry`]; a replayed create is
//! answered as the first was, with `Idempotent-Replayed: true`.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use xl_services::idempotency::{Once, Retry};

use crate::{ApiError, Envelope};

/// The request header that carries the key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The request's [`Retry`], if it carries a key.
pub fn retry_of(req: &HttpRequest, body: &[u8]) -> Result<Option<Retry>, ApiError> {
    let Some(key) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = key
        .to_str()
        .map_err(|_| ApiError::invalid_field("Idempotency-Key", "must be visible ASCII"))?;
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |pq| pq.as_str());
    let parts: [&[u8]; 3] = [req.method().as_str().as_bytes(), target.as_bytes(), body];
    Ok(Some(Retry::new("Idempotency-Key", key, &parts)?))
}

/// The response to a create, made now or replayed.
pub fn created<T: Serialize>(once: Once<T>) -> HttpResponse {
    let replayed = once.is_replayed();
    let mut response = Envelope::with_status(StatusCode::CREATED, once.into_inner());
    if replayed {
        response.headers_mut().insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    response
}
