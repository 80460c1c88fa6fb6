//! Liveness and readiness.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{ServiceError, Services};

/// The process is up.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    pub status: &'static str,
    /// The server version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
}

/// The process can serve: its database answers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ok` (a failure is an error).
    pub status: &'static str,
    /// The database check.
    pub database: DatabaseCheck,
}

/// The result of pinging the database.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseCheck {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Round-trip time of the ping.
    pub latency_ms: f64,
}

/// Reports that the process is alive, without touching dependencies.
pub fn liveness(services: &Services) -> Liveness {
    Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: services.started_at.elapsed().as_secs(),
    }
}

/// Pings the database within `timeout`.
pub async fn readiness(services: &Services, timeout: Duration) -> Result<Readiness, ServiceError> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, services.store.ping()).await {
        Ok(Ok(())) => Ok(Readiness {
            status: "ok",
            database: DatabaseCheck {
                backend: match services.store.backend() {
                    xl_store::Backend::Sqlite => "sqlite",
                    xl_store::Backend::Postgres => "postgres",
                },
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            },
        }),
        Ok(Err(err)) => {
            tracing::error!(error = %err, "database ping failed");
            Err(ServiceError::Unavailable(
                "the database is not answering".into(),
            ))
        }
        Err(_) => Err(ServiceError::Unavailable(
            "the database did not answer in time".into(),
        )),
    }
}
