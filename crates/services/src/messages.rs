//! Messages in threads: posting (with the thread's current branch moving to
//! the new message), reading a branch or the whole tree, editing with
//! history, and deleting as tombstones.

use serde_json::json;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::messages::{Branch, MessageUpdate, NewMessage, Revision};
use xl_domain::threads::auto_title;
use xl_domain::{
    Actor, DomainError, Message, MessageId, MessageRole, MessageStatus, Page, PageRequest, ThreadId,
};
use xl_store::repo::messages::{Gate, NewMessageRow, Poster};
use xl_store::{StoreError, Tx, repo};

use crate::assistant::context::token_count;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// Checks a gate against the access wanted; a thread the caller may not
/// see is not found.
pub(crate) fn admit(
    actor: &Actor,
    gate: Option<Gate>,
    access: Access,
) -> Result<Gate, ServiceError> {
    let gate = gate
        .filter(|g| !g.deleted)
        .ok_or(ServiceError::NotFound("thread"))?;
    if gate.member.is_none() && !actor.is_admin() {
        return Err(ServiceError::NotFound("thread"));
    }
    if access == Access::Manage && gate.owner_id != actor.user_id && !actor.is_admin() {
        return Err(ServiceError::Forbidden(
            "only the thread's owner or an administrator may do this".into(),
        ));
    }
    Ok(gate)
}

/// Checks a message to post before any transaction begins, so bad input
/// never waits for the writer.
pub(crate) fn check_post(actor: &Actor, input: &NewMessage) -> Result<(), ServiceError> {
    input.check()?;
    check_content(input.content.as_deref())?;
    if input.role.is_some_and(|role| role != MessageRole::User) && !actor.is_admin() {
        return Err(ServiceError::Invalid(DomainError::invalid(
            "role",
            "you may post only USER messages",
        )));
    }
    Ok(())
}

/// Whether the caller may change a message: its author or an administrator.
fn may_change(actor: &Actor, message: &Message) -> bool {
    message.user_id == Some(actor.user_id) || actor.is_admin()
}

/// Message text carries no NUL or control characters but tabs and line
/// breaks (422 naming `content`).
pub(crate) fn check_content(content: Option<&str>) -> Result<(), ServiceError> {
    let mut text = xl_domain::text::TextCheck::new();
    text.multi_line("content", content);
    text.finish().map_err(ServiceError::Unprocessable)
}

impl Services {
    pub(crate) async fn gate_in_tx(
        &self,
        tx: &Tx,
        actor: &Actor,
        thread: ThreadId,
        access: Access,
    ) -> Result<Gate, ServiceError> {
        admit(
            actor,
            repo::messages::gate(tx, actor.org_id, actor.user_id, thread).await?,
            access,
        )
    }

    /// Posts a message. People post as USER; administrators and integrations
    /// may also post ASSISTANT or SYSTEM messages. The parent defaults to the
    /// thread's current leaf, and the new message becomes the leaf. A thread
    /// without a title takes one from its first user message.
    pub async fn post_message(
        &self,
        actor: &Actor,
        thread: ThreadId,
        input: NewMessage,
    ) -> Result<Message, ServiceError> {
        check_post(actor, &input)?;
        if is_plain(&input) {
            return match self.post_alone(actor, thread, input, false).await? {
                Some(message) => Ok(message),
                None => Err(self.refused_post(actor, thread).await),
            };
        }
        let tx = self.store.begin_write().await?;
        let (message, _, events) = self.insert_message(&tx, actor, thread, input).await?;
        self.commit_and_publish(tx, events).await?;
        Ok(message)
    }

    /// A plain post (see [`is_plain`]) as the whole of its transaction,
    /// committed with it in one visit to the writer; `None`, with nothing
    /// written, if it was refused (or, with `unless_replying`, if the
    /// thread's assistant replies).
    pub(crate) async fn post_alone(
        &self,
        actor: &Actor,
        thread: ThreadId,
        input: NewMessage,
        unless_replying: bool,
    ) -> Result<Option<Message>, ServiceError> {
        let (row, title) = self.message_row(actor, thread, input);
        let tx = self.store.begin_write().await?;
        let poster = poster(actor);
        let posted =
            repo::messages::post(tx, poster, row, title.as_deref(), unless_replying).await?;
        Ok(posted.map(|posted| {
            self.events.publish(posted.event);
            posted.message
        }))
    }

