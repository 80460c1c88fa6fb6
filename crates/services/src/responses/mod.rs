//! OpenAI's Responses and Conversations APIs as a second door into threads:
//! a conversation is a thread, its items are the thread's messages (see
//! [`items`] for how the items that are not plain messages are kept), and a
//! response is the assistant reply that `POST /responses` starts.
//!
//! A stored response is generated like every other reply (the same task,
//! the same `message.delta` events in the thread's log), so it can be
//! followed, resumed after a dropped connection, cancelled, and read back
//! through the thread API. The reply's metadata keeps what the request
//! asked for (`openai.response`): the settings to echo, the ids of its
//! input items, who asked, and the position of its `message.created` event
//! in the log, from which a stream is replayed.
//!
//! A response with `store: false` is a plain model call (recorded like any
//! other), built from the same items and answered without writing a thread.

mod conversations;
pub mod items;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use xl_domain::messages::NewMessage;
use xl_domain::threads::{NewThread, Thread};
use xl_domain::{
    Actor, DomainError, FieldErrors, Message, MessageId, MessageRole, MessageStatus, ThreadId,
    UserId,
};
use xl_llm::{ChatMessage, ChatRequest, ChatRole, ContentPart, Tool, ToolChoice};
use xl_store::{Tx, repo};

use self::items::FunctionCallItem;
use crate::assistant::context::{ContextBudget, ContextBuilder};
use crate::assistant::tape::TapeReader;
use crate::assistant::{ReplyJob, ReplyMode, ReplyOptions, Start, fill_from_branch};
use crate::events::EventStream;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// The most input items one request may carry.
pub const MAX_INPUT_ITEMS: usize = 1000;

/// Who wrote a message item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemRole {
    /// The person.
    User,
    /// The model.
    Assistant,
    /// Standing instructions.
    System,
    /// Instructions from the developer (kept as SYSTEM).
    Developer,
}

/// One item of a request's input, or of a conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum InputItem {
    /// A message: its text, and its parts in Chat Completions' shape when
    /// it has more than text (images).
    Message {
        /// Who wrote it.
        role: ItemRole,
        /// Its text (the text parts joined).
        text: String,
        /// All its parts, when some are not text.
        parts: Option<Vec<ContentPart>>,
    },
    /// Function calls the model made, one after another (kept as one
    /// ASSISTANT message, as Chat Completions wants them).
    FunctionCalls(Vec<FunctionCallItem>),
    /// What a function returned.
    FunctionCallOutput {
        /// The call it answers.
        call_id: String,
        /// The output.
        output: String,
    },
}

/// Where a response continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continues {
    /// A new conversation (a new thread).
    New,
    /// After the current leaf of this conversation.
    Conversation(ThreadId),
    /// After this earlier response, in its thread.
    Previous(MessageId),
}

/// A request to `POST /responses`, parsed.
#[derive(Clone, Debug)]
pub struct ResponseRequest {
    /// The model; the thread's or the installation's default if `None`.
    pub model: Option<String>,
    /// The new input.
    pub input: Vec<InputItem>,
    /// The system prompt for this response.
    pub instructions: Option<String>,
    /// Where it continues.
    pub continues: Continues,
    /// Whether to keep it (a thread's messages); `false` is a plain call.
    pub store: bool,
    /// Functions the model may call.
    pub tools: Vec<Tool>,
    /// Whether and which function it must call.
    pub tool_choice: Option<ToolChoice>,
    /// Whether it may make several calls at once.
    pub parallel_tool_calls: Option<bool>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// At most this many tokens of output.
    pub max_output_tokens: Option<u32>,
    /// What the response object echoes back (the request's settings as the
    /// client spelt them), kept and returned as is.
    pub settings: Value,
}

impl ResponseRequest {
    /// What the request sets for the reply it starts.
    fn reply_options(&self) -> ReplyOptions {
        ReplyOptions {
            model: self.model.clone(),
            instructions: self.instructions.clone(),
            tools: self.tools.clone(),
            tool_choice: self.tool_choice.clone(),
            parallel_tool_calls: self.parallel_tool_calls,
            temperature: self.temperature,
            top_p: self.top_p,
            max_output_tokens: self.max_output_tokens,
            metadata: None,
        }
    }
}

