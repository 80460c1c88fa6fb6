//! WebSocket tickets: browsers cannot set headers on a WebSocket, and
//! cookies do not reach another origin, so an authenticated client asks for
//! a ticket (`POST /api/v1/ws/tickets`) and opens `/api/v1/ws?ticket=…`.
//! A ticket is sealed by the server (no state, so any replica accepts it),
//! names its user and session, and lasts [`TICKET_TTL`]; redeeming it checks
//! again that the user exists and the session is still active.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xl_domain::{Actor, Credential, SessionId, UserId};
use xl_store::repo;

use super::{AuthFailure, actor_for, sealed};
use crate::{ServiceError, Services};

/// How long a ticket may wait to be used.
pub const TICKET_TTL: Duration = Duration::from_secs(60);
const CONTEXT: &[u8] = b"xl_ws_ticket.v1:";

/// A ticket and when it stops working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    /// The opaque ticket for `?ticket=`.
    pub ticket: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    user: UserId,
    session: Option<SessionId>,
    expires_at: i64,
}

impl Services {
    /// A short-lived ticket that opens a WebSocket as the actor.
    pub fn issue_ticket(&self, actor: &Actor) -> Result<Ticket, ServiceError> {
        let expires_at = Utc::now() + TICKET_TTL;
        let session = match &actor.credential {
            Credential::Jwt { session } => *session,
            Credential::ApiKey { .. } => None,
        };
        let sealed = Sealed {
            user: actor.user_id,
            session,
            expires_at: expires_at.timestamp(),
        };
        let ticket = sealed::seal(self.auth.config.jwt_secret.as_bytes(), CONTEXT, &sealed)
            .map_err(|err| {
                ServiceError::Unavailable(format!("a ticket could not be made: {err}"))
            })?;
        Ok(Ticket { ticket, expires_at })
    }

    /// The actor a ticket was issued to, if it is genuine, unexpired, and
    /// its user and session still stand.
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<Actor, ServiceError> {
        let refused = |failure| ServiceError::Unauthenticated(failure);
        let sealed: Sealed = sealed::open(self.auth.config.jwt_secret.as_bytes(), CONTEXT, ticket)
            .ok_or(refused(AuthFailure::MalformedToken))?;
        if sealed.expires_at <= Utc::now().timestamp() {
            return Err(refused(AuthFailure::Expired));
        }
        let db = self.store.reader();
        if let Some(session) = sealed.session
            && repo::sessions::active_owner(db, session).await? != Some(sealed.user)
        {
            return Err(refused(AuthFailure::SessionRevoked));
        }
        let user = repo::users::find_any(db, sealed.user)
            .await?
            .ok_or(refused(AuthFailure::UserDeleted))?;
        Ok(actor_for(
            &user,
            Credential::Jwt {
                session: sealed.session,
            },
        ))
    }
}
