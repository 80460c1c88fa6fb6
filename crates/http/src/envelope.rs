//! The success envelope: `{"success":true,"data":…,"metadata":{…}}`, with
//! `pagination` added for lists.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use xl_domain::Page;

use crate::correlation::current_correlation_id;

/// The version of the wire contract reported in every envelope.
pub const API_VERSION: &str = "1.0";

/// Metadata carried by every response body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Metadata {
    /// When the response was made (RFC 3339, UTC).
    pub timestamp: String,
    /// The request's correlation id.
    pub correlation_id: String,
    /// The wire contract version.
    pub version: &'static str,
}

impl Metadata {
    /// Metadata for the current request.
    pub fn now() -> Self {
        Metadata {
            timestamp: now_rfc3339(),
            correlation_id: current_correlation_id(),
            version: API_VERSION,
        }
    }
}

/// Pagination of a list response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pagination {
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
    /// Whether more items follow.
    pub has_more: bool,
    /// The page size applied.
    pub limit: u32,
}

/// A successful response body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T: Serialize> {
    /// Always true.
    pub success: bool,
    /// The payload.
    pub data: T,
    /// Present on lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// Timestamp, correlation id, version.
    pub metadata: Metadata,
}

impl<T: Serialize> Envelope<T> {
    /// `200 OK` with `data`.
    pub fn ok(data: T) -> HttpResponse {
        Self::with_status(StatusCode::OK, data)
    }

    /// `201 Created` with `data`.
    pub fn created(data: T) -> HttpResponse {
        Self::with_status(StatusCode::CREATED, data)
    }

    /// Any status with `data`.
    pub fn with_status(status: StatusCode, data: T) -> HttpResponse {
        HttpResponse::build(status).json(Envelope {
            success: true,
            data,
            pagination: None,
            metadata: Metadata::now(),
        })
    }
}

impl<T: Serialize> Envelope<Vec<T>> {
    /// `200 OK` with one page of a list.
    pub fn page(page: Page<T>) -> HttpResponse {
        HttpResponse::Ok().json(Envelope {
            success: true,
            pagination: Some(Pagination {
                next_cursor: page.next_cursor,
                has_more: page.has_more,
                limit: page.limit,
            }),
            data: page.items,
            metadata: Metadata::now(),
        })
    }
}

/// The current time in RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
