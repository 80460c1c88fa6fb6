//! Checks every entity against the real migrations: a row of each table round-trips, and deleting an org cascades.

use crate::db::Engine;
use crate::entity::{
    api_keys, artifact_files, artifact_versions, artifacts, audit_log, completions, events,
    file_blobs, files, idempotency_keys, message_files, message_revisions, messages, orgs,
    preferences, reactions, sessions, thread_members, thread_tags, threads, users,
};
use crate::{Db, Store};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait,
    QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

/// Opens a throwaway store (foreign keys enforced, the schema applied) and
/// returns its connection that commits each statement.
async fn database() -> (Store, Db) {
    let store = Store::in_memory().await.unwrap();
    let db = store.writer().clone();
    (store, db)
}

/// Inserts `model` through its active model and checks that the row written is the row given.
async fn insert<M>(db: &Db, model: M) -> M
where
    M: ModelTrait + PartialEq + IntoActiveModel<<M::Entity as EntityTrait>::ActiveModel>,
    M::Entity: EntityTrait<Model = M>,
    <M::Entity as EntityTrait>::ActiveModel: Send,
{
    // A model converts into an active model of unchanged values; `reset_all` marks them set.
    let inserted = model
        .clone()
        .into_active_model()
        .reset_all()
        .insert(db.orm())
        .await
        .unwrap();
    assert_eq!(inserted, model);
    inserted
}

/// Now, truncated to what PostgreSQL keeps (microseconds), so values compare equal after a round trip.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

