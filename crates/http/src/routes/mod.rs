//! The route table.
//!
//! Routes are registered as resources so a known path with the wrong method
//! answers 405 instead of falling through to 404.

mod health;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").get(health::liveness))
        .service(
            web::scope("/api/v1")
                .service(web::resource(["", "/"]).get(health::version))
                .service(web::resource("/health").get(health::readiness)),
        );
}

/// The answer for any path no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
