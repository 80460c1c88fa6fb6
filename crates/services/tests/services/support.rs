//! Builds services over an in-memory store and signs people up.

use std::sync::Arc;
use std::time::Duration;

use xl_domain::threads::{NewThread, Thread};
use xl_domain::{Actor, Credential, Email, Role};
use xl_llm::{EchoConfig, EchoProvider};
use xl_services::auth::Identity;
use xl_services::{Services, ServicesConfig};
use xl_store::testing::PostgresTestDb;
use xl_store::{Store, StoreConfig};

pub async fn services() -> Services {
    let store = Store::in_memory().await.unwrap();
    Services::new(store, echo(), ServicesConfig::default())
}

/// The echo provider, answering at once.
pub fn echo() -> Arc<EchoProvider> {
    Arc::new(EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: Vec::new(),
    }))
}

/// A migrated store on a fresh PostgreSQL database, and the database to
/// drop once the store is closed; `None` without `XL_TEST_POSTGRES_URL`
/// (which fails under CI instead).
pub async fn postgres_store() -> Option<(Store, PostgresTestDb)> {
    let db = PostgresTestDb::create().await.unwrap()?;
    let store = Store::connect(&StoreConfig::new(db.url.clone()))
        .await
        .unwrap();
    store.migrate_up(None).await.unwrap();
    Some((store, db))
}

/// Signs a person up (org = email domain) and returns them as an actor.
pub async fn actor(services: &Services, email: &str, role: Role) -> Actor {
    let user = services
        .upsert_identity(Identity::trusted(
            Email::parse(email).unwrap(),
            email.split('@').next().unwrap(),
            role,
        ))
        .await
        .unwrap();
    Actor {
        user_id: user.id,
        org_id: user.org_id,
        role: user.role,
        email: user.email,
        credential: Credential::Jwt { session: None },
    }
}

/// A thread of the actor's where the assistant does not reply.
pub async fn quiet_thread(services: &Services, actor: &Actor) -> Thread {
    services
        .create_thread(
            actor,
            NewThread {
                auto_reply: Some(false),
                ..NewThread::default()
            },
        )
        .await
        .unwrap()
}
