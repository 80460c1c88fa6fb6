//! Embeds Experience Layer in a program of its own: opens a throwaway
//! database with the offline echo model, acts as a person the program has
//! authenticated itself, and holds a short conversation with the assistant.
//!
//!     cargo run -p xl-services --example embed
//!
//! CI runs it; it exits non-zero if any step fails.

use std::sync::Arc;

use xl_domain::PageRequest;
use xl_domain::messages::{Branch, NewMessage};
use xl_domain::threads::NewThread;
use xl_llm::EchoProvider;
use xl_services::assistant::ReplyMode;
use xl_services::{Person, ServiceError, Services};

#[tokio::main]
async fn main() -> Result<(), ServiceError> {
    // `sqlite://path/to/xl.db` keeps the data; `postgres://…` scales out.
    let services = Services::open("sqlite::memory:", Arc::new(EchoProvider::default())).await?;
    let ada = services
        .act_as(Person::new("ada@example.com", "Ada")?)
        .await?;

    let thread = services
        .create_thread(
            &ada,
            NewThread {
                title: Some("Embedded".into()),
                ..NewThread::default()
            },
        )
        .await?;
    let posted = services
        .post_message_with_reply(
            &ada,
            thread.id,
            NewMessage {
                content: Some("Hello from an embedding program".into()),
                ..NewMessage::default()
            },
            ReplyMode::Sync,
        )
        .await?;
    let reply = posted
        .reply
        .ok_or(ServiceError::NotFound("the assistant's reply"))?;
    println!("{}: {}", ada.email, posted.message.content);
    println!("assistant ({:?}): {}", reply.status, reply.content);

    let page = services
        .list_messages(&ada, thread.id, Branch::Current, &PageRequest::default())
        .await?;
    println!("the thread holds {} messages", page.items.len());
    if page.items.len() != 2 || !reply.content.contains("Hello from an embedding program") {
        return Err(ServiceError::NotFound("the expected conversation"));
    }
    services.store.clone().close().await?;
    Ok(())
}
