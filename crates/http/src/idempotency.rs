//! Runs create handlers under an `Idempotency-Key`: the first response is
//! recorded and replayed for the same key and body (with
//! `Idempotent-Replayed: true`), a different body with the same key is a 422.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use xl_domain::Actor;
use xl_services::idempotency::Outcome;

use crate::{ApiError, AppState, Envelope};

/// The request header that carries the key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Runs `work` once per key; without a key it just runs.
pub async fn idempotent<T, F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    actor: &Actor,
    body: &[u8],
    status: StatusCode,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|value| value.to_str().map(str::to_owned));
    let key = match key {
        None => return Ok(Envelope::with_status(status, work().await?)),
        Some(Ok(key)) => key,
        Some(Err(_)) => {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "must be visible ASCII",
            ));
        }
    };
    let services = &state.services;
    let outcome = services
        // The query string is part of the request (`?reply=stream` changes the answer).
        .idempotency_claim(
            actor,
            &key,
            req.method().as_str(),
            req.uri()
                .path_and_query()
                .map_or(req.path(), |pq| pq.as_str()),
            body,
        )
        .await?;
    if let Outcome::Replay { status, body } = outcome {
        let data: serde_json::Value = serde_json::from_str(&body).map_err(|err| {
            ApiError::Internal(format!("stored idempotent response is not JSON: {err}"))
        })?;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let mut response = Envelope::with_status(status, data);
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("idempotent-replayed"),
            actix_web::http::header::HeaderValue::from_static("true"),
        );
        return Ok(response);
    }
    match work().await {
        Ok(data) => {
            let json = serde_json::to_string(&data).map_err(|err| {
                ApiError::Internal(format!("response is not serializable: {err}"))
            })?;
            services
                .idempotency_complete(actor, &key, status.as_u16(), &json)
                .await?;
            Ok(Envelope::with_status(status, data))
        }
        Err(err) => {
            if let Err(release) = services.idempotency_release(actor, &key).await {
                tracing::error!(error = %release, "releasing an idempotency key failed");
            }
            Err(err)
        }
    }
}
