//! Liveness, readiness and version.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use xl_services::health;

use crate::{API_VERSION, ApiError, AppState, Envelope};

/// `GET /health`: the process is up.
#[utoipa::path(get, path = "/health", tag = "Health", operation_id = "liveness", security(()),
    responses((status = 200, description = "The process is up", body = Envelope<health::Liveness>)))]
pub async fn liveness(state: web::Data<AppState>) -> HttpResponse {
    Envelope::ok(health::liveness(&state.services))
}

/// `GET /api/v1/health`: the database answers.
#[utoipa::path(get, path = "/api/v1/health", tag = "Health", operation_id = "readiness", security(()),
    responses(
        (status = 200, description = "The database answers", body = Envelope<health::Readiness>),
        (status = 503, description = "The database did not answer within 2 s"),
    ))]
pub async fn readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let report = health::readiness(&state.services, Duration::from_secs(2)).await?;
    Ok(Envelope::ok(report))
}

/// What this server is.
#[derive(Serialize, utoipa::ToSchema)]
struct VersionInfo {
    name: &'static str,
    version: &'static str,
    api_version: &'static str,
    endpoints: Endpoints,
}

/// Where the health checks are.
#[derive(Serialize, utoipa::ToSchema)]
struct Endpoints {
    health: &'static str,
    readiness: &'static str,
}

/// `GET /api/v1`: what this server is.
#[utoipa::path(get, path = "/api/v1", tag = "Health", operation_id = "version", security(()),
    description = "Also served at `/api/v1/`.",
    responses((status = 200, description = "What this server is", body = Envelope<VersionInfo>)))]
pub async fn version() -> HttpResponse {
    Envelope::ok(VersionInfo {
        name: "experience-layer",
        version: env!("CARGO_PKG_VERSION"),
        api_version: API_VERSION,
        endpoints: Endpoints {
            health: "/health",
            readiness: "/api/v1/health",
        },
    })
}
