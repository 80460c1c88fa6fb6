//! Liveness, readiness and version.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use xl_services::health;

use crate::{API_VERSION, ApiError, AppState, Envelope};

/// `GET /health`: the process is up.
pub async fn liveness(state: web::Data<AppState>) -> HttpResponse {
    Envelope::ok(health::liveness(&state.services))
}

/// `GET /api/v1/health`: the database answers.
pub async fn readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let report = health::readiness(&state.services, Duration::from_secs(2)).await?;
    Ok(Envelope::ok(report))
}

#[derive(Serialize)]
struct VersionInfo {
    name: &'static str,
    version: &'static str,
    api_version: &'static str,
    endpoints: Endpoints,
}

#[derive(Serialize)]
struct Endpoints {
    health: &'static str,
    readiness: &'static str,
}

/// `GET /api/v1`: what this server is.
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
