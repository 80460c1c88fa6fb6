//! What the services know of the request they serve, set by the adapter for
//! the request's task: its correlation id and the client's address, which
//! log lines and audit entries carry.

use std::future::Future;

/// The request being served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The id that ties the request's logs, errors and audit entries.
    pub correlation_id: String,
    /// The client's address as the server saw it (the peer; headers a
    /// client sets are not trusted for it).
    pub ip: Option<String>,
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// Runs `work` as part of this request.
pub fn scope<F: Future>(context: RequestContext, work: F) -> impl Future<Output = F::Output> {
    REQUEST.scope(context, work)
}

/// The request being served, or an empty context outside one.
pub fn current() -> RequestContext {
    REQUEST.try_with(Clone::clone).unwrap_or_default()
}