/// A stored response: the reply and what its request asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    /// The assistant message (its id is the response's).
    pub reply: Message,
    /// What the request asked for.
    pub record: ResponseRecord,
}

/// What is kept of a response's request, in its reply's metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// The request's settings, to echo.
    #[serde(default)]
    pub settings: Value,
    /// The messages its input became, in order.
    #[serde(default)]
    pub input: Vec<MessageId>,
    /// Who asked.
    pub user: UserId,
    /// The response it continued.
    #[serde(default)]
    pub previous: Option<MessageId>,
    /// The conversation it was made in, when named by the request.
    #[serde(default)]
    pub conversation: Option<ThreadId>,
    /// The position of the reply's `message.created` event.
    #[serde(default)]
    pub seq: i64,
}

impl StoredResponse {
    /// The response a message is, if it is one.
    pub fn from_message(reply: Message) -> Option<Self> {
        let record = items::extra(reply.metadata.as_ref())?.get("response")?;
        let record = serde_json::from_value(record.clone()).ok()?;
        Some(StoredResponse { reply, record })
    }
}

/// A created response as the caller asked for it.
pub enum Created {
    /// Ended (or, in the background, still running).
    Response(StoredResponse),
    /// Streaming: the response as it started, and its events from the start.
    Stream(StoredResponse, ResponseFeed),
}

/// What a stream of a stored response follows.
pub struct ResponseFeed {
    /// The reply's events in the thread's log, from its `message.created`
    /// on, then live until its final status (or until the caller may no
    /// longer read the conversation).
    /// (`None` for a response just created, whose rows are being written:
    /// the tape says when they are.)
    pub events: Option<EventStream>,
    /// While this process generates the reply: its deltas as they come,
    /// before they are committed, and its end, after. The same deltas as
    /// the log's `message.delta` events, in the same order.
    pub tape: Option<TapeReader>,
}

/// An item as the message it becomes, checked (`at` names the item in
/// errors; `owns`: whether the caller owns the conversation, which items
/// other than user messages need).
fn checked_item(
    item: &InputItem,
    parent: Option<MessageId>,
    at: &str,
    owns: bool,
) -> Result<NewMessage, ServiceError> {
    let message = item_message(item, parent);
    if message.role != Some(MessageRole::User) && !owns {
        return Err(invalid(
            &format!("{at}.role"),
            "only the conversation's owner may add items other than user messages",
        ));
    }
    message.check().map_err(|err| {
        ServiceError::Invalid(DomainError::Validation(under(at, &err.field_errors())))
    })?;
    crate::messages::check_content(message.content.as_deref()).map_err(|err| match err {
        ServiceError::Unprocessable(errors) => ServiceError::Unprocessable(under(at, &errors)),
        other => other,
    })?;
    Ok(message)
}

/// Problems of an item's message, named under the item (`input[2].content`).
fn under(at: &str, errors: &FieldErrors) -> FieldErrors {
    let mut named = FieldErrors::new();
    for (field, reasons) in errors.iter() {
        for reason in reasons {
            named.add(format!("{at}.{field}"), reason.clone());
        }
    }
    named
}

fn invalid(field: &str, message: &str) -> ServiceError {
    ServiceError::Invalid(DomainError::invalid(field, message))
}

