//! Files: multipart upload streamed to the file store, list, metadata,
//! download with `Range` and `ETag`, preview, rename, delete.

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use xl_domain::files::{FileFilter, FileInfo, FileUpdate, Preview};
use xl_domain::object::Object;
use xl_domain::{DomainError, FileId, PageRequest, ThreadId};
use xl_services::files::{ByteRange, PreviewOutput, StorageError};

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// What a multipart body may add around the file itself (boundaries, part
/// headers, a few small fields) before a declared length counts as too large.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// The most a form field other than `file` may hold.
const MAX_FIELD_BYTES: usize = 8 * 1024;

/// Registers the file routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/files").get(list).post(upload))
        .service(
            web::resource("/files/{id}")
                .get(get)
                .put(update)
                .patch(update)
                .delete(delete),
        )
        .service(web::resource("/files/{id}/content").get(content))
        .service(web::resource("/files/{id}/preview").get(preview));
}

fn multipart_error(err: MultipartError) -> ApiError {
    match err {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ApiError::UnsupportedMediaType(
            "the body must be multipart/form-data with a `file` part".into(),
        ),
        other => ApiError::BadRequest {
            kind: "malformed-multipart",
            detail: format!("the multipart body could not be read: {other}"),
            errors: None,
        },
    }
}

/// `POST /files`: a `multipart/form-data` body whose `file` part (with a
/// file name) is the upload. The part streams into the file store as it
/// arrives; a declared length past the limit is refused before reading.
#[utoipa::path(post, path = "/api/v1/files", tag = "Files", operation_id = "upload_file",
    description = "Streams the `file` part into the file store. PNG, JPEG, WebP, GIF, PDF and UTF-8 text are accepted, judged by the content, not the declared type.",
    request_body(content = crate::openapi::FileUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "The file", body = Envelope<FileInfo>)))]
async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.services.config.files.max_upload_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(ApiError::PayloadTooLarge {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        });
    }
    let mut form = Multipart::new(req.headers(), payload);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        if field.name() != Some("file") {
            // Small fields are read and ignored, so a client may send the
            // file after them; a large one is refused.
            let mut seen = 0;
            while let Some(chunk) = field.next().await {
                seen += chunk.map_err(multipart_error)?.len();
                if seen > MAX_FIELD_BYTES {
                    return Err(ApiError::invalid_field(
                        field.name().unwrap_or("form"),
                        format!(
                            "form fields other than `file` hold at most {MAX_FIELD_BYTES} bytes"
                        ),
                    ));
                }
            }
            continue;
        }
        let filename = field
            .content_disposition()
            .and_then(|disposition| disposition.get_filename())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::invalid_field("file", "must be sent with a file name"))?;
        let body = field.map_err(|err| err.to_string());
        let info = state
            .services
            .upload_file(&caller.0, &filename, body)
            .await?;
        return Ok(Envelope::created(info));
    }
    Err(ApiError::invalid_field("file", "is required"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(value_type = Option<xl_domain::Order>)]
    order: Option<String>,
    /// Only files attached in this thread.
    #[param(value_type = Option<ThreadId>)]
    thread: Option<String>,
    /// The same as `thread`.
    #[param(value_type = Option<ThreadId>)]
    thread_id: Option<String>,
    /// Only this type, such as `image` or `image/png`.
    #[serde(rename = "type")]
    content_type: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/files", tag = "Files", operation_id = "list_files",
    params(ListQuery),
    responses((status = 200, description = "A page of the files the caller may read", body = Envelope<Vec<FileInfo>>)))]
async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        query.order.as_deref(),
    )?;
    let thread = match query.thread.as_deref().or(query.thread_id.as_deref()) {
        Some(raw) => Some(
            raw.parse::<ThreadId>()
                .map_err(|_| DomainError::invalid("thread", "must be a thread id"))?,
        ),
        None => None,
    };
    let content_type = match query.content_type.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) if is_type_filter(raw) => Some(raw.to_ascii_lowercase()),
        Some(_) => {
            return Err(
                DomainError::invalid("type", "must be a type such as image or image/png").into(),
            );
        }
    };
    let filter = FileFilter {
        thread,
        content_type,
    };
    Ok(Envelope::page(
        state.services.list_files(&caller.0, &filter, &page).await?,
    ))
}

/// `image`, `image/png`: letters, digits and `.+-` around at most one slash.
fn is_type_filter(raw: &str) -> bool {
    raw.len() <= 100
        && raw.split('/').count() <= 2
        && raw.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        })
}

#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "Files", operation_id = "get_file",
    params(("id" = FileId, Path, description = "The file")),
    responses((status = 200, description = "The file's metadata", body = Envelope<FileInfo>)))]
async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: FileId = id.parse()?;
    Ok(Envelope::ok(state.services.get_file(&caller.0, id).await?))
}

