//! Hardening findings checked at the service layer, where an HTTP test
//! cannot reach: a change of configuration over the same database.

use std::sync::Arc;
use std::time::Duration;

use xl_domain::{Email, Role};
use xl_llm::{EchoConfig, EchoProvider};
use xl_services::auth::api_keys::NewApiKey;
use xl_services::auth::{AuthFailure, Identity};
use xl_services::{ServiceError, Services, ServicesConfig};
use xl_store::Store;

use crate::support::actor;

fn over(store: &Store, allowed: &[&str]) -> Services {
    let mut config = ServicesConfig::default();
    config.auth.allowed_domains = allowed.iter().map(|d| d.to_string()).collect();
    let llm = Arc::new(EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: Vec::new(),
    }));
    Services::new(store.clone(), llm, config)
}

/// Finding 5: a key stops working when its owner's domain leaves
/// `ALLOWED_DOMAINS`.
#[tokio::test]
async fn f5_an_api_key_stops_when_its_owners_domain_is_no_longer_allowed() {
    let store = Store::in_memory().await.unwrap();
    let before = over(&store, &[]);
    let ada = actor(&before, "ada@acme.io", Role::User).await;
    let key = before
        .create_api_key(
            &ada,
            NewApiKey {
                name: "ci".into(),
                expires_in_days: None,
            },
        )
        .await
        .unwrap();
    before.authenticate(&key.secret).await.unwrap();

    let after = over(&store, &["globex.com"]);
    let err = after.authenticate(&key.secret).await.unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Unauthenticated(AuthFailure::DomainNotAllowed(_))
        ),
        "{err:?}"
    );
}

/// Finding 1: `ALLOWED_DOMAINS` holds for every way a user comes to exist,
/// an embedding program's (or OAuth's) identity included.
#[tokio::test]
async fn f1_no_identity_creates_a_user_outside_the_allowed_domains() {
    let store = Store::in_memory().await.unwrap();
    let services = over(&store, &["acme.io"]);
    let err = services
        .upsert_identity(Identity::trusted(
            Email::parse("eve@evil.test").unwrap(),
            "Eve",
            Role::Admin,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Unauthenticated(AuthFailure::DomainNotAllowed(_))
        ),
        "{err:?}"
    );
}