/// The message an input item becomes.
fn item_message(item: &InputItem, parent: Option<MessageId>) -> NewMessage {
    let (role, content, extra) = match item {
        InputItem::Message { role, text, parts } => {
            let mut extra = serde_json::Map::new();
            if let Some(parts) = parts {
                extra.insert("content".into(), json!(parts));
            }
            if *role == ItemRole::Developer {
                extra.insert("role".into(), json!("developer"));
            }
            let role = match role {
                ItemRole::User => MessageRole::User,
                ItemRole::Assistant => MessageRole::Assistant,
                ItemRole::System | ItemRole::Developer => MessageRole::System,
            };
            (role, text.clone(), extra)
        }
        InputItem::FunctionCalls(calls) => {
            let mut extra = serde_json::Map::new();
            extra.insert("tool_calls".into(), json!(calls));
            (MessageRole::Assistant, String::new(), extra)
        }
        InputItem::FunctionCallOutput { call_id, output } => {
            let mut extra = serde_json::Map::new();
            extra.insert("call_id".into(), json!(call_id));
            (MessageRole::Tool, output.clone(), extra)
        }
    };
    NewMessage {
        role: Some(role),
        content: Some(content),
        metadata: (!extra.is_empty()).then(|| json!({ items::KEY: extra })),
        parent_id: parent,
        ..NewMessage::default()
    }
}

/// The prompt message an input item is, for a response that is not kept.
fn item_prompt(item: &InputItem) -> ChatMessage {
    match item {
        InputItem::Message { role, text, parts } => {
            let role = match role {
                ItemRole::User => ChatRole::User,
                ItemRole::Assistant => ChatRole::Assistant,
                ItemRole::System | ItemRole::Developer => ChatRole::System,
            };
            match parts {
                Some(parts) => ChatMessage::with_parts(role, parts.clone()),
                None => ChatMessage::new(role, text.clone()),
            }
        }
        InputItem::FunctionCalls(calls) => {
            let mut prompt = ChatMessage::assistant(String::new());
            prompt.content = None;
            prompt.tool_calls = calls
                .iter()
                .map(|call| xl_llm::ToolCall {
                    id: call.call_id.clone(),
                    kind: xl_llm::ToolKind::Function,
                    function: xl_llm::FunctionCall {
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    },
                })
                .collect();
            prompt
        }
        InputItem::FunctionCallOutput { call_id, output } => {
            ChatMessage::tool(call_id.clone(), output.clone())
        }
    }
}

impl Services {
    /// Writes input items as messages, each answering the one before, after
    /// `parent`. Items other than a person's messages (the assistant's
    /// words, instructions, function calls and their output) may be
    /// written only by the thread's owner or an administrator, so a member
    /// cannot put words in the assistant's mouth in a shared thread.
    pub(crate) async fn insert_items(
        &self,
        tx: &Tx,
        actor: &Actor,
        thread: &Thread,
        mut parent: Option<MessageId>,
        input: &[InputItem],
        field: &str,
    ) -> Result<(Vec<Message>, Vec<xl_domain::events::ThreadEvent>), ServiceError> {
        if input.len() > MAX_INPUT_ITEMS {
            return Err(invalid(
                field,
                &format!("must have at most {MAX_INPUT_ITEMS} items"),
            ));
        }
        let owns = thread.owner_id == actor.user_id || actor.is_admin();
        let mut written = Vec::with_capacity(input.len());
        let mut events = Vec::new();
        for (index, item) in input.iter().enumerate() {
            let message = checked_item(item, parent, &format!("{field}[{index}]"), owns)?;
            let (message, _, made) = self.insert_message(tx, actor, thread.id, message).await?;
            parent = Some(message.id);
            written.push(message);
            events.extend(made);
        }
        Ok((written, events))
    }

    /// Creates a response: writes its input into the conversation it
    /// continues (a new one, a named one, or the thread of the previous
    /// response, after it) and starts the reply; answers once it has ended,
    /// at once in the `background`, or as a stream of its events. For a
    /// request with `store: false` use [`Services::unstored_request`].
    pub async fn create_response(
        &self,
        actor: &Actor,
        request: ResponseRequest,
        background: bool,
        stream: bool,
    ) -> Result<Created, ServiceError> {
        if let Some(model) = &request.model {
            self.check_model_known(model).await?;
        }
        if stream {
            return self.stream_response(actor, request).await;
        }
        let (response, job) = self
            .write_response(actor, &request, ThreadId::new(), MessageId::new())
            .await?;
        let mode = if background {
            ReplyMode::Stream
        } else {
            ReplyMode::Sync
        };
        let reply = self.run_reply(response.reply, job, mode).await?;
        Ok(Created::Response(StoredResponse {
            reply,
            record: response.record,
        }))
    }

