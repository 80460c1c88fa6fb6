//! JSON bodies read as bytes, for handlers that need the raw body too
//! (idempotency fingerprints), with the same errors as `web::Json`.

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::error::json_error;

/// Parses a JSON object body, refusing other content types (415) and naming
/// the field of a well-formed body of the wrong shape (422).
pub fn parse_json<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType(
            "the body must be JSON sent with Content-Type: application/json".into(),
        ));
    }
    // Objects only: a derived struct would also take an array by position.
    serde_json::from_slice::<xl_domain::object::Object<T>>(body)
        .map(xl_domain::object::Object::into_inner)
        .map_err(|err| json_error(&err))
}

/// Whether the request says its body is JSON. Requiring it keeps HTML
/// forms (`text/plain`, `application/x-www-form-urlencoded`), which a
/// cross-site page may send without a preflight, away from JSON routes.
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json")
                || (ct.starts_with("application/") && ct.contains("+json"))
        })
}

/// Reads a request body up to `limit` bytes; a larger body is a 413 problem.
pub async fn read_body(
    mut payload: actix_web::web::Payload,
    limit: usize,
) -> Result<actix_web::web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut body = actix_web::web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| ApiError::BadRequest {
            kind: "malformed-body",
            detail: format!("the request body could not be read: {err}"),
            errors: None,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
