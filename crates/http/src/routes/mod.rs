//! The route table.
//!
//! Routes are registered as resources so a known path with the wrong method
//! answers 405 instead of falling through to 404.

pub(crate) mod analytics;
pub(crate) mod api_keys;
pub(crate) mod artifacts;
pub(crate) mod audit;
pub mod auth;
pub(crate) mod completions;
pub(crate) mod events;
pub(crate) mod files;
pub(crate) mod health;
pub(crate) mod interactive;
pub(crate) mod messages;
pub(crate) mod models;
pub(crate) mod oauth;
pub(crate) mod preferences;
pub(crate) mod reactions;
pub(crate) mod responses;
pub(crate) mod search;
pub(crate) mod threads;
pub(crate) mod usage;
pub(crate) mod users;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").get(health::liveness))
        .configure(crate::metrics::configure)
        .configure(users::configure_legacy)
        .service(
            web::scope("/api/v1")
                // actix tries resources in registration order, matching each
                // dynamic pattern with a regex: the hottest routes go first.
                .configure(messages::configure)
                .configure(completions::configure)
                .configure(responses::configure)
                .service(web::resource(["", "/"]).get(health::version))
                .service(web::resource("/health").get(health::readiness))
                .configure(auth::configure)
                .configure(oauth::configure)
                .configure(api_keys::configure)
                .configure(preferences::configure)
                .configure(users::configure)
                .configure(threads::configure)
                .configure(events::configure)
                .configure(crate::ws::configure)
                .configure(reactions::configure)
                .configure(files::configure)
                .configure(search::configure)
                .configure(artifacts::configure)
                .configure(interactive::configure)
                .configure(models::configure)
                .configure(usage::configure)
                .configure(audit::configure)
                .configure(analytics::configure),
        )
        // The console last: its two routes are for page loads, not API traffic.
        .configure(crate::console::configure);
}

/// The answer for any path no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
