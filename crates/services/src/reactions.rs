//! Reactions on messages, with Slack's semantics: posting a name toggles the
//! caller's reaction, a message carries at most 50 different names and at
//! most 25 reactions from one person, and deleted messages take none.
//!
//! Whoever may read a message's thread may react to it; a message the caller
//! cannot see is not found, exactly as for reading it.

use serde_json::json;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::reactions::{
    MAX_NAMES_PER_MESSAGE, MAX_PER_USER_PER_MESSAGE, ReactionName, ReactionSummary, USERS_SHOWN,
};
use xl_domain::{Actor, Message, MessageId};
use xl_store::{Tx, repo};

use crate::messages::admit;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// What a toggle did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toggled {
    /// The caller had not reacted with the name; now they have.
    Added,
    /// The caller had reacted with the name; now they have not.
    Removed,
}

impl Services {
    /// Adds the caller's reaction if they have none of this name on the
    /// message, and removes it if they have; returns which, with the
    /// message's reactions afterwards.
    pub async fn toggle_reaction(
        &self,
        actor: &Actor,
        message: MessageId,
        name: ReactionName,
    ) -> Result<(Toggled, Vec<ReactionSummary>), ServiceError> {
        let tx = self.store.begin_write().await?;
        let reacted = self.reactable_in_tx(&tx, actor, message).await?;
        let toggled = if repo::reactions::delete(&tx, message, actor.user_id, &name).await? {
            Toggled::Removed
        } else {
            check_limits(&tx, actor, message, &name).await?;
            // A unique violation means a concurrent request from the same
            // caller added this reaction first; SQLite serialises writers, so
            // only PostgreSQL can see one.
            repo::reactions::insert(&tx, message, actor.user_id, &name)
                .await
                .map_err(ServiceError::on_unique(
                    "already_reacted: you have already reacted with this name",
                ))?;
            Toggled::Added
        };
        let summary = repo::reactions::summary(&tx, message, actor.user_id, USERS_SHOWN).await?;
        let kind = match toggled {
            Toggled::Added => kind::REACTION_ADDED,
            Toggled::Removed => kind::REACTION_REMOVED,
        };
        let event = self
            .reaction_event(&tx, actor, &reacted, kind, &name)
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok((toggled, summary))
    }

    /// Removes the caller's reaction of this name; not found if they have
    /// none (Slack's `no_reaction`). Returns the message's reactions after.
    pub async fn remove_reaction(
        &self,
        actor: &Actor,
        message: MessageId,
        name: ReactionName,
    ) -> Result<Vec<ReactionSummary>, ServiceError> {
        let tx = self.store.begin_write().await?;
        let reacted = self.reactable_in_tx(&tx, actor, message).await?;
        if !repo::reactions::delete(&tx, message, actor.user_id, &name).await? {
            return Err(ServiceError::NotFound("reaction"));
        }
        let summary = repo::reactions::summary(&tx, message, actor.user_id, USERS_SHOWN).await?;
        let event = self
            .reaction_event(&tx, actor, &reacted, kind::REACTION_REMOVED, &name)
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(summary)
    }

    /// The reactions of a message the caller may read, one entry per name in
    /// the order the names were first used.
    pub async fn list_reactions(
        &self,
        actor: &Actor,
        message: MessageId,
    ) -> Result<Vec<ReactionSummary>, ServiceError> {
        self.get_message(actor, message).await?;
        Ok(
            repo::reactions::summary(self.store.reader(), message, actor.user_id, USERS_SHOWN)
                .await?,
        )
    }

    /// The event of a reaction added or removed: who, which name, on which
    /// message.
    async fn reaction_event(
        &self,
        tx: &Tx,
        actor: &Actor,
        message: &Message,
        kind: &str,
        name: &ReactionName,
    ) -> Result<ThreadEvent, ServiceError> {
        let payload = json!({
            "message_id": message.id,
            "name": name.as_str(),
            "user_id": actor.user_id,
        });
        self.log_event(
            tx,
            message.thread_id,
            kind,
            Some(message.id),
            Some(actor),
            payload,
        )
        .await
    }

    /// The message, if the caller may react to it: visible to them (else not
    /// found) and not deleted (else a conflict, Slack's `message_not_found`).
    async fn reactable_in_tx(
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
            Access::Write,
        )
        .map_err(|_| ServiceError::NotFound("message"))?;
        if message.deleted_at.is_some() {
            return Err(ServiceError::Conflict(
                "message_not_found: the message has been deleted and takes no reactions".into(),
            ));
        }
        Ok(message)
    }
}

