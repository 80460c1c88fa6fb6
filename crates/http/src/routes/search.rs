//! Search: `GET /search?q=…` over the caller's threads and messages, with
//! optional `thread_id`, `role`, `from` and `to` filters and cursor paging.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::PageRequest;
use xl_domain::search::{SearchParams, SearchQuery};

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/search`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/search").get(search));
}

/// The query string. Values stay strings so the domain can name the field
/// that is wrong instead of the extractor refusing the whole query.
#[derive(Debug, Deserialize)]
struct SearchQueryString {
    q: Option<String>,
    thread_id: Option<String>,
    role: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn search(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<SearchQueryString>,
) -> Result<HttpResponse, ApiError> {
    let search = SearchQuery::parse(&SearchParams {
        q: query.q.as_deref(),
        thread_id: query.thread_id.as_deref(),
        role: query.role.as_deref(),
        from: query.from.as_deref(),
        to: query.to.as_deref(),
    })?;
    // Hits come best first; there is no `order` to choose.
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor.as_deref(), None)?;
    Ok(Envelope::page(
        state.services.search(&caller.0, &search, &page).await?,
    ))
}
