//! Usage and cost: `GET /usage` (the caller's own) and `GET /usage/system`
//! (an administrator's whole org), with `from`, `to` and `thread_id`
//! filters, in the envelope.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_services::usage::{UsageParams, UsageQuery, UsageReport};

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/usage` and `/usage/system`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/usage").get(mine))
        .service(web::resource("/usage/system").get(system));
}

/// The query string. Values stay strings so the service can name the field
/// that is wrong instead of the extractor refusing the whole query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageQueryString {
    /// From this day or time (RFC 3339 or `YYYY-MM-DD`, UTC); unbounded when absent.
    from: Option<String>,
    /// Up to this day or time; a day is included whole.
    to: Option<String>,
    /// Only calls made in this thread.
    #[param(value_type = Option<xl_domain::ThreadId>)]
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

#[utoipa::path(get, path = "/api/v1/usage", tag = "Usage", operation_id = "get_own_usage",
    params(UsageQueryString),
    responses((status = 200, description = "The caller's tokens and cost, by model and day", body = Envelope<UsageReport>)))]
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

#[utoipa::path(get, path = "/api/v1/usage/system", tag = "Usage", operation_id = "get_org_usage",
    description = "For administrators: the whole org's usage, also by user.",
    params(UsageQueryString),
    responses(
        (status = 200, description = "The org's tokens and cost, by model, day and user", body = Envelope<UsageReport>),
        (status = 403, description = "The caller is not an administrator"),
    ))]
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
