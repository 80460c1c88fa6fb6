//! Pure domain types of Experience Layer: typed ids, enums, inputs and errors.
//!
//! This crate does no I/O and knows neither the database nor HTTP, so every
//! other layer (and any embedding service) can share its vocabulary.

pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod blocks;
pub mod email;
pub mod error;
pub mod events;
pub mod files;
pub mod ids;
pub mod interactive;
pub mod kinds;
pub mod mail_domains;
pub mod messages;
pub mod object;
pub mod page;
pub mod reactions;
pub mod search;
pub mod text;
pub mod threads;
pub mod time;
pub mod users;

pub use auth::{Actor, ApiKey, Credential, Org, Session};
pub use email::Email;
pub use error::{DomainError, FieldErrors};
pub use ids::*;
pub use kinds::{ArtifactKind, MessageRole, MessageStatus, Role};
pub use messages::Message;
pub use page::{Cursor, Order, Page, PageRequest};