    /// Writes a response's input and its reply (`thread` and `reply` are
    /// the ids a new conversation and the reply get) in one transaction.
    async fn write_response(
        &self,
        actor: &Actor,
        request: &ResponseRequest,
        thread: ThreadId,
        reply: MessageId,
    ) -> Result<(StoredResponse, ReplyJob), ServiceError> {
        let tx = self.store.begin_write().await?;
        let (thread, parent, previous, conversation) = match request.continues {
            Continues::New => {
                let row = Self::new_thread_row(
                    actor,
                    &NewThread {
                        model: request.model.clone(),
                        ..NewThread::default()
                    },
                )?;
                let thread = repo::threads::insert_as(&tx, thread, row).await?;
                (thread, None, None, None)
            }
            Continues::Conversation(id) => {
                let thread = self
                    .thread_in_tx(&tx, actor, id, Access::Write)
                    .await
                    .map_err(|_| ServiceError::NotFound("conversation"))?;
                let leaf = thread.current_leaf_id;
                (thread, leaf, None, Some(id))
            }
            Continues::Previous(id) => {
                let previous = repo::messages::find(&tx, actor.org_id, id)
                    .await?
                    .and_then(StoredResponse::from_message)
                    .filter(|found| found.reply.deleted_at.is_none())
                    .ok_or(ServiceError::NotFound("response"))?;
                let thread = self
                    .thread_in_tx(&tx, actor, previous.reply.thread_id, Access::Write)
                    .await
                    .map_err(|_| ServiceError::NotFound("response"))?;
                (thread, Some(id), Some(id), None)
            }
        };
        let (input, mut events) = self
            .insert_items(&tx, actor, &thread, parent, &request.input, "input")
            .await?;
        let Some(answers) = input.last().map(|message| message.id).or(parent) else {
            return Err(invalid("input", "must not be empty in a new conversation"));
        };
        let mut record = ResponseRecord {
            settings: request.settings.clone(),
            input: input.iter().map(|message| message.id).collect(),
            user: actor.user_id,
            previous,
            conversation,
            seq: 0,
        };
        let mut options = request.reply_options();
        options.metadata = Some(json!({ items::KEY: { "response": record } }));
        let (mut reply, created, mut job) = self
            .insert_reply_as(
                &tx,
                reply,
                actor,
                &thread,
                answers,
                None,
                Some(options.clone()),
            )
            .await?;
        // The reply's event position is known only now: kept with the
        // record, so that a stream of it can be replayed from the log.
        record.seq = created.seq;
        let metadata = json!({ items::KEY: { "response": record } });
        repo::replies::set_metadata(&tx, reply.id, &metadata).await?;
        reply.metadata = Some(metadata.clone());
        options.metadata = Some(metadata);
        job.options = Some(std::sync::Arc::new(options));
        events.push(created);
        self.commit_and_publish(tx, events).await?;
        Ok((StoredResponse { reply, record }, job))
    }

