//! Calling a model on someone's behalf, and accounting for it: every call
//! (whole or streamed, successful, failed or cancelled) leaves one row in
//! `completions` with its usage, cost and latency.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use chrono::Utc;
use futures_util::Stream;
use xl_domain::{Actor, CompletionId, Credential, MessageId, ThreadId};
use xl_llm::{
    ChatChunk, ChatRequest, ChatResponse, ChunkStream, LlmError, Usage, count_message_tokens,
    count_tokens,
};
use xl_store::repo;
use xl_store::repo::completions::CompletionRecord;

use crate::{ServiceError, Services};

/// What a model call is for, kept with its record.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompletionLink {
    /// The thread it serves.
    pub thread_id: Option<ThreadId>,
    /// The assistant message it writes.
    pub message_id: Option<MessageId>,
}

/// Everything needed to write the record once the call ends.
#[derive(Clone, Debug)]
struct Ledger {
    services: Services,
    actor: Actor,
    link: CompletionLink,
    request: ChatRequest,
    id: CompletionId,
    started: Instant,
    created_at: chrono::DateTime<Utc>,
}

impl Ledger {
    fn new(
        services: &Services,
        actor: &Actor,
        link: CompletionLink,
        request: &ChatRequest,
    ) -> Self {
        Ledger {
            services: services.clone(),
            actor: actor.clone(),
            link,
            request: request.clone(),
            id: CompletionId::new(),
            started: Instant::now(),
            created_at: Utc::now(),
        }
    }

    fn record(&self, outcome: Outcome) -> CompletionRecord {
        // A call that failed before the upstream produced anything is not
        // charged: nothing was generated, and a refused call (429) is not billed.
        let produced =
            outcome.usage.is_some() || outcome.text.as_deref().is_some_and(|t| !t.is_empty());
        let usage = if outcome.status == "failed" && !produced {
            Some(Usage::new(0, 0))
        } else {
            outcome.usage
        };
        let usage = usage.unwrap_or_else(|| {
            let prompt = count_message_tokens(&self.request.model, &self.request.messages);
            let completion = outcome
                .text
                .as_deref()
                .map_or(0, |text| count_tokens(&self.request.model, text));
            Usage::new(
                u32::try_from(prompt).unwrap_or(u32::MAX),
                u32::try_from(completion).unwrap_or(u32::MAX),
            )
        });
        let cost = self
            .services
            .models
            .cost(&self.request.model, &usage)
            .unwrap_or(0);
        let api_key_id = match self.actor.credential {
            Credential::ApiKey { key } => Some(key),
            Credential::Jwt { .. } => None,
        };
        CompletionRecord {
            id: self.id,
            org_id: self.actor.org_id,
            user_id: Some(self.actor.user_id),
            api_key_id,
            thread_id: self.link.thread_id,
            message_id: self.link.message_id,
            model: self.request.model.clone(),
            provider: self.services.llm.name().to_owned(),
            stream: outcome.stream,
            status: outcome.status.to_owned(),
            request: serde_json::to_value(&self.request).unwrap_or_default(),
            response: outcome.response,
            error: outcome.error,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_micros: cost,
            latency_ms: u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX),
            first_byte_ms: outcome.first_byte_ms,
            created_at: self.created_at,
        }
    }

    /// Writes the record; a failure to write is logged, never surfaced, since
    /// the caller already has (or is getting) their answer.
    /// A caller, thread or message deleted while the call ran leaves the
    /// record without that reference rather than without the record.
    async fn write(self, outcome: Outcome) {
        let record = self.record(outcome);
        self.measure(&record);
        let (org, user, cost) = (record.org_id, record.user_id, record.cost_micros);
        let store = &self.services.store;
        let insert = |record: CompletionRecord, detach: bool| async move {
            let tx = store.begin_write().await?;
            let record = if detach {
                repo::completions::detach_missing(&tx, record).await?
            } else {
                record
            };
            repo::completions::insert(&tx, record).await?;
            tx.commit().await
        };
        let result = match insert(record.clone(), false).await {
            Err(err) if err.is_missing_reference() => insert(record, true).await,
            other => other,
        };
        match result {
            Ok(()) => {
                self.services
                    .limits
                    .add_spend(org, user, i64::try_from(cost).unwrap_or(i64::MAX))
            }
            Err(err) => {
                tracing::error!(error = %err, completion = %self.id, "recording a completion failed");
            }
        }
    }
}

impl Ledger {
    /// The call in the metrics: by model (a name the registry does not know
    /// is counted as `unknown`, so callers cannot mint labels) and status.
    fn measure(&self, record: &CompletionRecord) {
        let model = if self.services.models.get(&record.model).is_some() {
            record.model.clone()
        } else {
            "unknown".to_owned()
        };
        metrics::counter!("xl_completions_total", "model" => model.clone(), "status" => record.status.clone())
            .increment(1);
        metrics::counter!("xl_completion_tokens_total", "model" => model.clone(), "kind" => "prompt")
            .increment(u64::from(record.prompt_tokens));
        metrics::counter!("xl_completion_tokens_total", "model" => model.clone(), "kind" => "completion")
            .increment(u64::from(record.completion_tokens));
        metrics::counter!("xl_completion_cost_micros_total", "model" => model.clone())
            .increment(record.cost_micros);
        metrics::histogram!("xl_completion_seconds", "model" => model.clone())
            .record(f64::from(record.latency_ms) / 1000.0);
        if let Some(first_byte) = record.first_byte_ms {
            metrics::histogram!("xl_completion_first_byte_seconds", "model" => model.clone())
                .record(f64::from(first_byte) / 1000.0);
        }
        if record.status == "failed" {
            metrics::counter!("xl_completion_failures_total", "model" => model).increment(1);
        }
    }
}