#[tokio::test]
async fn every_table_round_trips_and_deleting_an_org_cascades() {
    let (_store, db) = database().await;
    let now = now();

    let org = insert(
        &db,
        orgs::Model {
            id: Uuid::now_v7(),
            slug: "acme".into(),
            name: "Acme".into(),
            created_at: now,
            updated_at: now,
        },
    )
    .await;
    assert_eq!(
        orgs::Entity::find_by_id(org.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(org.clone())
    );

    let user = insert(
        &db,
        users::Model {
            id: Uuid::now_v7(),
            org_id: org.id,
            subject: Some("oidc|42".into()),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            role: "admin".into(),
            avatar_url: Some("https://example.com/ada.png".into()),
            last_seen_at: Some(now),
            created_at: now,
            updated_at: now,
        },
    )
    .await;
    assert_eq!(
        users::Entity::find_by_id(user.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(user.clone())
    );

    let session = insert(
        &db,
        sessions::Model {
            id: Uuid::now_v7(),
            user_id: user.id,
            family_id: Uuid::now_v7(),
            parent_id: Some(Uuid::now_v7()),
            token_hash: "token-hash".into(),
            user_agent: Some("curl/8".into()),
            ip: Some("127.0.0.1".into()),
            created_at: now,
            last_used_at: now,
            expires_at: now,
            rotated_at: Some(now),
            revoked_at: Some(now),
            revoked_reason: Some("rotated".into()),
        },
    )
    .await;
    assert_eq!(
        sessions::Entity::find_by_id(session.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(session)
    );

    let api_key = insert(
        &db,
        api_keys::Model {
            id: Uuid::now_v7(),
            user_id: user.id,
            org_id: org.id,
            name: "ci".into(),
            prefix: "xl_1234".into(),
            key_hash: "key-hash".into(),
            created_at: now,
            last_used_at: Some(now),
            expires_at: Some(now),
            revoked_at: None,
        },
    )
    .await;
    assert_eq!(
        api_keys::Entity::find_by_id(api_key.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(api_key.clone())
    );

    let preference = insert(
        &db,
        preferences::Model {
            user_id: user.id,
            data: json!({ "theme": "dark", "font_size": 14 }),
            updated_at: now,
        },
    )
    .await;
    assert_eq!(
        preferences::Entity::find_by_id(user.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(preference)
    );

    let audit = insert(
        &db,
        audit_log::Model {
            id: Uuid::now_v7(),
            org_id: Some(org.id),
            actor_id: Some(user.id),
            action: "user.login".into(),
            target_type: Some("user".into()),
            target_id: Some(user.id.to_string()),
            ip: Some("127.0.0.1".into()),
            correlation_id: Some("corr-1".into()),
            details: Some(json!({ "method": "oidc" })),
            created_at: now,
        },
    )
    .await;
    assert_eq!(
        audit_log::Entity::find_by_id(audit.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(audit)
    );

    let thread = insert(
        &db,
        threads::Model {
            id: Uuid::now_v7(),
            org_id: org.id,
            owner_id: user.id,
            title: Some("Plans".into()),
            description: Some("Where we plan.".into()),
            system_prompt: Some("Be brief.".into()),
            model: Some("gpt-4o-mini".into()),
            metadata: json!({}),
            auto_reply: true,
            pinned: true,
            archived: false,
            current_leaf_id: None,
            last_event_seq: 1 << 40,
            message_count: 2,
            last_message_at: Some(now),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        },
    )
    .await;
    assert_eq!(
        threads::Entity::find_by_id(thread.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(thread.clone())
    );

    let tag = insert(
        &db,
        thread_tags::Model {
            thread_id: thread.id,
            tag: "work".into(),
        },
    )
    .await;
    let found = thread_tags::Entity::find()
        .filter(thread_tags::Column::ThreadId.eq(thread.id))
        .filter(thread_tags::Column::Tag.eq("work"))
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(tag));

    let member = insert(
        &db,
        thread_members::Model {
            thread_id: thread.id,
            user_id: user.id,
            role: "owner".into(),
            added_by: Some(user.id),
            created_at: now,
        },
    )
    .await;
    let found = thread_members::Entity::find_by_id((thread.id, user.id))
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(member));

    let question = insert(
        &db,
        messages::Model {
            id: Uuid::now_v7(),
            thread_id: thread.id,
            org_id: org.id,
            parent_id: None,
            user_id: Some(user.id),
            role: "user".into(),
            content: "What is 2 + 2?".into(),
            blocks: Some(json!([{ "type": "text", "text": "What is 2 + 2?" }])),
            metadata: None,
            status: "complete".into(),
            model: None,
            error: None,
            token_count: Some(7),
            token_family: Some("o200k".into()),
            depth: 0,
            jump_id: None,
            jump_depth: 0,
            attachment_count: 0,
            edited_at: Some(now),
            deleted_at: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await;
    assert_eq!(
        messages::Entity::find_by_id(question.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(question.clone())
    );

    // A reply exercises the self-referencing `parent_id` foreign key.
    let answer = insert(
        &db,
        messages::Model {
            id: Uuid::now_v7(),
            parent_id: Some(question.id),
            user_id: None,
            role: "assistant".into(),
            content: "4".into(),
            blocks: None,
            metadata: Some(json!({ "finish_reason": "stop" })),
            model: Some("gpt-4o-mini".into()),
            error: Some("none".into()),
            edited_at: None,
            ..question.clone()
        },
    )
    .await;
    assert_eq!(
        messages::Entity::find_by_id(answer.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(answer.clone())
    );

    let revision = insert(
        &db,
        message_revisions::Model {
            id: Uuid::now_v7(),
            message_id: question.id,
            editor_id: Some(user.id),
            content: "What is 2 + 3?".into(),
            blocks: None,
            metadata: Some(json!({ "reason": "typo" })),
            created_at: now,
        },
    )
    .await;
    let found = message_revisions::Entity::find_by_id(revision.id)
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(revision));

    let reaction = insert(
        &db,
        reactions::Model {
            id: Uuid::now_v7(),
            message_id: answer.id,
            user_id: user.id,
            name: "thumbs_up".into(),
            created_at: now,
        },
    )
    .await;
    assert_eq!(
        reactions::Entity::find_by_id(reaction.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(reaction)
    );

    let idempotency = insert(
        &db,
        idempotency_keys::Model {
            id: Uuid::now_v7(),
            org_id: org.id,
            user_id: user.id,
            key: "req-1".into(),
            request_hash: "request-hash".into(),
            resource: "{}".into(),
            created_at: now,
            expires_at: now,
        },
    )
    .await;
    let found = idempotency_keys::Entity::find_by_id(idempotency.id)
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(idempotency));

    let event = insert(
        &db,
        events::Model {
            id: Uuid::now_v7(),
            thread_id: thread.id,
            seq: 1 << 40,
            kind: "message.created".into(),
            message_id: Some(answer.id),
            actor_id: Some(user.id),
            payload: json!({ "message_id": answer.id }),
            created_at: now,
        },
    )
    .await;
    assert_eq!(
        events::Entity::find_by_id(event.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(event)
    );

    let file = insert(
        &db,
        files::Model {
            id: Uuid::now_v7(),
            org_id: org.id,
            user_id: Some(user.id),
            thread_id: Some(thread.id),
            filename: "notes.txt".into(),
            content_type: "text/plain".into(),
            size_bytes: 5 << 32,
            sha256: "0".repeat(64),
            storage_key: "org/notes.txt".into(),
            has_preview: true,
            metadata: Some(json!({ "tag": "notes" })),
            created_at: now,
            deleted_at: None,
        },
    )
    .await;
    assert_eq!(
        files::Entity::find_by_id(file.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(file.clone())
    );

    let blob = insert(
        &db,
        file_blobs::Model {
            sha256: "0".repeat(64),
            size_bytes: 5 << 32,
            ref_count: 2,
            created_at: now,
        },
    )
    .await;
    assert_eq!(
        file_blobs::Entity::find_by_id(blob.sha256.clone())
            .one(db.orm())
            .await
            .unwrap(),
        Some(blob)
    );

    let attachment = insert(
        &db,
        message_files::Model {
            message_id: question.id,
            file_id: file.id,
            position: 3,
        },
    )
    .await;
    let found = message_files::Entity::find_by_id((question.id, file.id))
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(attachment));

    let artifact = insert(
        &db,
        artifacts::Model {
            id: Uuid::now_v7(),
            org_id: org.id,
            user_id: user.id,
            thread_id: Some(thread.id),
            message_id: Some(answer.id),
            kind: "document".into(),
            title: "Sums".into(),
            description: Some("Small sums.".into()),
            current_version: 1,
            metadata: json!({ "language": "en" }),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        },
    )
    .await;
    assert_eq!(
        artifacts::Entity::find_by_id(artifact.id)
            .one(db.orm())
            .await
            .unwrap(),
        Some(artifact.clone())
    );

    let version = insert(
        &db,
        artifact_versions::Model {
            id: Uuid::now_v7(),
            artifact_id: artifact.id,
            version: 1,
            title: "Sums".into(),
            content: json!({ "text": "2 + 2 = 4" }),
            change_note: Some("First draft.".into()),
            created_by: Some(user.id),
            created_at: now,
        },
    )
    .await;
    let found = artifact_versions::Entity::find_by_id(version.id)
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(version));

    let artifact_file = insert(
        &db,
        artifact_files::Model {
            artifact_id: artifact.id,
            file_id: file.id,
        },
    )
    .await;
    let found = artifact_files::Entity::find_by_id((artifact.id, file.id))
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(artifact_file));

    let completion = insert(
        &db,
        completions::Model {
            id: Uuid::now_v7(),
            org_id: org.id,
            user_id: Some(user.id),
            api_key_id: Some(api_key.id),
            thread_id: Some(thread.id),
            message_id: Some(answer.id),
            model: "gpt-4o-mini".into(),
            provider: "openai".into(),
            stream: true,
            status: "ok".into(),
            request: json!({ "messages": [] }),
            response: Some(json!({ "choices": [] })),
            error: None,
            prompt_tokens: 7,
            completion_tokens: 1,
            total_tokens: 8,
            cost_micros: 1 << 33,
            latency_ms: 250,
            first_byte_ms: Some(90),
            created_at: now,
            finished_at: Some(now),
        },
    )
    .await;
    let found = completions::Entity::find_by_id(completion.id)
        .one(db.orm())
        .await
        .unwrap();
    assert_eq!(found, Some(completion));

    // Every table hangs off the org, so deleting it must leave every table empty.
    orgs::Entity::delete_by_id(org.id)
        .exec(db.orm())
        .await
        .unwrap();
    assert_eq!(users::Entity::find().count(db.orm()).await.unwrap(), 0);
    let remaining = [
        ("orgs", orgs::Entity::find().count(db.orm()).await.unwrap()),
        (
            "sessions",
            sessions::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "api_keys",
            api_keys::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "preferences",
            preferences::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "audit_log",
            audit_log::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "threads",
            threads::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "thread_tags",
            thread_tags::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "thread_members",
            thread_members::Entity::find()
                .count(db.orm())
                .await
                .unwrap(),
        ),
        (
            "messages",
            messages::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "message_revisions",
            message_revisions::Entity::find()
                .count(db.orm())
                .await
                .unwrap(),
        ),
        (
            "reactions",
            reactions::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "idempotency_keys",
            idempotency_keys::Entity::find()
                .count(db.orm())
                .await
                .unwrap(),
        ),
        (
            "events",
            events::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "files",
            files::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "message_files",
            message_files::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "artifacts",
            artifacts::Entity::find().count(db.orm()).await.unwrap(),
        ),
        (
            "artifact_versions",
            artifact_versions::Entity::find()
                .count(db.orm())
                .await
                .unwrap(),
        ),
        (
            "artifact_files",
            artifact_files::Entity::find()
                .count(db.orm())
                .await
                .unwrap(),
        ),
        (
            "completions",
            completions::Entity::find().count(db.orm()).await.unwrap(),
        ),
    ];
    for (table, count) in remaining {
        assert_eq!(count, 0, "{table} still has rows after its org was deleted");
    }
}