    /// Why a post was refused (the thread is not there, or not the
    /// poster's to write in).
    async fn refused_post(&self, actor: &Actor, thread: ThreadId) -> ServiceError {
        let gate =
            repo::messages::gate(self.store.reader(), actor.org_id, actor.user_id, thread).await;
        match gate
            .map_err(ServiceError::from)
            .and_then(|gate| admit(actor, gate, Access::Write))
        {
            Ok(_) => ServiceError::NotFound("thread"),
            Err(err) => err,
        }
    }

    /// The row a post stores, and a title for an untitled thread.
    fn message_row(
        &self,
        actor: &Actor,
        thread: ThreadId,
        input: NewMessage,
    ) -> (NewMessageRow, Option<String>) {
        let role = input.role.unwrap_or(MessageRole::User);
        let content = input.content.unwrap_or_default();
        let title = if role == MessageRole::User {
            let source = if content.trim().is_empty() {
                input
                    .blocks
                    .as_ref()
                    .map(xl_domain::messages::blocks_text)
                    .unwrap_or_default()
            } else {
                content.clone()
            };
            auto_title(&source)
        } else {
            None
        };
        // Counted for the default model's tokenizer; a reply by a model of
        // another family counts the message again when it builds a prompt.
        let tokens = Some(token_count(
            &self.config.default_model,
            role,
            &content,
            input.blocks.as_ref(),
            input.metadata.as_ref(),
        ));
        let row = NewMessageRow {
            id: MessageId::new(),
            thread_id: thread,
            org_id: actor.org_id,
            parent_id: input.parent_id,
            user_id: Some(actor.user_id),
            role,
            content,
            blocks: input.blocks,
            metadata: input.metadata,
            tokens,
            status: MessageStatus::Complete,
            model: None,
            attachments: input.attachments.unwrap_or_default(),
        };
        (row, title)
    }

    /// Inserts a posted message (checks included) with its `message.created`
    /// event (and a `file.attached` for each attachment) inside the caller's
    /// write transaction, returning it, whether the thread's assistant
    /// replies, and the events.
    pub(crate) async fn insert_message(
        &self,
        tx: &Tx,
        actor: &Actor,
        thread: ThreadId,
        input: NewMessage,
    ) -> Result<(Message, bool, Vec<ThreadEvent>), ServiceError> {
        let attachments = input.attachments.clone().unwrap_or_default();
        let files = self
            .attachable_files(tx, actor, "attachments", &attachments)
            .await?;
        // An explicit parent is checked after access, so a caller cannot
        // probe another thread's messages through it.
        if let Some(parent) = input.parent_id {
            self.gate_in_tx(tx, actor, thread, Access::Write).await?;
            if repo::messages::find_in_thread(tx, thread, parent)
                .await?
                .is_none()
            {
                return Err(ServiceError::Invalid(DomainError::invalid(
                    "parent_id",
                    "is not a message of this thread",
                )));
            }
        }
        let (row, title) = self.message_row(actor, thread, input);
        let poster = poster(actor);
        match repo::messages::insert_checked(tx, poster, row, title.as_deref()).await? {
            Some(posted) => {
                let mut events = vec![posted.event];
                events.extend(
                    self.attach_files(tx, actor, thread, posted.message.id, &files)
                        .await?,
                );
                Ok((posted.message, posted.auto_reply, events))
            }
            // Nothing was written: say why (not found, or not allowed).
            None => {
                self.gate_in_tx(tx, actor, thread, Access::Write).await?;
                Err(ServiceError::NotFound("thread"))
            }
        }
    }

