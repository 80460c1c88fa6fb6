//! Rate limits at the door: each authenticated request is admitted by the
//! caller's buckets for its class (reads, writes, model calls) when its
//! credential is checked, and every answer to it carries the IETF
//! `RateLimit-Policy` and `RateLimit` headers of those buckets
//! (draft-ietf-httpapi-ratelimit-headers); a refusal is a 429 with
//! `Retry-After`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use xl_domain::Actor;
use xl_services::limits::{BucketState, RequestClass};
use xl_services::{ServiceError, Services};

use crate::ApiError;

/// The buckets a request took from, for its answer's headers.
#[derive(Clone, Debug)]
struct Taken(Vec<BucketState>);

/// The class of a request: reads by method; model calls by route.
fn class_of(req: &HttpRequest) -> RequestClass {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return RequestClass::Read;
    }
    let path = req.path();
    if path.ends_with("/chat/completions")
        || path.ends_with("/responses")
        || path.ends_with("/regenerate")
    {
        RequestClass::Model
    } else {
        RequestClass::Write
    }
}

/// Admits a request once, however many extractors authenticate it.
pub(crate) async fn admit(
    req: &HttpRequest,
    services: &Services,
    actor: &Actor,
) -> Result<(), ApiError> {
    if req.extensions().contains::<Taken>() {
        return Ok(());
    }
    match services.admit_request(actor, class_of(req)).await {
        Ok(buckets) => {
            req.extensions_mut().insert(Taken(buckets));
            Ok(())
        }
        Err(refused) => {
            req.extensions_mut()
                .insert(Taken(vec![refused.bucket.clone()]));
            Err(ServiceError::RateLimited(refused).into())
        }
    }
}

/// `"name";q=…;w=…, …` and `"name";r=…;t=…, …`.
fn header_values(buckets: &[BucketState]) -> (String, String) {
    let policy = buckets
        .iter()
        .map(|b| format!("\"{}\";q={};w={}", b.policy, b.quota, b.window_secs))
        .collect::<Vec<_>>()
        .join(", ");
    let state = buckets
        .iter()
        .map(|b| format!("\"{}\";r={};t={}", b.policy, b.remaining, b.reset_secs))
        .collect::<Vec<_>>()
        .join(", ");
    (policy, state)
}

/// Adds the rate-limit headers of the buckets the request took from.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let taken = response.request().extensions().get::<Taken>().cloned();
    if let Some(Taken(buckets)) = taken
        && !buckets.is_empty()
    {
        let (policy, state) = header_values(&buckets);
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(HeaderName::from_static("ratelimit-policy"), value);
        }
        if let Ok(value) = HeaderValue::from_str(&state) {
            headers.insert(HeaderName::from_static("ratelimit"), value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_each_bucket_in_structured_field_form() {
        let bucket = |policy: &str, quota, remaining, reset_secs| BucketState {
            policy: policy.into(),
            quota,
            window_secs: 60,
            remaining,
            reset_secs,
        };
        let (policy, state) = header_values(&[
            bucket("user-reads", 100, 99, 0),
            bucket("org-reads", 1000, 7, 59),
        ]);
        assert_eq!(
            policy,
            r#""user-reads";q=100;w=60, "org-reads";q=1000;w=60"#
        );
        assert_eq!(state, r#""user-reads";r=99;t=0, "org-reads";r=7;t=59"#);
    }
}