    /// A streamed response: everything that could refuse it is checked on
    /// the reader, the model is called at once, and the response streams
    /// from its reply's tape while its input and reply are written beside
    /// it, so the writer is not in front of its first token. The reply's
    /// text is written once they are (and the stream watches the log for
    /// the conversation's deletion from then on). Should that write fail,
    /// the stream ends with an `error` event and the response does not
    /// exist; until it commits, `GET /responses/{id}` does not find it.
    async fn stream_response(
        &self,
        actor: &Actor,
        request: ResponseRequest,
    ) -> Result<Created, ServiceError> {
        let (chat, thread) = self.prompt_for(actor, &request, Access::Write).await?;
        let owns = thread
            .as_ref()
            .is_none_or(|thread| thread.owner_id == actor.user_id)
            || actor.is_admin();
        for (index, item) in request.input.iter().enumerate() {
            checked_item(item, None, &format!("input[{index}]"), owns)?;
        }
        let thread = thread.map_or_else(ThreadId::new, |thread| thread.id);
        let (previous, conversation) = match request.continues {
            Continues::New => (None, None),
            Continues::Conversation(id) => (None, Some(id)),
            Continues::Previous(id) => (Some(id), None),
        };
        let record = ResponseRecord {
            settings: request.settings.clone(),
            input: Vec::new(),
            user: actor.user_id,
            previous,
            conversation,
            seq: 0,
        };
        let metadata = json!({ items::KEY: { "response": record } });
        let mut options = request.reply_options();
        options.metadata = Some(metadata.clone());
        let id = MessageId::new();
        let now = chrono::Utc::now();
        let reply = Message {
            id,
            thread_id: thread,
            parent_id: None,
            user_id: None,
            role: MessageRole::Assistant,
            content: String::new(),
            blocks: None,
            metadata: Some(metadata),
            status: MessageStatus::Streaming,
            model: Some(chat.model.clone()),
            error: None,
            attachments: Vec::new(),
            edited_at: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
            tokens: None,
        };
        let job = ReplyJob {
            actor: actor.clone(),
            thread,
            reply: id,
            // Replaced, with the rest, by the job as written.
            answers: id,
            model: chat.model.clone(),
            system_prompt: None,
            note: None,
            options: Some(std::sync::Arc::new(options)),
        };
        let (created, creating) = tokio::sync::oneshot::channel();
        self.start_reply_with(
            job,
            Start::Early {
                request: Box::new(chat),
                created: creating,
            },
        );
        let tape = self.generations.tape(id);
        let services = self.clone();
        let writer = actor.clone();
        self.spawn(async move {
            let written = services
                .write_response(&writer, &request, thread, id)
                .await
                .map(|(_, job)| job);
            if written.is_ok() {
                services.generations.created(id);
            }
            let _ = created.send(written);
        });
        let response = StoredResponse { reply, record };
        Ok(Created::Stream(
            response,
            ResponseFeed { events: None, tape },
        ))
    }