    /// A page of the thread's messages: the current branch (newest first by
    /// default) or every message.
    pub async fn list_messages(
        &self,
        actor: &Actor,
        thread: ThreadId,
        branch: Branch,
        page: &PageRequest,
    ) -> Result<Page<Message>, ServiceError> {
        let db = self.store.reader();
        let gate = repo::messages::gate(db, actor.org_id, actor.user_id, thread).await?;
        let gate = admit(actor, gate, Access::Read)?;
        Ok(match branch {
            Branch::Current => {
                repo::messages::list_branch(db, thread, gate.current_leaf, page).await?
            }
            Branch::All => repo::messages::list_all(db, thread, page).await?,
        })
    }

    /// A message the caller may read.
    pub async fn get_message(&self, actor: &Actor, id: MessageId) -> Result<Message, ServiceError> {
        let db = self.store.reader();
        let message = repo::messages::find(db, actor.org_id, id)
            .await?
            .ok_or(ServiceError::NotFound("message"))?;
        admit(
            actor,
            repo::messages::gate(db, actor.org_id, actor.user_id, message.thread_id).await?,
            Access::Read,
        )
        .map_err(|_| ServiceError::NotFound("message"))?;
        Ok(message)
    }

    /// Finds a message for a change by its author (or an org admin).
    async fn message_for_change(
        &self,
        tx: &Tx,
        actor: &Actor,
        id: MessageId,
    ) -> Result<Message, ServiceError> {
        let message = repo::messages::find(tx, actor.org_id, id)
            .await?
            .ok_or(ServiceError::NotFound("message"))?;
        admit(
            actor,
            repo::messages::gate(tx, actor.org_id, actor.user_id, message.thread_id).await?,
            Access::Read,
        )
        .map_err(|_| ServiceError::NotFound("message"))?;
        if !may_change(actor, &message) {
            return Err(ServiceError::Forbidden(
                "only the author or an administrator may change a message".into(),
            ));
        }
        if message.deleted_at.is_some() {
            return Err(ServiceError::Conflict(
                "the message has been deleted".into(),
            ));
        }
        Ok(message)
    }

