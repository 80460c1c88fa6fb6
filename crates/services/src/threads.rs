//! Threads: who may see and change them, and their life from creation to
//! soft deletion, restore and purge.
//!
//! Access: a thread is visible to its members and to administrators of its
//! org; settings, deletion and membership are for its owner and org admins.
//! A thread the caller may not see is reported as not found, never as
//! forbidden, so ids do not leak across users or orgs.

use chrono::{TimeDelta, Utc};
use garde::Validate;
use serde_json::json;
use xl_domain::events::kind;
use xl_domain::text::TextCheck;
use xl_domain::threads::{
    MAX_TITLE_CHARS, Member, MemberRole, NewThread, Thread, ThreadFilter, ThreadUpdate,
    normalize_tags, validate_metadata,
};
use xl_domain::{Actor, DomainError, FieldErrors, Page, PageRequest, ThreadId, UserId};
use xl_store::Tx;
use xl_store::repo;
use xl_store::repo::threads::{NewThreadRow, OrgScope, ThreadAccess, ThreadChanges};

use xl_domain::audit::action;

use crate::{ServiceError, Services};

/// Conversations removed per transaction by the retention job.
const PURGE_BATCH: u64 = 500;

/// How long conversations are kept after their last message: a default for
/// every org, and per org (by slug) an override, `None` keeping that org's
/// forever. Nothing is removed unless one of them is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationRetention {
    /// For every org without an override; `None`: forever.
    pub default: Option<std::time::Duration>,
    /// By org slug.
    pub orgs: std::collections::BTreeMap<String, Option<std::time::Duration>>,
}

/// What the caller wants to do with a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read it and what is in it.
    Read,
    /// Post and react in it.
    Write,
    /// Change its settings, members, or delete it.
    Manage,
}

/// Checks a caller's access to a thread and returns it. Deleted threads are
/// visible only to `Manage` callers asking with `include_deleted`.
pub(crate) fn authorize(
    actor: &Actor,
    found: Option<ThreadAccess>,
    access: Access,
    include_deleted: bool,
) -> Result<Thread, ServiceError> {
    let not_found = || ServiceError::NotFound("thread");
    let Some(ThreadAccess { thread, member }) = found else {
        return Err(not_found());
    };
    if thread.org_id != actor.org_id {
        return Err(not_found());
    }
    if thread.deleted_at.is_some() && !include_deleted {
        return Err(not_found());
    }
    let visible = member.is_some() || actor.is_admin();
    if !visible {
        return Err(not_found());
    }
    if access == Access::Manage && member != Some(MemberRole::Owner) && !actor.is_admin() {
        return Err(ServiceError::Forbidden(
            "only the thread's owner or an administrator may do this".into(),
        ));
    }
    Ok(thread)
}

impl Services {
    /// The thread, if the caller may access it in this way (reads on the read pool).
    pub async fn thread_for(
        &self,
        actor: &Actor,
        id: ThreadId,
        access: Access,
    ) -> Result<Thread, ServiceError> {
        let found =
            repo::threads::access(self.store.reader(), actor.org_id, actor.user_id, id).await?;
        authorize(actor, found, access, false)
    }

    /// The same check inside a write transaction.
    pub(crate) async fn thread_in_tx(
        &self,
        tx: &Tx,
        actor: &Actor,
        id: ThreadId,
        access: Access,
    ) -> Result<Thread, ServiceError> {
        let found = repo::threads::access(tx, actor.org_id, actor.user_id, id).await?;
        authorize(actor, found, access, false)
    }

    /// Checks a new thread's settings and turns them into a row owned by the caller.
    pub(crate) fn new_thread_row(
        actor: &Actor,
        input: &NewThread,
    ) -> Result<NewThreadRow, ServiceError> {
        input.validate().map_err(DomainError::from)?;
        let mut text = TextCheck::new();
        let title = text.one_line("title", input.title.as_deref(), MAX_TITLE_CHARS);
        text.multi_line("description", input.description.as_deref());
        text.multi_line("system_prompt", input.system_prompt.as_deref());
        let model = text.one_line("model", input.model.as_deref(), MAX_MODEL_CHARS);
        text.finish().map_err(ServiceError::Unprocessable)?;
        let metadata = match &input.metadata {
            Some(value) => {
                validate_metadata("metadata", value)?;
                value.clone()
            }
            None => serde_json::json!({}),
        };
        let tags = normalize_tags(input.tags.as_deref().unwrap_or_default())?;
        Ok(NewThreadRow {
            org_id: actor.org_id,
            owner_id: actor.user_id,
            title,
            description: input.description.clone(),
            system_prompt: input.system_prompt.clone(),
            model,
            metadata,
            auto_reply: input.auto_reply.unwrap_or(true),
            pinned: input.pinned.unwrap_or(false),
            tags,
        })
    }

