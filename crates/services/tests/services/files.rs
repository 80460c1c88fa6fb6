//! Files on a real PostgreSQL server: the blob count's upsert, the access
//! query through the thread and through a `pdf` artifact, attachments with
//! their events, tombstones and orphan removal, all through the services.
//! Skipped without `XL_TEST_POSTGRES_URL`, except under CI.

use bytes::Bytes;
use xl_domain::artifacts::NewArtifact;
use xl_domain::messages::NewMessage;
use xl_domain::{ArtifactKind, PageRequest, Role};
use xl_services::ServiceError;
use xl_services::files::{FileStore, FilesConfig, collect};
use xl_store::repo;

use crate::support::{actor, echo, postgres_store, quiet_thread};

fn body(bytes: &'static [u8]) -> impl futures_util::Stream<Item = Result<Bytes, String>> {
    futures_util::stream::iter(bytes.chunks(3).map(|c| Ok(Bytes::from_static(c))))
}

#[tokio::test]
async fn files_work_on_postgres() {
    let Some((store, db)) = postgres_store().await else {
        return;
    };
    let llm = echo();
    let config = xl_services::ServicesConfig {
        default_model: "echo".into(),
        files: FilesConfig {
            orphan_ttl: std::time::Duration::ZERO,
            ..FilesConfig::default()
        },
        ..xl_services::ServicesConfig::default()
    };
    let files = FileStore::memory();
    let services =
        xl_services::Services::new(store.clone(), llm, config).with_file_store(files.clone());

    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let bob = actor(&services, "bob@acme.io", Role::User).await;
    let boss = actor(&services, "boss@acme.io", Role::Admin).await;
    let rival = actor(&services, "admin@globex.com", Role::Admin).await;
    let first = services
        .upload_file(&ada, "notes.md", body(b"# notes\nline\n"))
        .await
        .unwrap();
    let second = services
        .upload_file(&ada, "copy.md", body(b"# notes\nline\n"))
        .await
        .unwrap();
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(first.content_type, "text/markdown");
    for other in [&bob, &boss, &rival] {
        assert!(matches!(
            services.get_file(other, first.id).await,
            Err(ServiceError::NotFound("file"))
        ));
    }

    let thread = quiet_thread(&services, &ada).await;
    services
        .add_member(&ada, thread.id, bob.user_id)
        .await
        .unwrap();
    let message = services
        .post_message(
            &ada,
            thread.id,
            NewMessage {
                content: Some("see".into()),
                attachments: Some(vec![first.id]),
                ..NewMessage::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(message.attachments, vec![first.id]);
    let events = repo::events::after(store.reader(), thread.id, 0, None, 100)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.ends_with(&["message.created", "file.attached"]),
        "{kinds:?}"
    );
    for reader in [&ada, &bob, &boss] {
        let content = services.file_content(reader, first.id, None).await.unwrap();
        assert_eq!(collect(content.body).await.unwrap(), b"# notes\nline\n");
    }
    assert!(services.get_file(&rival, first.id).await.is_err());
    assert!(matches!(
        services.delete_file(&bob, first.id).await,
        Err(ServiceError::Forbidden(_))
    ));

    // A `pdf` artifact in the thread lends its file to the thread's readers.
    let deck = services
        .upload_file(&ada, "deck.pdf", body(b"%PDF-1.7\ndeck\n"))
        .await
        .unwrap();
    assert!(services.file_content(&bob, deck.id, None).await.is_err());
    services
        .create_artifact(
            &ada,
            Some(thread.id),
            NewArtifact {
                kind: ArtifactKind::Pdf,
                title: "Deck".into(),
                description: None,
                content: serde_json::json!({ "file_id": deck.id }),
                metadata: None,
                message_id: None,
            },
        )
        .await
        .unwrap();
    for reader in [&bob, &boss] {
        let content = services.file_content(reader, deck.id, None).await.unwrap();
        assert_eq!(collect(content.body).await.unwrap(), b"%PDF-1.7\ndeck\n");
    }
    assert!(services.get_file(&rival, deck.id).await.is_err());

    // Two files share one object: it stays until the last goes.
    let key = FileStore::blob_key(&first.sha256);
    services.delete_file(&ada, first.id).await.unwrap();
    assert!(files.exists(&key).await.unwrap());
    let tombstone = services.get_file(&bob, first.id).await.unwrap();
    assert!(tombstone.deleted_at.is_some());
    // The second was never attached: housekeeping takes it, and the object;
    // the deck, which an artifact links, stays.
    assert_eq!(services.remove_orphan_files().await.unwrap(), 1);
    assert!(!files.exists(&key).await.unwrap());
    let listed = services
        .list_files(&ada, &Default::default(), &PageRequest::default())
        .await
        .unwrap();
    let ids: Vec<_> = listed.items.iter().map(|file| file.id).collect();
    assert_eq!(ids, [deck.id]);

    // The same content again is stored anew.
    let again = services
        .upload_file(&ada, "again.md", body(b"# notes\nline\n"))
        .await
        .unwrap();
    assert!(files.exists(&key).await.unwrap());
    let content = services.file_content(&ada, again.id, None).await.unwrap();
    assert_eq!(collect(content.body).await.unwrap(), b"# notes\nline\n");

    store.close().await.unwrap();
    db.drop_database().await.unwrap();
}
