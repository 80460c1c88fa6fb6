//! Retries with exponential backoff, below async-openai's API groups.
//!
//! It sits where async-openai's own retry layer would (its `middleware`
//! boundary), so it sees each attempt's response head: a 429, a 5xx or a
//! failed connection is retried, and anything else, a 2xx above all, is
//! handed on. A streamed reply therefore cannot be retried once it has begun:
//! by the time its first byte is read this layer has already returned.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use tower::{Service, ServiceExt};

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The delay before the first retry; it doubles for each further one.
    pub initial: Duration,
    /// The longest delay, `Retry-After` included.
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `retry` (0-based) when the upstream gave
    /// no hint: exponential, capped, with "equal jitter" (half fixed, half
    /// random) so that many callers refused at once do not return at once.
    fn exponential(&self, retry: u32) -> Duration {
        let full = self
            .initial
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max);
        let half = full / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if nanos == 0 { 0 } else { random() % nanos };
        half + Duration::from_nanos(jitter)
    }

    /// Whether to retry after `result`, and after how long.
    fn retry_delay(&self, retry: u32, result: &Result<Response, OpenAIError>) -> Option<Duration> {
        let outcome = match result {
            Ok(response) => Outcome::Answered(response.status(), response.headers()),
            Err(OpenAIError::Reqwest(err)) if err.is_connect() => Outcome::Unreachable,
            Err(_) => Outcome::Failed,
        };
        self.delay_after(retry, outcome)
    }

    fn delay_after(&self, retry: u32, outcome: Outcome<'_>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        match outcome {
            Outcome::Answered(status, headers) if retryable_status(status) => Some(
                retry_after(headers)
                    .map_or_else(|| self.exponential(retry), |hint| hint.min(self.max)),
            ),
            Outcome::Unreachable => Some(self.exponential(retry)),
            Outcome::Answered(..) | Outcome::Failed => None,
        }
    }
}

/// What one attempt came to, as far as retrying is concerned.
enum Outcome<'a> {
    /// The upstream answered with this head.
    Answered(StatusCode, &'a HeaderMap),
    /// No connection could be made, so the request never reached it.
    Unreachable,
    /// Anything else: not safe or not useful to repeat.
    Failed,
}

/// 429 and the 5xx statuses that may pass; 501 and 505 are permanent.
fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// The upstream's own hint: OpenAI's `retry-after-ms`, else `Retry-After` in
/// seconds (the HTTP-date form is ignored; exponential backoff covers it).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|value| value.is_finite() && *value >= 0.0)
    };
    header("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| header("retry-after").map(Duration::from_secs_f64))
}

/// A random number without a dependency: std seeds each `RandomState` from
/// the OS, which is plenty for jitter.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish()
}

/// The transport async-openai calls: reqwest, retried per [`Backoff`].
#[derive(Clone, Debug)]
pub(crate) struct RetryingService {
    inner: ReqwestService,
    backoff: Backoff,
    provider: Arc<str>,
}

impl RetryingService {
    pub(crate) fn new(http: reqwest::Client, backoff: Backoff, provider: Arc<str>) -> Self {
        RetryingService {
            inner: ReqwestService::new(http),
            backoff,
            provider,
        }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, OpenAIError>> + Send>>;

impl Service<HttpRequestFactory> for RetryingService {
    type Response = Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each attempt readies the inner service itself (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let inner = self.inner.clone();
        let backoff = self.backoff;
        let provider = Arc::clone(&self.provider);
        Box::pin(async move {
            let mut retry = 0;
            loop {
                let result = inner.clone().oneshot(request.clone()).await;
                let Some(delay) = backoff.retry_delay(retry, &result) else {
                    return result;
                };
                let cause = match &result {
                    Ok(response) => response.status().to_string(),
                    Err(err) => err.to_string(),
                };
                tracing::warn!(
                    provider = %provider,
                    retry = retry + 1,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    %cause,
                    "retrying the model provider"
                );
                // Dropping the refused response frees its connection before
                // the wait rather than after it.
                drop(result);
                tokio::time::sleep(delay).await;
                retry += 1;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            max_retries: 3,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    reqwest::header::HeaderName::from_static(name),
                    reqwest::header::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn answered(b: &Backoff, retry: u32, status: u16, hints: &HeaderMap) -> Option<Duration> {
        let status = StatusCode::from_u16(status).unwrap();
        b.delay_after(retry, Outcome::Answered(status, hints))
    }

    #[test]
    fn delays_grow_with_jitter_and_stop_at_the_cap() {
        let b = backoff();
        for _ in 0..50 {
            let first = b.exponential(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = b.exponential(2);
            assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
        }
        let capped = b.exponential(40);
        assert!(capped >= b.max / 2 && capped <= b.max, "{capped:?}");
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let b = backoff();
        let none = HeaderMap::new();
        assert!(answered(&b, 0, 429, &none).is_some());
        assert!(answered(&b, 0, 503, &none).is_some());
        assert!(answered(&b, 0, 501, &none).is_none());
        assert!(answered(&b, 0, 400, &none).is_none());
        assert!(answered(&b, 0, 200, &none).is_none());
        assert!(answered(&b, 3, 500, &none).is_none(), "spent");
        assert!(b.delay_after(0, Outcome::Unreachable).is_some());
        assert!(b.delay_after(0, Outcome::Failed).is_none());
    }

    #[test]
    fn upstream_hints_are_honoured_up_to_the_cap() {
        let b = backoff();
        let ms = headers(&[("retry-after-ms", "20")]);
        assert_eq!(answered(&b, 0, 429, &ms), Some(Duration::from_millis(20)));
        let secs = headers(&[("retry-after", "0")]);
        assert_eq!(answered(&b, 0, 429, &secs), Some(Duration::ZERO));
        let long = headers(&[("retry-after", "3600")]);
        assert_eq!(answered(&b, 0, 503, &long), Some(b.max));
        let date = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert!(answered(&b, 0, 503, &date).unwrap() <= Duration::from_millis(100));
    }
}
