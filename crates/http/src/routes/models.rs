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
#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    owned_by: &'a str,
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

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelObject<'a>>,
}

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

async fn get(
    state: web::Data<AppState>,
    _caller: OpenAiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, OpenAiError> {
    let model = state.services.get_model(&id).await?;
    Ok(HttpResponse::Ok().json(ModelObject::from(&model)))
}
