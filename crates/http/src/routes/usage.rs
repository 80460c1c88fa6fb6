//! Usage and cost: `GET /usage` (the caller's own) and `GET /usage/system`
//! (an administrator's whole org), with `from`, `to` and `thread_id`
//! filters, in the envelope.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_services::usage::{UsageParams, UsageQuery};

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/usage` and `/usage/system`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/usage").get(mine))
        .service(web::resource("/usage/system").get(system));
}

/// The query string. Values stay strings so the service can name the field
/// that is wrong instead of the extractor refusing the whole query.
#[derive(Debug, Deserialize)]
struct UsageQueryString {
    from: Option<String>,
    to: Option<String>,
    thread_id: Option<String>,
}

impl UsageQueryString {
    fn parse(&self) -> Result<UsageQuery, ApiError> {
        Ok(UsageQuery::parse(&UsageParams {
            from: self.from.as_deref(),
            to: self.to.as_deref(),
            thread_id: self.thread_id.as_deref(),
        })?)
    }
}

async fn mine(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<UsageQueryString>,
) -> Result<HttpResponse, ApiError> {
    let query = query.parse()?;
    Ok(Envelope::ok(
        state.services.my_usage(&caller.0, &query).await?,
    ))
}

async fn system(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<UsageQueryString>,
) -> Result<HttpResponse, ApiError> {
    let query = query.parse()?;
    Ok(Envelope::ok(
        state.services.org_usage(&caller.0, &query).await?,
    ))
}
