//! The front door for embedding Experience Layer in another Rust service:
//! open a store by URL with a model provider in one call, and act as a
//! person without minting a token.
//!
//! ```no_run
//! # async fn demo() -> Result<(), xl_services::ServiceError> {
//! use std::sync::Arc;
//! use xl_services::{Person, Services};
//!
//! let services = Services::open("sqlite://data/xl.db", Arc::new(xl_llm::EchoProvider::default())).await?;
//! let ada = services.act_as(Person::new("ada@example.com", "Ada")?).await?;
//! let thread = services.create_thread(&ada, Default::default()).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use xl_domain::{Actor, Credential, Email, Role, UserId};
use xl_llm::ChatProvider;
use xl_store::{Store, StoreConfig, repo};

use crate::auth::{Identity, actor_for};
use crate::{ServiceError, Services, ServicesConfig};

/// Someone the embedding program vouches for: it has authenticated them in
/// its own way, as an identity provider would.
#[derive(Clone, Debug)]
pub struct Person {
    /// Their address; it places a new user in the org of its domain.
    pub email: Email,
    /// Their display name.
    pub name: String,
    /// The role a new user gets.
    pub role: Role,
    /// The org a new user joins, instead of the email's domain.
    pub org: Option<String>,
}

impl Person {
    /// An ordinary user, placed by their email's domain.
    pub fn new(email: &str, name: &str) -> Result<Self, ServiceError> {
        Ok(Person {
            email: Email::parse(email).map_err(ServiceError::Invalid)?,
            name: name.to_owned(),
            role: Role::User,
            org: None,
        })
    }

    /// The same person as an administrator of their org.
    pub fn admin(self) -> Self {
        Person {
            role: Role::Admin,
            ..self
        }
    }
}

impl Services {
    /// Opens the database at `url` (`sqlite://path`, `sqlite::memory:` or
    /// `postgres://…`), applies the migrations, finishes replies a previous
    /// run left streaming, and returns services with default settings
    /// (`ServicesConfig::default()`, with `default_model` taken from the
    /// provider's first model when it lists any).
    ///
    /// Where several processes share a PostgreSQL database, keep the relay
    /// of [`Services::start_event_feed`] too, so that followers here see
    /// the others' changes at once.
    pub async fn open(url: &str, llm: Arc<dyn ChatProvider>) -> Result<Services, ServiceError> {
        let mut config = ServicesConfig::default();
        if let Ok(models) = llm.list_models().await
            && let Some(first) = models.first()
        {
            config.default_model = first.id.clone();
        }
        Services::open_with(url, llm, config).await
    }

    /// [`Services::open`] with settings of the caller's choosing.
    pub async fn open_with(
        url: &str,
        llm: Arc<dyn ChatProvider>,
        config: ServicesConfig,
    ) -> Result<Services, ServiceError> {
        let store = Store::connect(&StoreConfig::new(url)).await?;
        store.migrate_up(None).await?;
        let services = Services::new(store, llm, config);
        services.recover_interrupted_replies().await?;
        Ok(services)
    }

    /// Acts as `person`, creating their user on first sight as a sign-in
    /// would. The actor is what every service call takes as its caller.
    pub async fn act_as(&self, person: Person) -> Result<Actor, ServiceError> {
        let user = self
            .upsert_identity(Identity {
                org: person.org,
                ..Identity::trusted(person.email, person.name, person.role)
            })
            .await?;
        Ok(actor_for(&user, Credential::Jwt { session: None }))
    }

    /// Acts as an existing user, by id.
    pub async fn act_as_user(&self, user: UserId) -> Result<Actor, ServiceError> {
        let user = repo::users::find_any(self.store.reader(), user)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        Ok(actor_for(&user, Credential::Jwt { session: None }))
    }
}
