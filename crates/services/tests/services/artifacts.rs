//! Artifacts and interactive actions at the service layer: concurrent
//! writers of one version, restore, the access rules, and the assistant's
//! answer to an action.

use serde_json::json;
use xl_domain::artifacts::{ArtifactUpdate, NewArtifact};
use xl_domain::interactive::BlockActions;
use xl_domain::messages::NewMessage;
use xl_domain::threads::NewThread;
use xl_domain::{ArtifactKind, Role};
use xl_services::ServiceError;
use xl_services::artifacts::ExportFormat;
use xl_services::assistant::ReplyMode;

use crate::support::{actor, quiet_thread, services};

fn reference(title: &str) -> NewArtifact {
    NewArtifact {
        kind: ArtifactKind::Reference,
        title: title.to_owned(),
        description: None,
        content: json!({"url": "https://example.com/doc", "title": title}),
        metadata: None,
        message_id: None,
    }
}

fn retitle(title: &str) -> ArtifactUpdate {
    ArtifactUpdate {
        title: Some(title.to_owned()),
        ..ArtifactUpdate::default()
    }
}

#[tokio::test]
async fn of_two_writers_holding_one_version_exactly_one_wins() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&services, &ada).await;
    let artifact = services
        .create_artifact(&ada, Some(thread.id), reference("v1"))
        .await
        .unwrap();
    let (first, second) = tokio::join!(
        services.update_artifact(&ada, artifact.id, retitle("a"), Some(1)),
        services.update_artifact(&ada, artifact.id, retitle("b"), Some(1)),
    );
    let outcomes = [first, second];
    let won = outcomes.iter().filter(|r| r.is_ok()).count();
    let stale = outcomes
        .iter()
        .filter(|r| matches!(r, Err(ServiceError::PreconditionFailed(_))))
        .count();
    assert_eq!((won, stale), (1, 1), "{outcomes:?}");
    let current = services.get_artifact(&ada, artifact.id).await.unwrap();
    assert_eq!(current.version, 2);

    let restored = services
        .restore_artifact_version(&ada, artifact.id, 1, Some(2))
        .await
        .unwrap();
    assert_eq!((restored.version, restored.title.as_str()), (3, "v1"));
    let pdf = |version| {
        let (services, ada) = (&services, &ada);
        async move {
            services
                .export_artifact(ada, artifact.id, ExportFormat::Pdf, version)
                .await
                .unwrap()
                .into_bytes()
                .await
                .unwrap()
        }
    };
    let (v1, v3) = (pdf(Some(1)).await, pdf(Some(3)).await);
    // Same title and content, another version: the subtitle and file id differ.
    assert_ne!(v1, v3);
    assert_eq!(v1, pdf(Some(1)).await);
}

#[tokio::test]
async fn access_follows_the_thread_and_the_owner() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let eve = actor(&services, "eve@acme.io", Role::User).await;
    let boss = actor(&services, "boss@acme.io", Role::Admin).await;
    let other = actor(&services, "admin@other.org", Role::Admin).await;
    let thread = quiet_thread(&services, &ada).await;
    let shared = services
        .create_artifact(&ada, Some(thread.id), reference("in thread"))
        .await
        .unwrap();
    let own = services
        .create_artifact(&ada, None, reference("mine"))
        .await
        .unwrap();
    for id in [shared.id, own.id] {
        for outsider in [&eve, &other] {
            assert!(matches!(
                services.get_artifact(outsider, id).await,
                Err(ServiceError::NotFound("artifact"))
            ));
            assert!(matches!(
                services
                    .update_artifact(outsider, id, retitle("x"), None)
                    .await,
                Err(ServiceError::NotFound("artifact"))
            ));
        }
        services
            .update_artifact(&boss, id, retitle("by admin"), None)
            .await
            .unwrap();
    }
    assert!(matches!(
        services
            .create_artifact(&eve, Some(thread.id), reference("x"))
            .await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_assistant_answers_an_action_with_it_in_its_prompt() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = services
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap();
    let blocks = json!([{"type": "actions", "block_id": "b", "elements": [
        {"type": "button", "action_id": "retry", "text": {"type": "plain_text", "text": "Try again"}}
    ]}]);
    let posted = services
        .post_message_with_reply(
            &ada,
            thread.id,
            NewMessage {
                content: Some("Pick one".into()),
                blocks: Some(blocks),
                ..NewMessage::default()
            },
            ReplyMode::Sync,
        )
        .await
        .unwrap();
    let leaf = posted.reply.unwrap().id;
    let payload = BlockActions::parse(&json!({
        "type": "block_actions",
        "container": {"message_id": posted.message.id.to_string()},
        "actions": [{"action_id": "retry", "block_id": "b", "type": "button"}]
    }))
    .unwrap();
    let acted = services
        .interact(&ada, payload, ReplyMode::Sync)
        .await
        .unwrap();
    assert_eq!(acted.actions.len(), 1);
    let reply = acted.reply.unwrap();
    assert_eq!(reply.parent_id, Some(leaf));
    assert!(
        reply
            .content
            .contains("used the button \"Try again\" (action_id retry, block_id b)"),
        "{}",
        reply.content
    );
}
