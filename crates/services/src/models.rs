//! The models this installation serves: the provider's own list merged with
//! what the registry knows about that provider's models, kept in memory for a
//! minute so that listing models never waits on the upstream twice in a row.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use xl_llm::{LlmError, ModelInfo, ModelRegistry};

use crate::{ServiceError, Services};

/// How long a list fetched from the provider is served before it is fetched
/// again.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// How long a list built without the provider (its listing failed) is served
/// before the provider is asked again: short, so a recovered upstream shows
/// up soon, but long enough that a dead one is not asked on every request.
const FALLBACK_FOR: Duration = Duration::from_secs(10);

/// The longest a listing waits for the provider. The provider's own timeout
/// is sized for slow completions (minutes), far too long for a model list.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// A cached model list.
#[derive(Clone, Debug)]
struct Snapshot {
    models: Arc<[ModelInfo]>,
    expires: Instant,
}

/// The cache behind [`Services::list_models`].
#[derive(Debug, Default)]
pub struct ModelCatalog {
    snapshot: RwLock<Option<Snapshot>>,
    /// Held while the provider is asked, so concurrent callers that find the
    /// cache stale wait for one fetch instead of each making their own.
    refreshing: tokio::sync::Mutex<()>,
}

impl ModelCatalog {
    fn fresh(&self) -> Option<Arc<[ModelInfo]>> {
        let guard = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .filter(|snapshot| snapshot.expires > Instant::now())
            .map(|snapshot| Arc::clone(&snapshot.models))
    }

    fn store(&self, models: Arc<[ModelInfo]>, ttl: Duration) {
        let mut guard = self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *guard = Some(Snapshot {
            models,
            expires: Instant::now() + ttl,
        });
    }
}

/// The provider's models with the registry's specs for the same provider:
/// a listed model without a context length takes the registry's, and a
/// registered model the provider does not list is added (upstreams such as
/// LiteLLM list only what they route, and a registry entry is a deliberate
/// statement that the model is served). A listed model the registry does not
/// know is left out: only registered (sized and priced) models are served.
/// Sorted by id.
pub fn merge(provider: &str, listed: Vec<ModelInfo>, registry: &ModelRegistry) -> Vec<ModelInfo> {
    let mut by_id: BTreeMap<String, ModelInfo> = listed
        .into_iter()
        .filter(|model| registry.get(&model.id).is_some())
        .map(|model| (model.id.clone(), model))
        .collect();
    for spec in registry.for_provider(provider) {
        by_id
            .entry(spec.id.clone())
            .and_modify(|model| {
                if model.context_length == 0 {
                    model.context_length = spec.context_window;
                }
            })
            .or_insert_with(|| ModelInfo {
                id: spec.id.clone(),
                owned_by: provider.to_owned(),
                context_length: spec.context_window,
                created: 0,
            });
    }
    by_id.into_values().collect()
}

impl Services {
    /// Every model this installation serves, by id.
    ///
    /// Served from memory while fresh. When the provider cannot list its
    /// models, the registry's entries for it are served instead (and the
    /// failure is logged), so a flaky upstream does not break clients that
    /// list models before every call.
    pub async fn list_models(&self) -> Result<Arc<[ModelInfo]>, ServiceError> {
        if let Some(models) = self.catalog.fresh() {
            return Ok(models);
        }
        let _refreshing = self.catalog.refreshing.lock().await;
        // Another caller may have refreshed the list while this one waited.
        if let Some(models) = self.catalog.fresh() {
            return Ok(models);
        }
        let provider = self.llm.name().to_owned();
        let listed = match tokio::time::timeout(LIST_TIMEOUT, self.llm.list_models()).await {
            Ok(Ok(listed)) => Some(listed),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, %provider, "listing the provider's models failed");
                None
            }
            Err(_) => {
                tracing::warn!(%provider, "listing the provider's models timed out");
                None
            }
        };
        let ttl = if listed.is_some() {
            FRESH_FOR
        } else {
            FALLBACK_FOR
        };
        let models: Arc<[ModelInfo]> =
            merge(&provider, listed.unwrap_or_default(), &self.models).into();
        self.catalog.store(Arc::clone(&models), ttl);
        Ok(models)
    }

    /// One served model; an id not served is [`LlmError::UnknownModel`]
    /// (404).
    pub async fn get_model(&self, id: &str) -> Result<ModelInfo, ServiceError> {
        self.list_models()
            .await?
            .iter()
            .find(|model| model.id == id)
            .cloned()
            .ok_or_else(|| ServiceError::Llm(LlmError::UnknownModel(id.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use xl_llm::ModelSpec;

    use super::*;

    fn info(id: &str, context_length: u32) -> ModelInfo {
        ModelInfo {
            id: id.to_owned(),
            owned_by: "upstream".to_owned(),
            context_length,
            created: 7,
        }
    }

    #[test]
    fn the_registry_fills_gaps_and_adds_its_own_models() {
        let mut registry = ModelRegistry::empty();
        registry.insert(ModelSpec::new("a", 1000));
        registry.insert(ModelSpec::new("b", 2000));
        registry.insert(ModelSpec {
            provider: "other".to_owned(),
            ..ModelSpec::new("c", 3000)
        });
        let merged = merge(
            "openai",
            vec![info("z", 5), info("a", 0), info("b", 64)],
            &registry,
        );
        let summary: Vec<(&str, &str, u32, i64)> = merged
            .iter()
            .map(|m| {
                (
                    m.id.as_str(),
                    m.owned_by.as_str(),
                    m.context_length,
                    m.created,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [("a", "upstream", 1000, 7), ("b", "upstream", 64, 7)],
            "z is listed upstream but not registered, so it is not served"
        );
        let only_registry = merge("other", Vec::new(), &registry);
        assert_eq!(only_registry.len(), 1);
        assert_eq!(only_registry[0].id, "c");
        assert_eq!(only_registry[0].owned_by, "other");
    }
}