/// Refuses a new reaction that would break one of Slack's limits. Both are
/// `too_many_reactions` there; the text says which one was hit.
///
/// On PostgreSQL (read committed) two concurrent adds can both pass these
/// counts and overshoot a limit by a reaction or two; the limits are there to
/// keep summaries small, not as an invariant, so that is accepted rather than
/// locking the message row on every reaction.
async fn check_limits(
    tx: &Tx,
    actor: &Actor,
    message: MessageId,
    name: &ReactionName,
) -> Result<(), ServiceError> {
    if repo::reactions::count_by_user(tx, message, actor.user_id).await? >= MAX_PER_USER_PER_MESSAGE
    {
        return Err(ServiceError::Conflict(format!(
            "too_many_reactions: you already have {MAX_PER_USER_PER_MESSAGE} reactions \
             on this message, the most one person may add"
        )));
    }
    // A name already in use adds no new name, so only a new one can exceed
    // the per-message limit.
    if !repo::reactions::name_in_use(tx, message, name).await?
        && repo::reactions::count_names(tx, message).await? >= MAX_NAMES_PER_MESSAGE
    {
        return Err(ServiceError::Conflict(format!(
            "too_many_reactions: this message already has {MAX_NAMES_PER_MESSAGE} different \
             reactions, the most a message may have; react with one of those instead"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use xl_domain::messages::NewMessage;
    use xl_domain::threads::NewThread;
    use xl_domain::{Credential, Email, Role, UserId};
    use xl_llm::{EchoConfig, EchoProvider};
    use xl_store::Store;
    use xl_store::repo::users::NewUserRow;

    use super::*;
    use crate::ServicesConfig;

    async fn services() -> Services {
        let store = Store::in_memory().await.unwrap();
        let llm = Arc::new(EchoProvider::new(EchoConfig {
            pace: Duration::ZERO,
            models: Vec::new(),
        }));
        let config = ServicesConfig {
            auto_completion_enabled: false,
            ..ServicesConfig::default()
        };
        Services::new(store, llm, config)
    }

    async fn user(services: &Services, email: &str, role: Role) -> Actor {
        let email = Email::parse(email).unwrap();
        let tx = services.store.begin_write().await.unwrap();
        let org = repo::orgs::find_or_create(&tx, "acme.io").await.unwrap();
        let user = repo::users::insert(
            &tx,
            NewUserRow {
                org_id: org.id,
                subject: None,
                email: email.clone(),
                name: "someone".into(),
                role,
                avatar_url: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        Actor {
            user_id: user.id,
            org_id: org.id,
            role,
            email,
            credential: Credential::Jwt { session: None },
        }
    }

    fn name(raw: &str) -> ReactionName {
        ReactionName::parse(raw).unwrap()
    }

    /// A thread owned by `owner` with the others as members, and one message.
    async fn message(services: &Services, owner: &Actor, members: &[&Actor]) -> MessageId {
        let thread = services
            .create_thread(
                owner,
                NewThread {
                    title: Some("t".into()),
                    ..NewThread::default()
                },
            )
            .await
            .unwrap();
        for member in members {
            services
                .add_member(owner, thread.id, member.user_id)
                .await
                .unwrap();
        }
        let input = NewMessage {
            content: Some("hi".into()),
            ..NewMessage::default()
        };
        services
            .post_message(owner, thread.id, input)
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn names_keep_the_order_of_first_use_and_users_their_order_of_reacting() {
        let services = services().await;
        let ada = user(&services, "ada@acme.io", Role::User).await;
        let bob = user(&services, "bob@acme.io", Role::User).await;
        let id = message(&services, &ada, &[&bob]).await;

        services
            .toggle_reaction(&bob, id, name("tada"))
            .await
            .unwrap();
        services
            .toggle_reaction(&ada, id, name("eyes"))
            .await
            .unwrap();
        let (toggled, summary) = services
            .toggle_reaction(&ada, id, name("tada"))
            .await
            .unwrap();
        assert_eq!(toggled, Toggled::Added);
        let names: Vec<&str> = summary.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["tada", "eyes"]);
        assert_eq!(summary[0].users, [bob.user_id, ada.user_id]);
        assert_eq!(summary[0].count, 2);
        assert!(summary[0].me);

        // Bob's reaction was the first use of "tada"; without it the name's
        // oldest reaction is Ada's, which came after "eyes", so "eyes" leads.
        let (toggled, summary) = services
            .toggle_reaction(&bob, id, name(":TADA:"))
            .await
            .unwrap();
        assert_eq!(toggled, Toggled::Removed);
        let names: Vec<&str> = summary.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["eyes", "tada"]);
        assert!(!summary[0].me, "Bob has not reacted with eyes");

        // The last reaction of a name removes the name.
        services
            .remove_reaction(&ada, id, name("eyes"))
            .await
            .unwrap();
        let listed = services.list_reactions(&ada, id).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].users, Vec::<UserId>::from([ada.user_id]));
    }

    #[tokio::test]
    async fn a_reaction_you_do_not_have_cannot_be_removed() {
        let services = services().await;
        let ada = user(&services, "ada@acme.io", Role::User).await;
        let id = message(&services, &ada, &[]).await;
        let err = services
            .remove_reaction(&ada, id, name("tada"))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::NotFound("reaction")), "{err:?}");
    }
}
