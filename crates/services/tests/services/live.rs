//! Following a thread at the service level: a listener that falls behind
//! the hub's bounded buffer re-reads the log and loses nothing.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use xl_domain::Role;
use xl_domain::events::kind;
use xl_domain::messages::NewMessage;
use xl_llm::{EchoConfig, EchoProvider};
use xl_services::{Services, ServicesConfig};
use xl_store::Store;

use crate::support::{actor, quiet_thread};

#[tokio::test]
async fn a_listener_that_lags_past_the_buffer_resyncs_from_the_log() {
    let store = Store::in_memory().await.unwrap();
    let llm = Arc::new(EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: Vec::new(),
    }));
    let config = ServicesConfig {
        event_buffer: 2,
        ..ServicesConfig::default()
    };
    let services = Services::new(store, llm, config);
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&services, &ada).await;
    let mut events = services.follow_thread(&ada, thread.id, 0).await.unwrap();
    // Nothing reads the stream while 40 posts are published into a
    // buffer of two.
    for n in 0..40 {
        let post = NewMessage {
            content: Some(format!("post {n}")),
            ..NewMessage::default()
        };
        services.post_message(&ada, thread.id, post).await.unwrap();
    }
    for n in 0..40 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        assert_eq!(event.seq, n + 1, "no gap, no duplicate");
        assert_eq!(event.kind, kind::MESSAGE_CREATED);
        assert_eq!(event.payload["content"], format!("post {n}"));
    }
}