    /// Creates a thread owned by the caller.
    pub async fn create_thread(
        &self,
        actor: &Actor,
        input: NewThread,
    ) -> Result<Thread, ServiceError> {
        let row = Self::new_thread_row(actor, &input)?;
        if let Some(model) = &row.model {
            self.check_model_known(model).await?;
        }
        let tx = self.store.begin_write().await?;
        let thread = repo::threads::insert(&tx, row).await?;
        tx.commit().await?;
        Ok(thread)
    }

    /// A thread the caller may read.
    pub async fn get_thread(&self, actor: &Actor, id: ThreadId) -> Result<Thread, ServiceError> {
        self.thread_for(actor, id, Access::Read).await
    }

    /// The threads the caller is a member of.
    pub async fn list_threads(
        &self,
        actor: &Actor,
        filter: &ThreadFilter,
        page: &PageRequest,
    ) -> Result<Page<Thread>, ServiceError> {
        Ok(repo::threads::list_for_member(
            self.store.reader(),
            actor.org_id,
            actor.user_id,
            filter,
            page,
        )
        .await?)
    }

    /// Changes a thread's settings (owner or admin).
    pub async fn update_thread(
        &self,
        actor: &Actor,
        id: ThreadId,
        input: ThreadUpdate,
    ) -> Result<Thread, ServiceError> {
        input.validate().map_err(DomainError::from)?;
        let mut text = TextCheck::new();
        let title = input
            .title
            .as_ref()
            .map(|title| text.one_line("title", title.as_deref(), MAX_TITLE_CHARS));
        text.multi_line(
            "description",
            input.description.as_ref().and_then(Option::as_deref),
        );
        text.multi_line(
            "system_prompt",
            input.system_prompt.as_ref().and_then(Option::as_deref),
        );
        let model = input
            .model
            .as_ref()
            .map(|model| text.one_line("model", model.as_deref(), MAX_MODEL_CHARS));
        text.finish().map_err(ServiceError::Unprocessable)?;
        if let Some(Some(model)) = &model {
            self.check_model_known(model).await?;
        }
        if let Some(metadata) = &input.metadata {
            validate_metadata("metadata", metadata)?;
        }
        let tags = input.tags.as_deref().map(normalize_tags).transpose()?;
        let tx = self.store.begin_write().await?;
        self.thread_in_tx(&tx, actor, id, Access::Manage).await?;
        repo::threads::update(
            &tx,
            id,
            ThreadChanges {
                title,
                description: input.description,
                metadata: input.metadata,
                system_prompt: input.system_prompt,
                model,
                auto_reply: input.auto_reply,
                pinned: input.pinned,
                archived: input.archived,
                tags,
            },
        )
        .await?;
        let thread = self.thread_in_tx(&tx, actor, id, Access::Read).await?;
        let event = self
            .log_event(&tx, id, kind::THREAD_UPDATED, None, Some(actor), &thread)
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(thread)
    }

