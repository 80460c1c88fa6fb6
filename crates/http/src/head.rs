//! `HEAD` wherever `GET` is allowed (load balancers probe `HEAD /health`).
//!
//! The request is routed as a `GET`; the HTTP codec remembers that it parsed
//! a `HEAD` and sends the headers without the body. A streamed body (an SSE
//! stream, a download) is dropped at once instead, so a probe never holds a
//! stream open.

use actix_web::Error;
use actix_web::body::{BodySize, EitherBody, MessageBody, None as NoBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// The middleware.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, NoBody>>, Error> {
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let response = next.call(req).await?;
    Ok(response.map_body(|_, body| {
        if head && matches!(body.size(), BodySize::Stream) {
            EitherBody::right(NoBody::new())
        } else {
            EitherBody::left(body)
        }
    }))
}
