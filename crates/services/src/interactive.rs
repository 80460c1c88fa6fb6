//! Interactive actions: a person used an element (a button, a select) of a
//! message's Block Kit blocks. The action is checked against the message
//! (the caller may write to its thread; the block and the element exist,
//! and what the action chose is what the element offers),
//! recorded with its `interactive.action` event, and, where the thread's
//! assistant is on, answered by a reply whose prompt says what was done.

use serde_json::{Value, json};
use xl_domain::events::kind;
use xl_domain::interactive::{BlockActions, RecordedAction, find_element};
use xl_domain::{ActionId, Actor, Message, MessageId};
use xl_store::repo::messages::Gate;
use xl_store::{Conn, repo};

use crate::assistant::ReplyMode;
use crate::messages::admit;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// Characters of the note that tells the assistant what was done.
const NOTE_MAX_CHARS: usize = 4000;

/// What an interactive payload did.
#[derive(Clone, Debug, PartialEq)]
pub struct Acted {
    /// The actions as recorded, in the payload's order.
    pub actions: Vec<RecordedAction>,
    /// The assistant's reply, when the thread's assistant is on: ended in
    /// sync mode, `streaming` in stream mode.
    pub reply: Option<Message>,
}

/// The message acted on and the elements the actions name.
struct Checked {
    message: Message,
    gate: Gate,
    elements: Vec<Value>,
}

impl Services {
    /// Checks that the caller may act on the message and that each action
    /// names an element of its blocks and chose what that element offers.
    async fn check_actions<C: Conn>(
        &self,
        db: &C,
        actor: &Actor,
        payload: &BlockActions,
    ) -> Result<Checked, ServiceError> {
        let not_found = || ServiceError::NotFound("message");
        let message = repo::messages::find(db, actor.org_id, payload.message_id)
            .await?
            .filter(|message| message.deleted_at.is_none())
            .ok_or_else(not_found)?;
        let gate = repo::messages::gate(db, actor.org_id, actor.user_id, message.thread_id).await?;
        let gate = admit(actor, gate, Access::Write).map_err(|_| not_found())?;
        let blocks = message.blocks.clone().unwrap_or(Value::Null);
        let mut elements = Vec::with_capacity(payload.actions.len());
        for (i, action) in payload.actions.iter().enumerate() {
            let element = find_element(&blocks, &action.block_id, &action.action_id)
                .ok_or(ServiceError::NotFound("action"))?;
            action.check_against(element, &format!("actions[{i}]"))?;
            elements.push(element.clone());
        }
        Ok(Checked {
            message,
            gate,
            elements,
        })
    }

    /// Records a `block_actions` payload. Unknown message (or one the
    /// caller may not write to) and unknown action are 404.
    pub async fn interact(
        &self,
        actor: &Actor,
        payload: BlockActions,
        mode: ReplyMode,
    ) -> Result<Acted, ServiceError> {
        // Checked on the read pool first, so a bad action never waits for
        // the writer; checked again in the transaction, which may see a
        // later edit of the message or a change of membership.
        self.check_actions(self.store.reader(), actor, &payload)
            .await?;
        let tx = self.store.begin_write().await?;
        let Checked {
            message,
            gate,
            elements,
        } = self.check_actions(&tx, actor, &payload).await?;
        let thread = message.thread_id;
        let mut recorded = Vec::with_capacity(payload.actions.len());
        let mut events = Vec::with_capacity(payload.actions.len() + 1);
        let mut note = format!(
            "[interactive action] {} acted on the message {}:",
            actor.email.as_str(),
            message.id
        );
        for (action, element) in payload.actions.iter().zip(&elements) {
            let record = RecordedAction {
                id: ActionId::new(),
                org_id: actor.org_id,
                thread_id: thread,
                message_id: message.id,
                user_id: actor.user_id,
                action_id: action.action_id.clone(),
                block_id: action.block_id.clone(),
                kind: action.kind.clone(),
                payload: json!({ "action": action.payload, "state": payload.state }),
                created_at: chrono::Utc::now(),
            };
            repo::interactive::insert(&tx, &record).await?;
            events.push(
                self.log_event(
                    &tx,
                    thread,
                    kind::INTERACTIVE_ACTION,
                    Some(message.id),
                    Some(actor),
                    &record,
                )
                .await?,
            );
            note.push_str("\n- ");
            note.push_str(&action.describe(Some(element)));
            recorded.push(record);
        }
        let reply = if gate.auto_reply && self.config.auto_completion_enabled {
            let thread = self.thread_in_tx(&tx, actor, thread, Access::Write).await?;
            let answers: MessageId = gate.current_leaf.unwrap_or(message.id);
            let note: String = note.chars().take(NOTE_MAX_CHARS).collect();
            let (reply, created, job) = self
                .insert_reply(&tx, actor, &thread, answers, Some(note), None)
                .await?;
            events.push(created);
            Some((reply, job))
        } else {
            None
        };
        self.commit_and_publish(tx, events).await?;
        let reply = match reply {
            Some((reply, job)) => Some(self.run_reply(reply, job, mode).await?),
            None => None,
        };
        Ok(Acted {
            actions: recorded,
            reply,
        })
    }
}