    /// Deletes a thread softly (owner or admin): it disappears at once and can
    /// be restored until the retention window passes.
    pub async fn delete_thread(&self, actor: &Actor, id: ThreadId) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        self.thread_in_tx(&tx, actor, id, Access::Manage).await?;
        repo::threads::set_deleted(&tx, id, Some(Utc::now())).await?;
        let target = Some(("thread", id.to_string()));
        crate::audit::record(&tx, actor.into(), action::THREAD_DELETED, target, None).await?;
        let event = self
            .log_event(
                &tx,
                id,
                kind::THREAD_DELETED,
                None,
                Some(actor),
                json!({ "id": id }),
            )
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(())
    }

    /// Restores a deleted thread within the retention window (owner or admin).
    pub async fn restore_thread(
        &self,
        actor: &Actor,
        id: ThreadId,
    ) -> Result<Thread, ServiceError> {
        let tx = self.store.begin_write().await?;
        let found = repo::threads::access(&tx, actor.org_id, actor.user_id, id).await?;
        let thread = authorize(actor, found, Access::Manage, true)?;
        if thread.deleted_at.is_none() {
            return Err(ServiceError::Conflict("the thread is not deleted".into()));
        }
        repo::threads::set_deleted(&tx, id, None).await?;
        let thread = self.thread_in_tx(&tx, actor, id, Access::Read).await?;
        let event = self
            .log_event(&tx, id, kind::THREAD_RESTORED, None, Some(actor), &thread)
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(thread)
    }

    /// Removes for good the threads deleted longer ago than the retention window.
    pub async fn purge_deleted_threads(&self) -> Result<u64, ServiceError> {
        let retention =
            TimeDelta::from_std(self.config.thread_retention).unwrap_or(TimeDelta::days(30));
        let tx = self.store.begin_write().await?;
        let purged = repo::threads::purge_deleted_before(&tx, Utc::now() - retention).await?;
        tx.commit().await?;
        if purged > 0 {
            tracing::info!(purged, "purged deleted threads past retention");
        }
        Ok(purged)
    }

    /// Removes for good the conversations whose last message is older than
    /// their org's retention ([`ConversationRetention`]), a batch at a time
    /// so the writer is never held long. Returns how many went.
    pub async fn purge_old_conversations(&self) -> Result<u64, ServiceError> {
        let retention = &self.config.conversation_retention;
        let now = Utc::now();
        let mut named = Vec::with_capacity(retention.orgs.len());
        let mut scopes = Vec::new();
        for (slug, keep) in &retention.orgs {
            let Some(org) = repo::orgs::find_by_slug(self.store.reader(), slug).await? else {
                continue;
            };
            named.push(org.id);
            if let Some(keep) = keep {
                scopes.push((OrgScope::Only(org.id), *keep));
            }
        }
        if let Some(keep) = retention.default {
            scopes.push((OrgScope::AllBut(named), keep));
        }
        let mut purged = 0;
        for (scope, keep) in scopes {
            let cutoff = now - TimeDelta::from_std(keep).unwrap_or(TimeDelta::MAX);
            loop {
                let tx = self.store.begin_write().await?;
                let batch =
                    repo::threads::purge_inactive_before(&tx, &scope, cutoff, PURGE_BATCH).await?;
                tx.commit().await?;
                purged += batch;
                if batch < PURGE_BATCH {
                    break;
                }
            }
        }
        if purged > 0 {
            tracing::info!(purged, "purged conversations past their org's retention");
        }
        Ok(purged)
    }

    /// Periodic clean-up: purges threads past their retention window and
    /// conversations past their org's, forgets expired idempotency keys, prunes old events and removes
    /// uploads nobody attached, and forgets the rate-limit buckets of idle
    /// callers. Returns how many rows went.
    pub async fn housekeeping(&self) -> Result<u64, ServiceError> {
        self.limits.forget_idle();
        let buckets = self.forget_full_buckets().await?;
        let threads = self.purge_deleted_threads().await? + self.purge_old_conversations().await?;
        let tx = self.store.begin_write().await?;
        let keys = repo::idempotency::purge_expired(&tx).await?;
        tx.commit().await?;
        let events = self.prune_events().await?;
        let files = self.remove_orphan_files().await?;
        Ok(threads + keys + events + files + buckets)
    }

    /// The thread's members (anyone who may read it).
    pub async fn list_members(
        &self,
        actor: &Actor,
        id: ThreadId,
    ) -> Result<Vec<Member>, ServiceError> {
        self.thread_for(actor, id, Access::Read).await?;
        Ok(repo::threads::members(self.store.reader(), id).await?)
    }

    /// Invites a user of the same org (owner or admin).
    pub async fn add_member(
        &self,
        actor: &Actor,
        id: ThreadId,
        user: UserId,
    ) -> Result<Vec<Member>, ServiceError> {
        let tx = self.store.begin_write().await?;
        self.thread_in_tx(&tx, actor, id, Access::Manage).await?;
        if repo::users::find(&tx, actor.org_id, user).await?.is_none() {
            return Err(ServiceError::NotFound("user"));
        }
        repo::threads::add_member(&tx, id, user, MemberRole::Member, Some(actor.user_id)).await?;
        let members = repo::threads::members(&tx, id).await?;
        let added = members.iter().find(|member| member.user_id == user);
        let payload = json!({ "user_id": user, "member": added });
        let event = self
            .log_event(&tx, id, kind::MEMBER_ADDED, None, Some(actor), payload)
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(members)
    }

    /// Removes a member (owner or admin; anyone may remove themselves). The
    /// owner cannot be removed.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        id: ThreadId,
        user: UserId,
    ) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        let access = if user == actor.user_id {
            Access::Read
        } else {
            Access::Manage
        };
        let thread = self.thread_in_tx(&tx, actor, id, access).await?;
        if thread.owner_id == user {
            return Err(ServiceError::Conflict(
                "the owner cannot be removed from the thread".into(),
            ));
        }
        if !repo::threads::remove_member(&tx, id, user).await? {
            return Err(ServiceError::NotFound("member"));
        }
        let event = self
            .log_event(
                &tx,
                id,
                kind::MEMBER_REMOVED,
                None,
                Some(actor),
                json!({ "user_id": user }),
            )
            .await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(())
    }
}

/// Longest model id a thread may name.
const MAX_MODEL_CHARS: usize = 100;

impl Services {
    /// Refuses (422 naming `model`) a model this installation does not know:
    /// neither in the model registry nor served by the provider. A thread
    /// with such a model would fail every reply.
    pub(crate) async fn check_model_known(&self, model: &str) -> Result<(), ServiceError> {
        if self.models.get(model).is_some()
            || self.list_models().await?.iter().any(|m| m.id == model)
        {
            return Ok(());
        }
        let mut errors = FieldErrors::new();
        errors.add(
            "model",
            format!("`{model}` is not a model this installation serves"),
        );
        Err(ServiceError::Unprocessable(errors))
    }
}