    /// A stored response the caller may read.
    pub async fn get_response(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<StoredResponse, ServiceError> {
        let message = self
            .get_message(actor, id)
            .await
            .map_err(|_| ServiceError::NotFound("response"))?;
        if message.deleted_at.is_some() {
            return Err(ServiceError::NotFound("response"));
        }
        StoredResponse::from_message(message).ok_or(ServiceError::NotFound("response"))
    }

    /// A stored response and its events from its start (replayed from the
    /// thread's log, then live until it ends).
    pub async fn follow_response(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<(StoredResponse, ResponseFeed), ServiceError> {
        let response = self.get_response(actor, id).await?;
        let feed = self.response_feed(actor, &response).await?;
        Ok((response, feed))
    }

    async fn response_feed(
        &self,
        actor: &Actor,
        response: &StoredResponse,
    ) -> Result<ResponseFeed, ServiceError> {
        let id = response.reply.id;
        // The tape first: a reply that ends in between has all of its
        // events in the log by the time it leaves the registry.
        let tape = self.generations.tape(id);
        let events = self
            .follow_message(actor, id, response.record.seq - 1)
            .await?;
        Ok(ResponseFeed {
            events: Some(events),
            tape,
        })
    }

    /// Stops a response being generated (by whoever may write in its
    /// conversation) and returns it as it ended. One that has already ended
    /// is returned as it is if it was cancelled, and is a conflict otherwise.
    pub async fn cancel_response(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<StoredResponse, ServiceError> {
        let response = self.get_response(actor, id).await?;
        match response.reply.status {
            MessageStatus::Streaming => {
                self.cancel_reply(actor, id)
                    .await
                    .map_err(|err| match err {
                        ServiceError::NotFound(_) => ServiceError::NotFound("response"),
                        other => other,
                    })?;
                self.get_response(actor, id).await
            }
            MessageStatus::Cancelled => Ok(response),
            _ => Err(ServiceError::Conflict(
                "only a response in progress can be cancelled".into(),
            )),
        }
    }

    /// Deletes a stored response (who asked for it, the conversation's
    /// owner, or an administrator): its reply becomes a tombstone in the
    /// thread, and the response is not found from then on.
    pub async fn delete_response(&self, actor: &Actor, id: MessageId) -> Result<(), ServiceError> {
        let response = self.get_response(actor, id).await?;
        let thread = self
            .thread_for(actor, response.reply.thread_id, Access::Read)
            .await?;
        let allowed = response.record.user == actor.user_id
            || thread.owner_id == actor.user_id
            || actor.is_admin();
        if !allowed {
            return Err(ServiceError::Forbidden(
                "only who asked for a response, the conversation's owner or an administrator may delete it"
                    .into(),
            ));
        }
        self.remove_message(actor, id).await
    }

    /// The messages a stored response's input became, in order.
    pub async fn response_input(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<Vec<Message>, ServiceError> {
        let response = self.get_response(actor, id).await?;
        let db = self.store.reader();
        let mut input = Vec::with_capacity(response.record.input.len());
        for id in &response.record.input {
            if let Some(message) = repo::messages::find(db, actor.org_id, *id).await? {
                input.push(message);
            }
        }
        Ok(input)
    }

    /// The model call of a response that is not kept: the instructions, the
    /// conversation or previous response it continues (as much as fits),
    /// then its input. The caller makes the call (and so records it).
    pub async fn unstored_request(
        &self,
        actor: &Actor,
        request: &ResponseRequest,
    ) -> Result<ChatRequest, ServiceError> {
        Ok(self.prompt_for(actor, request, Access::Read).await?.0)
    }

    /// The model call of a response, read from what is committed, and the
    /// conversation it continues (which the caller needs `access` to).
    async fn prompt_for(
        &self,
        actor: &Actor,
        request: &ResponseRequest,
        access: Access,
    ) -> Result<(ChatRequest, Option<Thread>), ServiceError> {
        let db = self.store.reader();
        let (thread, leaf) = match request.continues {
            Continues::New => (None, None),
            Continues::Conversation(id) => {
                let thread = self
                    .thread_for(actor, id, access)
                    .await
                    .map_err(|_| ServiceError::NotFound("conversation"))?;
                let leaf = thread.current_leaf_id;
                (Some(thread), leaf)
            }
            Continues::Previous(id) => {
                let previous = self.get_response(actor, id).await?;
                let thread = self
                    .thread_for(actor, previous.reply.thread_id, access)
                    .await
                    .map_err(|_| ServiceError::NotFound("response"))?;
                (Some(thread), Some(id))
            }
        };
        if request.input.is_empty() && leaf.is_none() {
            return Err(invalid("input", "must not be empty in a new conversation"));
        }
        if request.input.len() > MAX_INPUT_ITEMS {
            return Err(invalid(
                "input",
                &format!("must have at most {MAX_INPUT_ITEMS} items"),
            ));
        }
        let model = request
            .model
            .clone()
            .or_else(|| thread.as_ref().and_then(|thread| thread.model.clone()))
            .unwrap_or_else(|| self.config.default_model.clone());
        let system = request.instructions.clone().or_else(|| {
            thread
                .as_ref()
                .and_then(|thread| thread.system_prompt.clone())
        });
        let budget = ContextBudget::for_model(&self.models, &model);
        let mut builder = ContextBuilder::new(&model, system.as_deref(), budget);
        if let (Some(thread), Some(leaf)) = (&thread, leaf) {
            fill_from_branch(db, &mut builder, thread.id, leaf).await?;
        }
        let mut messages = builder.build();
        messages.extend(request.input.iter().map(item_prompt));
        let mut chat = ChatRequest::new(model, messages);
        request.reply_options().apply(&mut chat);
        Ok((chat, thread))
    }
}