#[utoipa::path(method(put, patch), path = "/api/v1/files/{id}", tag = "Files", operation_id = "update_file",
    description = "Renames a file or changes its metadata. For its uploader and administrators.",
    params(("id" = FileId, Path, description = "The file")),
    request_body(content = FileUpdate, example = json!({"filename": "itinerary.pdf"})),
    responses((status = 200, description = "The file's metadata", body = Envelope<FileInfo>)))]
async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<FileUpdate>>,
) -> Result<HttpResponse, ApiError> {
    let id: FileId = id.parse()?;
    let update = body.into_inner().into_inner();
    Ok(Envelope::ok(
        state.services.update_file(&caller.0, id, update).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/files/{id}", tag = "Files", operation_id = "delete_file",
    params(("id" = FileId, Path, description = "The file")),
    responses((status = 204, description = "Deleted")))]
async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: FileId = id.parse()?;
    state.services.delete_file(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The strong validator of a file's bytes: their SHA-256.
fn etag(info: &FileInfo) -> String {
    format!("\"{}\"", info.sha256)
}

/// Whether `If-None-Match` names this tag (or `*`).
fn matches_etag(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == tag)
}

/// One `bytes=` range; anything else (several ranges, other units, a
/// malformed header) is ignored and the whole file sent, as RFC 9110 allows.
fn byte_range(req: &HttpRequest) -> Option<ByteRange> {
    let raw = req.headers().get(header::RANGE)?.to_str().ok()?.trim();
    let spec = raw.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    match (start.is_empty(), end.is_empty()) {
        (false, false) => Some(ByteRange::Closed(start.parse().ok()?, end.parse().ok()?)),
        (false, true) => Some(ByteRange::From(start.parse().ok()?)),
        (true, false) => Some(ByteRange::Suffix(end.parse().ok()?)),
        (true, true) => None,
    }
}

/// `attachment` with the name twice: an ASCII fallback for old clients and
/// the UTF-8 original (RFC 6266), both escaped by actix.
fn disposition(filename: &str) -> ContentDisposition {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii)];
    if !filename.is_ascii() {
        parameters.push(DispositionParam::FilenameExt(header::ExtendedValue {
            charset: header::Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: filename.as_bytes().to_vec(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}

#[utoipa::path(get, path = "/api/v1/files/{id}/content", tag = "Files", operation_id = "download_file",
    description = "The bytes, as an attachment, with a strong `ETag` (the SHA-256). One `bytes=` range is honoured.",
    params(("id" = FileId, Path, description = "The file"),
        ("Range" = Option<String>, Header, description = "One range, such as `bytes=0-1023`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` the caller holds")),
    responses(
        (status = 200, description = "The file, as the type it was uploaded with", content_type = "*/*", body = Vec<u8>),
        (status = 206, description = "The range asked for, with `Content-Range`", content_type = "*/*", body = Vec<u8>),
        (status = 304, description = "The caller's copy is current"),
        (status = 416, description = "The range selects nothing"),
    ))]
async fn content(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: FileId = id.parse()?;
    let range = byte_range(&req);
    let content = state.services.file_content(&caller.0, id, range).await?;
    let tag = etag(&content.info);
    if matches_etag(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    let status = if content.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, content.info.content_type.as_str()))
        .insert_header((header::ETAG, tag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header(disposition(&content.info.filename));
    if content.partial {
        response.insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                content.range.start,
                content.range.end.saturating_sub(1),
                content.info.size_bytes
            ),
        ));
    }
    let length = content.range.end - content.range.start;
    Ok(response
        .no_chunking(length)
        .streaming(stored_body(content.body)))
}

/// Stored bytes as a response body. The status is sent by the time a read
/// fails midway, so the failure is logged and the response cut short.
pub(crate) fn stored_body(
    body: BoxStream<'static, Result<Bytes, StorageError>>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    body.map_err(|err| {
        tracing::error!(error = %err, "reading a stored file failed midway");
        actix_web::error::ErrorInternalServerError("file store failure")
    })
}

#[utoipa::path(get, path = "/api/v1/files/{id}/preview", tag = "Files", operation_id = "preview_file",
    params(("id" = FileId, Path, description = "The file")),
    responses((status = 200, description = "An image's thumbnail (PNG, 256 px on its longest side), or a text or PDF file's summary",
        content(
            (Vec<u8> = "image/png"),
            (Envelope<Preview> = "application/json"),
        ))))]
async fn preview(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: FileId = id.parse()?;
    Ok(match state.services.file_preview(&caller.0, id).await? {
        PreviewOutput::Thumbnail(png) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "image/png"))
            .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
            .body(png),
        PreviewOutput::Summary(summary) => Envelope::ok(summary),
    })
}
