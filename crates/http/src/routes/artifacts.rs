//! Artifacts: the caller's own and a thread's, CRUD with versions
//! (`ETag` is the version; `If-Match` makes a change conditional, 412 when
//! stale), restore, and export as JSON, CSV or PDF (a `pdf` artifact's is
//! the uploaded file it wraps, streamed).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use xl_domain::artifacts::{
    Artifact, ArtifactFilter, ArtifactUpdate, ArtifactVersion, NewArtifact,
};
use xl_domain::object::Object;
use xl_domain::{ArtifactId, ArtifactKind, DomainError, PageRequest, ThreadId};
use xl_services::artifacts::{ExportBody, ExportFormat};

use super::files::stored_body;
use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers the artifact routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/artifacts").get(list_own).post(create_own))
        .service(
            web::resource("/threads/{id}/artifacts")
                .get(list_in_thread)
                .post(create_in_thread),
        )
        .service(
            web::resource("/artifacts/{id}")
                .get(get)
                .put(update)
                .patch(update)
                .delete(delete),
        )
        .service(web::resource("/artifacts/{id}/versions").get(versions))
        .service(web::resource("/artifacts/{id}/versions/{n}").get(version))
        .service(web::resource("/artifacts/{id}/versions/{n}/restore").post(restore))
        .service(web::resource("/artifacts/{id}/export").get(export));
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
    /// Only this kind.
    #[param(value_type = Option<ArtifactKind>)]
    kind: Option<String>,
    /// Only artifacts of this thread.
    #[param(value_type = Option<ThreadId>)]
    thread: Option<String>,
}

impl ListQuery {
    fn parse(&self) -> Result<(ArtifactFilter, PageRequest), ApiError> {
        let page = PageRequest::parse(
            self.limit.as_deref(),
            self.cursor.as_deref(),
            self.order.as_deref(),
        )?;
        let kind = match self.kind.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(raw.parse::<ArtifactKind>()?),
        };
        let thread = match self.thread.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(
                raw.parse::<ThreadId>()
                    .map_err(|_| DomainError::invalid("thread", "must be a thread id"))?,
            ),
        };
        Ok((ArtifactFilter { kind, thread }, page))
    }
}

/// The entity tag of a version: its number, quoted.
fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// An artifact in the envelope, with its version as `ETag`.
fn with_etag(mut response: HttpResponse, version: i32) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn artifact_response(artifact: Artifact, created: bool) -> HttpResponse {
    let version = artifact.version;
    let response = if created {
        Envelope::created(artifact)
    } else {
        Envelope::ok(artifact)
    };
    with_etag(response, version)
}

/// The version an `If-Match` header names: `"3"` (or `W/"3"`, or a bare
/// `3`); `*` and no header mean "whatever is current".
fn if_match(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(raw) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::from(DomainError::invalid(
            "If-Match",
            "must be one version's ETag, such as \"3\", or *",
        ))
    };
    let raw = raw.to_str().map_err(|_| bad())?.trim();
    if raw == "*" {
        return Ok(None);
    }
    let tag = raw.strip_prefix("W/").unwrap_or(raw);
    let tag = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag);
    tag.parse::<i32>()
        .ok()
        .filter(|n| *n >= 1)
        .map(Some)
        .ok_or_else(bad)
}

fn parse_version(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| DomainError::invalid("version", "must be a version number (1, 2, …)").into())
}

#[utoipa::path(get, path = "/api/v1/artifacts", tag = "Artifacts", operation_id = "list_artifacts",
    params(ListQuery),
    responses((status = 200, description = "A page of the artifacts the caller may read", body = Envelope<Vec<Artifact>>)))]
async fn list_own(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = query.parse()?;
    Ok(Envelope::page(
        state
            .services
            .list_artifacts(&caller.0, &filter, &page)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/artifacts", tag = "Artifacts", operation_id = "create_artifact",
    description = "An artifact of the caller's own; its content is checked against its kind, every problem named by path.",
    request_body(content = NewArtifact, example = json!({"kind": "insight", "title": "Churn drivers", "content": {"summary": "Churn follows failed payments.", "findings": [{"text": "62% of churned accounts had a failed payment first", "evidence": "billing export, May"}], "confidence": 0.8}})),
    responses((status = 201, description = "The artifact, version 1 (`ETag: \"1\"`)", body = Envelope<Artifact>)))]
async fn create_own(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Object<NewArtifact>>,
) -> Result<HttpResponse, ApiError> {
    let artifact = state
        .services
        .create_artifact(&caller.0, None, body.into_inner().0)
        .await?;
    Ok(artifact_response(artifact, true))
}

#[utoipa::path(get, path = "/api/v1/threads/{id}/artifacts", tag = "Artifacts", operation_id = "list_thread_artifacts",
    params(("id" = ThreadId, Path, description = "The thread"), ListQuery),
    responses((status = 200, description = "A page of the thread's artifacts", body = Envelope<Vec<Artifact>>)))]
async fn list_in_thread(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    let (filter, page) = query.parse()?;
    Ok(Envelope::page(
        state
            .services
            .list_thread_artifacts(&caller.0, thread, &filter, &page)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/threads/{id}/artifacts", tag = "Artifacts", operation_id = "create_thread_artifact",
    params(("id" = ThreadId, Path, description = "The thread")),
    request_body(content = NewArtifact, example = json!({"kind": "insight", "title": "Churn drivers", "content": {"summary": "Churn follows failed payments.", "findings": [{"text": "62% of churned accounts had a failed payment first", "evidence": "billing export, May"}], "confidence": 0.8}})),
    responses((status = 201, description = "The artifact, version 1 (`ETag: \"1\"`)", body = Envelope<Artifact>)))]
async fn create_in_thread(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<NewArtifact>>,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    let artifact = state
        .services
        .create_artifact(&caller.0, Some(thread), body.into_inner().0)
        .await?;
    Ok(artifact_response(artifact, true))
}

#[utoipa::path(get, path = "/api/v1/artifacts/{id}", tag = "Artifacts", operation_id = "get_artifact",
    params(("id" = ArtifactId, Path, description = "The artifact")),
    responses((status = 200, description = "The artifact; `ETag` is its version", body = Envelope<Artifact>)))]