    /// A reply still being generated here is stopped (and waited for)
    /// before it is edited or deleted, so the change is not overwritten by
    /// text the generator appends afterwards. The check is a read; the
    /// change's own transaction settles any reply that is still `streaming`
    /// (see [`Services::cancel_in_tx`]).
    async fn end_generation_before_change(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<(), ServiceError> {
        let db = self.store.reader();
        let Some(message) = repo::messages::find(db, actor.org_id, id).await? else {
            return Ok(());
        };
        if message.status != MessageStatus::Streaming {
            return Ok(());
        }
        // Only someone who may change the message stops its generation; for
        // anyone else the change's transaction says why not.
        let gate = repo::messages::gate(db, actor.org_id, actor.user_id, message.thread_id).await?;
        if admit(actor, gate, Access::Read).is_ok() && may_change(actor, &message) {
            self.stop_generation(id).await;
        }
        Ok(())
    }

    /// Edits a message (author or admin), keeping the previous version. A
    /// reply being generated is cancelled first and keeps the edit: the
    /// `message.updated` events say `cancelled`, then give the new text.
    pub async fn edit_message(
        &self,
        actor: &Actor,
        id: MessageId,
        input: MessageUpdate,
    ) -> Result<Message, ServiceError> {
        input.check()?;
        check_content(input.content.as_deref())?;
        self.end_generation_before_change(actor, id).await?;
        let tx = self.store.begin_write().await?;
        let message = self.message_for_change(&tx, actor, id).await?;
        let content_after = input.content.as_deref().unwrap_or(&message.content);
        let blocks_after = match &input.blocks {
            Some(blocks) => blocks.as_ref(),
            None => message.blocks.as_ref(),
        };
        if content_after.trim().is_empty()
            && blocks_after.is_none_or(|b| b.as_array().is_none_or(Vec::is_empty))
        {
            return Err(ServiceError::Invalid(DomainError::invalid(
                "content",
                "a message needs content or blocks",
            )));
        }
        let mut events: Vec<ThreadEvent> = self
            .cancel_in_tx(&tx, &message, actor)
            .await?
            .into_iter()
            .collect();
        let edited = repo::messages::edit(
            &tx,
            id,
            actor.user_id,
            input.content,
            input.blocks,
            input.metadata,
        )
        .await?;
        let payload = json!({
            "content": edited.content,
            "blocks": edited.blocks,
            "metadata": edited.metadata,
            "status": edited.status,
            "edited_at": edited.edited_at,
        });
        events.push(
            self.log_event(
                &tx,
                edited.thread_id,
                kind::MESSAGE_UPDATED,
                Some(id),
                Some(actor),
                payload,
            )
            .await?,
        );
        self.commit_and_publish(tx, events).await?;
        Ok(edited)
    }

    /// Deletes a message (author or admin): a tombstone stays so the tree is
    /// whole. A reply being generated is cancelled first, so nothing writes
    /// into the tombstone afterwards.
    pub async fn delete_message(&self, actor: &Actor, id: MessageId) -> Result<(), ServiceError> {
        self.end_generation_before_change(actor, id).await?;
        let tx = self.store.begin_write().await?;
        let message = self.message_for_change(&tx, actor, id).await?;
        self.tombstone_in_tx(tx, actor, message).await
    }

    /// Deletes a message for a caller whose right to has been checked by
    /// other rules (a response's asker, a conversation's owner); a reply
    /// being generated is stopped first, as for [`Services::delete_message`].
    pub(crate) async fn remove_message(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<(), ServiceError> {
        self.stop_generation(id).await;
        let tx = self.store.begin_write().await?;
        let message = repo::messages::find(&tx, actor.org_id, id)
            .await?
            .filter(|message| message.deleted_at.is_none())
            .ok_or(ServiceError::NotFound("message"))?;
        self.tombstone_in_tx(tx, actor, message).await
    }

    /// Leaves a tombstone of a message, cancelling it first if it was still
    /// being generated, with the events, and commits.
    async fn tombstone_in_tx(
        &self,
        tx: Tx,
        actor: &Actor,
        message: Message,
    ) -> Result<(), ServiceError> {
        let id = message.id;
        let mut events: Vec<ThreadEvent> = self
            .cancel_in_tx(&tx, &message, actor)
            .await?
            .into_iter()
            .collect();
        repo::messages::tombstone(&tx, id).await?;
        let target = Some(("message", id.to_string()));
        let details = serde_json::json!({ "thread": message.thread_id, "author": message.user_id });
        crate::audit::record(
            &tx,
            actor.into(),
            xl_domain::audit::action::MESSAGE_DELETED,
            target,
            Some(details),
        )
        .await?;
        events.push(
            self.log_event(
                &tx,
                message.thread_id,
                kind::MESSAGE_DELETED,
                Some(id),
                Some(actor),
                json!({ "id": id }),
            )
            .await?,
        );
        self.commit_and_publish(tx, events).await?;
        Ok(())
    }

    /// The stored versions of a message the caller may read, newest first.
    pub async fn message_revisions(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<Vec<Revision>, ServiceError> {
        self.get_message(actor, id).await?;
        Ok(repo::messages::revisions(self.store.reader(), id).await?)
    }
}

/// The `message.created` event of a message, with the message as payload.
pub(crate) async fn created_event(
    tx: &Tx,
    message: &Message,
    actor: Option<&Actor>,
) -> Result<ThreadEvent, StoreError> {
    repo::events::append(
        tx,
        message.thread_id,
        kind::MESSAGE_CREATED,
        Some(message.id),
        actor.map(|a| a.user_id),
        serde_json::to_value(message).unwrap_or_default(),
    )
    .await
}

/// A post without a parent or files: nothing to check before its insert,
/// so it can be the whole of its transaction.
pub(crate) fn is_plain(input: &NewMessage) -> bool {
    input.parent_id.is_none() && input.attachments.as_ref().is_none_or(Vec::is_empty)
}

/// Who is posting, for the access check inside the insert.
fn poster(actor: &Actor) -> Poster {
    Poster {
        org_id: actor.org_id,
        user_id: actor.user_id,
        is_admin: actor.is_admin(),
    }
}