/// How a call ended.
#[derive(Clone, Debug, Default)]
struct Outcome {
    status: &'static str,
    stream: bool,
    usage: Option<Usage>,
    text: Option<String>,
    response: Option<serde_json::Value>,
    error: Option<String>,
    first_byte_ms: Option<u32>,
}

impl Services {
    /// The model to use when a request names none.
    pub fn default_model(&self) -> &str {
        &self.config.default_model
    }

    /// Admits a request to the upstream: only models the registry knows
    /// (`XL_MODELS_FILE` extends it) are served, and the reply bound is
    /// capped at the model's output limit, so a caller cannot spend more
    /// than the operator priced and sized.
    fn admit(&self, request: &mut ChatRequest) -> Result<(), LlmError> {
        let Some(spec) = self.models.get(&request.model) else {
            return Err(LlmError::UnknownModel(request.model.clone()));
        };
        let cap = spec.max_output_tokens;
        if cap > 0 {
            request.max_tokens = request.max_tokens.map(|n| n.min(cap));
            request.max_completion_tokens = request.max_completion_tokens.map(|n| n.min(cap));
        }
        if !self.models.is_priced(&request.model) {
            tracing::warn!(model = %request.model, "serving a model without a price; usage flags it as unpriced");
        }
        Ok(())
    }

    /// Calls the model for a whole reply and records the call.
    pub async fn complete(
        &self,
        actor: &Actor,
        mut request: ChatRequest,
        link: CompletionLink,
    ) -> Result<(CompletionId, ChatResponse), ServiceError> {
        self.admit_model_call(actor, &request).await?;
        let admitted = self.admit(&mut request);
        let ledger = Ledger::new(self, actor, link, &request);
        let id = ledger.id;
        if let Err(err) = admitted {
            let outcome = Outcome {
                status: "failed",
                error: Some(err.to_string()),
                ..Outcome::default()
            };
            ledger.write(outcome).await;
            return Err(ServiceError::Llm(err));
        }
        match self.llm.complete(&request).await {
            Ok(response) => {
                let outcome = Outcome {
                    status: "complete",
                    usage: Some(response.usage),
                    text: Some(response.content().into_owned()),
                    response: serde_json::to_value(&response).ok(),
                    ..Outcome::default()
                };
                ledger.write(outcome).await;
                Ok((id, response))
            }
            Err(err) => {
                let outcome = Outcome {
                    status: "failed",
                    error: Some(err.to_string()),
                    ..Outcome::default()
                };
                ledger.write(outcome).await;
                Err(ServiceError::Llm(err))
            }
        }
    }

    /// Calls the model for a streamed reply. The call is recorded when the
    /// stream ends, fails, or is dropped (then as `cancelled`, with the text
    /// that had arrived).
    pub async fn complete_stream(
        &self,
        actor: &Actor,
        mut request: ChatRequest,
        link: CompletionLink,
    ) -> Result<CompletionStream, ServiceError> {
        self.admit_model_call(actor, &request).await?;
        let admitted = self.admit(&mut request);
        let ledger = Ledger::new(self, actor, link, &request);
        if let Err(err) = admitted {
            let outcome = Outcome {
                status: "failed",
                stream: true,
                error: Some(err.to_string()),
                ..Outcome::default()
            };
            ledger.write(outcome).await;
            return Err(ServiceError::Llm(err));
        }
        match self.llm.stream(&request).await {
            Ok(inner) => Ok(CompletionStream {
                id: ledger.id,
                inner,
                ledger: Some(ledger),
                text: String::new(),
                first_byte_ms: None,
                usage: None,
            }),
            Err(err) => {
                let outcome = Outcome {
                    status: "failed",
                    stream: true,
                    error: Some(err.to_string()),
                    ..Outcome::default()
                };
                ledger.write(outcome).await;
                Err(ServiceError::Llm(err))
            }
        }
    }
}

/// A streamed reply that records itself when it ends.
pub struct CompletionStream {
    /// The id of the completion record.
    pub id: CompletionId,
    inner: ChunkStream,
    ledger: Option<Ledger>,
    text: String,
    first_byte_ms: Option<u32>,
    usage: Option<Usage>,
}

impl CompletionStream {
    fn finish(&mut self, status: &'static str, error: Option<String>) {
        let Some(ledger) = self.ledger.take() else {
            return;
        };
        let outcome = Outcome {
            status,
            stream: true,
            usage: self.usage,
            text: Some(self.text.clone()),
            response: Some(serde_json::json!({ "content": self.text })),
            error,
            first_byte_ms: self.first_byte_ms,
        };
        // Recording must not hold up the caller, and must happen even when the
        // stream is dropped outside a task (so it is spawned, not awaited).
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(ledger.write(outcome));
        }
    }
}

impl Stream for CompletionStream {
    type Item = Result<ChatChunk, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                if self.first_byte_ms.is_none()
                    && let Some(ledger) = &self.ledger
                {
                    self.first_byte_ms = Some(
                        u32::try_from(ledger.started.elapsed().as_millis()).unwrap_or(u32::MAX),
                    );
                }
                match chunk {
                    ChatChunk::Delta(delta) => {
                        let delta = delta.clone();
                        self.text.push_str(&delta);
                    }
                    ChatChunk::Finish {
                        usage: Some(usage), ..
                    } => self.usage = Some(*usage),
                    _ => {}
                }
            }
            Poll::Ready(Some(Err(err))) => {
                let message = err.to_string();
                self.finish("failed", Some(message));
            }
            Poll::Ready(None) => self.finish("complete", None),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for CompletionStream {
    fn drop(&mut self) {
        self.finish("cancelled", None);
    }
}
