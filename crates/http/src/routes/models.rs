//! The OpenAI-compatible model list: `GET /models` and `GET /models/{id}` in
//! OpenAI's shapes (with `context_length`, which OpenRouter and vLLM clients
//! read), and OpenAI's error shape.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use xl_llm::ModelInfo;

use super::completions::{OpenAiCaller, OpenAiError};
use crate::AppState;

/// Registers `/models` and `/models/{id}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/models").get(list))
        // Ids may contain slashes (`meta-llama/Llama-3.1-8B` on vLLM).
        .service(web::resource("/models/{id:.+}").get(get));
}

/// OpenAI's `model` object.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "openai", "context_length": 128000}))]
struct ModelObject<'a> {
    /// The id to send as `model`.
    id: &'a str,
    /// `model`.
    object: &'static str,
    /// When it was published, in Unix seconds (0 when unknown).
    created: i64,
    /// Who provides it.
    owned_by: &'a str,
    /// Its context window in tokens (0 when unknown), as OpenRouter and vLLM report it.
    context_length: u32,
}

impl<'a> From<&'a ModelInfo> for ModelObject<'a> {
    fn from(model: &'a ModelInfo) -> Self {
        ModelObject {
            id: &model.id,
            object: "model",
            created: model.created,
            owned_by: &model.owned_by,
            context_length: model.context_length,
        }
    }
}

/// OpenAI's model list.
#[derive(Serialize, utoipa::ToSchema)]
struct ModelList<'a> {
    /// `list`.
    object: &'static str,
    /// The models.
    data: Vec<ModelObject<'a>>,
}

#[utoipa::path(get, path = "/api/v1/models", tag = "OpenAI: Models", operation_id = "list_models",
    responses((status = 200, description = "The provider's models, with context windows", body = ModelList)))]
async fn list(
    state: web::Data<AppState>,
    _caller: OpenAiCaller,
) -> Result<HttpResponse, OpenAiError> {
    let models = state.services.list_models().await?;
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list",
        data: models.iter().map(ModelObject::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/models/{id}", tag = "OpenAI: Models", operation_id = "retrieve_model",
    params(("id" = String, Path, description = "The model's id; it may contain slashes (`meta-llama/Llama-3.1-8B`)")),
    responses((status = 200, description = "The model", body = ModelObject)))]
async fn get(
    state: web::Data<AppState>,
    _caller: OpenAiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, OpenAiError> {
    let model = state.services.get_model(&id).await?;
    Ok(HttpResponse::Ok().json(ModelObject::from(&model)))
}