async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ArtifactId = id.parse()?;
    let artifact = state.services.get_artifact(&caller.0, id).await?;
    Ok(artifact_response(artifact, false))
}

#[utoipa::path(method(put, patch), path = "/api/v1/artifacts/{id}", tag = "Artifacts", operation_id = "update_artifact",
    description = "A change makes a new version.",
    params(("id" = ArtifactId, Path, description = "The artifact"), ("If-Match" = Option<String>, Header, description = "The version the change expects, as its `ETag` (`\"3\"`); 412 when stale")),
    request_body(content = ArtifactUpdate, example = json!({"title": "Churn drivers, final", "change_note": "Added June"})),
    responses(
        (status = 200, description = "The artifact at its new version", body = Envelope<Artifact>),
        (status = 412, description = "`If-Match` names a version that is no longer current"),
    ))]
async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<ArtifactUpdate>>,
) -> Result<HttpResponse, ApiError> {
    let id: ArtifactId = id.parse()?;
    let expected = if_match(&req)?;
    let artifact = state
        .services
        .update_artifact(&caller.0, id, body.into_inner().0, expected)
        .await?;
    Ok(artifact_response(artifact, false))
}

#[utoipa::path(delete, path = "/api/v1/artifacts/{id}", tag = "Artifacts", operation_id = "delete_artifact",
    params(("id" = ArtifactId, Path, description = "The artifact"), ("If-Match" = Option<String>, Header, description = "The version the change expects, as its `ETag` (`\"3\"`); 412 when stale")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "`If-Match` names a version that is no longer current"),
    ))]
async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ArtifactId = id.parse()?;
    let expected = if_match(&req)?;
    state
        .services
        .delete_artifact(&caller.0, id, expected)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(value_type = Option<xl_domain::Order>)]
    order: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/artifacts/{id}/versions", tag = "Artifacts", operation_id = "list_artifact_versions",
    params(("id" = ArtifactId, Path, description = "The artifact"), PageQuery),
    responses((status = 200, description = "A page of versions", body = Envelope<Vec<ArtifactVersion>>)))]
async fn versions(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: ArtifactId = id.parse()?;
    let page = PageRequest::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        query.order.as_deref(),
    )?;
    Ok(Envelope::page(
        state
            .services
            .artifact_versions(&caller.0, id, &page)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/artifacts/{id}/versions/{n}", tag = "Artifacts", operation_id = "get_artifact_version",
    params(("id" = ArtifactId, Path, description = "The artifact"), ("n" = u32, Path, minimum = 1, description = "The version number, from 1")),
    responses((status = 200, description = "The version", body = Envelope<ArtifactVersion>)))]
async fn version(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let id: ArtifactId = id.parse()?;
    let n = parse_version(&n)?;
    let version = state.services.artifact_version(&caller.0, id, n).await?;
    Ok(with_etag(Envelope::ok(version), n))
}

#[utoipa::path(post, path = "/api/v1/artifacts/{id}/versions/{n}/restore", tag = "Artifacts", operation_id = "restore_artifact_version",
    description = "Makes a new version with version `n`'s content.",
    params(("id" = ArtifactId, Path, description = "The artifact"), ("n" = u32, Path, minimum = 1, description = "The version to restore"), ("If-Match" = Option<String>, Header, description = "The version the change expects, as its `ETag` (`\"3\"`); 412 when stale")),
    responses(
        (status = 200, description = "The artifact at its new version", body = Envelope<Artifact>),
        (status = 412, description = "`If-Match` names a version that is no longer current"),
    ))]
async fn restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let id: ArtifactId = id.parse()?;
    let n = parse_version(&n)?;
    let expected = if_match(&req)?;
    let artifact = state
        .services
        .restore_artifact_version(&caller.0, id, n, expected)
        .await?;
    Ok(artifact_response(artifact, false))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `json` (the default), `csv` or `pdf`.
    format: Option<String>,
    /// The version to export (default the current one).
    #[param(value_type = Option<u32>, minimum = 1)]
    version: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/artifacts/{id}/export", tag = "Artifacts", operation_id = "export_artifact",
    params(("id" = ArtifactId, Path, description = "The artifact"), ExportQuery),
    responses((status = 200, description = "The version as an attachment, with its `ETag`",
        content(
            (Object = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/pdf"),
        ))))]
async fn export(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: ArtifactId = id.parse()?;
    let format: ExportFormat = query.format.as_deref().unwrap_or("json").parse()?;
    let version = query.version.as_deref().map(parse_version).transpose()?;
    let export = state
        .services
        .export_artifact(&caller.0, id, format, version)
        .await?;
    let mut response = HttpResponse::Ok();
    response
        .content_type(export.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", export.filename),
        ))
        .insert_header((header::ETAG, etag(export.version)));
    Ok(match export.body {
        ExportBody::Rendered(bytes) => response.body(bytes),
        ExportBody::Stored { size, stream } => {
            response.no_chunking(size).streaming(stored_body(stream))
        }
    })
}
