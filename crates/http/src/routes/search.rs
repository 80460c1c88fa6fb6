//! Search: `GET /search?q=…` over the caller's threads and messages, with
//! optional `thread_id`, `role`, `from` and `to` filters and cursor paging.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::PageRequest;
use xl_domain::search::{SearchHit, SearchParams, SearchQuery};

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/search`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/search").get(search));
}

/// The query string. Values stay strings so the domain can name the field
/// that is wrong instead of the extractor refusing the whole query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQueryString {
    /// The words to find (required).
    q: Option<String>,
    /// Only in this thread.
    #[param(value_type = Option<xl_domain::ThreadId>)]
    thread_id: Option<String>,
    /// Only messages of this role.
    #[param(value_type = Option<xl_domain::MessageRole>)]
    role: Option<String>,
    /// Only messages written at or after this time (RFC 3339).
    from: Option<String>,
    /// Only messages written before this time (RFC 3339).
    to: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "Search", operation_id = "search",
    params(SearchQueryString),
    responses((status = 200, description = "A page of hits, best first, with highlighted excerpts", body = Envelope<Vec<SearchHit>>)))]
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
