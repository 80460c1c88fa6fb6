//! `GET /api/v1/ws`: thread events over one WebSocket, for any number of
//! threads, with the resume semantics of the SSE streams, plus typing and
//! presence from the client. JSON text frames both ways.
//!
//! Client to server:
//! - `{"type":"subscribe","thread_id":"…","after":12}` (`after` optional,
//!   as `Last-Event-ID`): the thread's events after `after`, then live;
//! - `{"type":"unsubscribe","thread_id":"…"}`;
//! - `{"type":"typing","thread_id":"…"}`;
//! - `{"type":"presence","status":"away"}` (or `"online"`), for every
//!   subscribed thread;
//! - `{"type":"ping"}`.
//!
//! Server to client:
//! - `{"type":"event","thread_id":…,"id":12,"event":"message.created","data":{…}}`,
//!   where `id` and `data` are the SSE frame's `id` and `data`;
//! - `{"type":"subscribed","thread_id":…}`, `{"type":"unsubscribed","thread_id":…}`
//!   (also when the server ends a subscription, after `access.revoked`);
//! - `{"type":"error","status":404,"detail":"…","thread_id":…}` for a
//!   refused message (the connection stays open);
//! - `{"type":"pong"}`.
//!
//! Authentication is the handshake's: a bearer header, the auth cookie
//! (from an allowed origin only), or `?ticket=` from `POST /api/v1/ws/tickets`.
//! A connection follows at most 100 threads; one that answers nothing, not
//! even the server's pings, for three keep-alive periods is closed.
//! A slow client never slows anyone else: each subscription forwards
//! through a bounded channel, and a follower that falls behind re-reads the
//! log.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use xl_domain::events::ThreadEvent;
use xl_domain::{Actor, ThreadId};
use xl_services::presence::Connection;
use xl_services::{ServiceError, Services};

use crate::auth::MaybeAuthenticated;
use crate::{ApiError, AppState};

/// Frames waiting for a slow client, per connection, before the
/// subscriptions stop reading (and later catch up from the log).
const OUTBOX: usize = 256;
/// The largest frame a client may send.
const MAX_FRAME: usize = 64 * 1024;
/// Threads one connection may follow at once.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Keep-alive periods a client may stay silent (not even answering a
/// ping) before the connection is closed as gone.
const SILENT_PERIODS: u32 = 3;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// A ticket from `POST /api/v1/ws/tickets`, for clients that cannot send a header.
    ticket: Option<String>,
}

/// Registers the WebSocket routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ws").get(connect))
        .service(web::resource("/ws/tickets").post(ticket));
}

/// A short-lived ticket that opens a WebSocket as the caller.
#[utoipa::path(post, path = "/api/v1/ws/tickets", tag = "WebSocket", operation_id = "issue_websocket_ticket",
    description = "A one-minute ticket that opens a WebSocket as the caller: `GET /api/v1/ws?ticket=…`.",
    responses((status = 201, description = "The ticket", body = crate::Envelope<xl_services::auth::tickets::Ticket>)))]
async fn ticket(
    state: web::Data<AppState>,
    caller: crate::auth::Authenticated,
) -> Result<HttpResponse, ApiError> {
    let ticket = state.services.issue_ticket(&caller.0)?;
    Ok(crate::Envelope::with_status(
        actix_web::http::StatusCode::CREATED,
        ticket,
    ))
}

#[utoipa::path(get, path = "/api/v1/ws", tag = "WebSocket", operation_id = "open_websocket",
    description = "Upgrades to a WebSocket (send `Connection: Upgrade`, `Upgrade: websocket`) carrying JSON text frames both ways. The client sends `{\"type\":\"subscribe\",\"thread_id\":…,\"after\":12}`, `unsubscribe`, `typing`, `presence` (`{\"status\":\"away\"}`) and `ping`; the server sends `event` frames (`thread_id`, `id`, `event`, `data`, as the SSE streams), `subscribed`, `unsubscribed`, `error` (`status`, `detail`) and `pong`. A connection follows at most 100 threads. Browsers authenticate with the cookie (from an allowed origin) or `?ticket=`, since they cannot set headers on a handshake.",
    security((), ("bearer" = []), ("api_key" = []), ("cookie" = [])),
    params(TicketQuery),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket is open"),
        (status = 400, description = "Not a WebSocket handshake (named in `errors` as `Upgrade`)"),
        (status = 401, description = "No credential and no valid ticket"),
        (status = 403, description = "A cookie-authenticated handshake from an origin that is not allowed"),
    ))]
async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    query: web::Query<TicketQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = match (caller.0, query.ticket.as_deref()) {
        (Some(actor), _) => actor,
        (None, Some(ticket)) => state.services.redeem_ticket(ticket).await?,
        (None, None) => {
            return Err(ApiError::from(ServiceError::Unauthenticated(
                xl_services::auth::AuthFailure::MissingCredentials,
            )));
        }
    };
    let (response, session, messages) = actix_ws::handle(&req, body)
        .map_err(|err| ApiError::invalid_field("Upgrade", err.to_string()))?;
    let services = (*state.services).clone();
    let keep_alive = state.config.sse_keep_alive;
    actix_web::rt::spawn(async move {
        let _open = crate::metrics::OpenStream::new("websocket");
        let client = Client {
            services,
            actor,
            session,
            subscriptions: HashMap::new(),
            away: false,
        };
        client
            .run(messages.max_frame_size(MAX_FRAME), keep_alive)
            .await;
    });
    Ok(response)
}

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Incoming {
    Subscribe {
        thread_id: String,
        #[serde(default)]
        after: Option<i64>,
    },
    Unsubscribe {
        thread_id: String,
    },
    Typing {
        thread_id: String,
    },
    Presence {
        status: String,
    },
    Ping,
}

/// What a subscription hands to the connection.
enum Outgoing {
    Event(ThreadEvent),
    Ended(ThreadId),
}

struct Subscription {
    task: JoinHandle<()>,
    presence: Connection,
}

struct Client {
    services: Services,
    actor: Actor,
    session: Session,
    subscriptions: HashMap<ThreadId, Subscription>,
    away: bool,
}

fn error_frame(err: &ApiError, thread: Option<ThreadId>) -> Value {
    json!({
        "type": "error",
        "status": err.status_code().as_u16(),
        "detail": err.to_string(),
        "thread_id": thread,
    })
}

impl Client {
    async fn send(&mut self, frame: &Value) -> bool {
        self.session.text(frame.to_string()).await.is_ok()
    }

    async fn run(mut self, mut messages: MessageStream, keep_alive: Duration) {
        let (outbox, mut inbox) = mpsc::channel::<Outgoing>(OUTBOX);
        let mut ping = tokio::time::interval(keep_alive);
        ping.tick().await;
        let mut heard = tokio::time::Instant::now();
        let reason = loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        heard = tokio::time::Instant::now();
                        if !self.handle(&text, &outbox).await {
                            break None;
                        }
                    }
                    Some(Ok(Message::Ping(bytes))) => {
                        heard = tokio::time::Instant::now();
                        if self.session.pong(&bytes).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let refused = ApiError::invalid_field("frame", "must be JSON text");
                        if !self.send(&error_frame(&refused, None)).await {
                            break None;
                        }
                    }
                    Some(Ok(Message::Close(reason))) => break reason,
                    Some(Ok(Message::Pong(_))) => heard = tokio::time::Instant::now(),
                    Some(Ok(_)) => {}
                    Some(Err(_)) => break Some(CloseReason::from(CloseCode::Protocol)),
                    None => break None,
                },
                Some(out) = inbox.recv() => {
                    let frame = match out {
                        Outgoing::Event(event) => json!({
                            "type": "event",
                            "thread_id": event.thread_id,
                            "id": event.seq,
                            "event": event.kind,
                            "data": event,
                        }),
                        Outgoing::Ended(thread) => {
                            self.subscriptions.remove(&thread);
                            json!({ "type": "unsubscribed", "thread_id": thread })
                        }
                    };
                    if !self.send(&frame).await {
                        break None;
                    }
                }
                _ = ping.tick() => {
                    // A client that has gone is noticed here: the write
                    // fails, or it stops answering pings.
                    if heard.elapsed() > keep_alive * SILENT_PERIODS {
                        break Some(CloseReason::from(CloseCode::Away));
                    }
                    if self.session.ping(b"").await.is_err() {
                        break None;
                    }
                }
            }
        };
        for (_, subscription) in self.subscriptions.drain() {
            subscription.task.abort();
        }
        let _ = self.session.close(reason).await;
    }

    /// Acts on one client message; `false` once the connection is gone.
    async fn handle(&mut self, text: &str, outbox: &mpsc::Sender<Outgoing>) -> bool {
        let incoming: Incoming = match serde_json::from_str(text) {
            Ok(incoming) => incoming,
            Err(err) => {
                let refused = ApiError::invalid_field("type", format!("unreadable message: {err}"));
                return self.send(&error_frame(&refused, None)).await;
            }
        };
        let result = match incoming {
            Incoming::Subscribe { thread_id, after } => {
                self.subscribe(&thread_id, after.unwrap_or(0), outbox).await
            }
            Incoming::Unsubscribe { thread_id } => self.unsubscribe(&thread_id),
            Incoming::Typing { thread_id } => match parse_thread(&thread_id) {
                Ok(thread) => self
                    .services
                    .typing(&self.actor, thread)
                    .await
                    .map(|()| None)
                    .map_err(|err| (ApiError::from(err), Some(thread))),
                Err(err) => Err((err, None)),
            },
            Incoming::Presence { status } => self.set_presence(&status),
            Incoming::Ping => Ok(Some(json!({ "type": "pong" }))),
        };
        match result {
            Ok(Some(frame)) => self.send(&frame).await,
            Ok(None) => true,
            Err((err, thread)) => self.send(&error_frame(&err, thread)).await,
        }
    }

    async fn subscribe(
        &mut self,
        raw: &str,
        after: i64,
        outbox: &mpsc::Sender<Outgoing>,
    ) -> Result<Option<Value>, (ApiError, Option<ThreadId>)> {
        let thread = parse_thread(raw).map_err(|err| (err, None))?;
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS
            && !self.subscriptions.contains_key(&thread)
        {
            let refused = ApiError::invalid_field(
                "thread_id",
                format!("a connection follows at most {MAX_SUBSCRIPTIONS} threads"),
            );
            return Err((refused, Some(thread)));
        }
        if after < 0 {
            let refused = ApiError::invalid_field("after", "must be an event id from this stream");
            return Err((refused, Some(thread)));
        }
        let failed = |err: ServiceError| (ApiError::from(err), Some(thread));
        let mut events = self
            .services
            .follow_thread_quietly(&self.actor, thread, after)
            .await
            .map_err(failed)?;
        let mut presence = self
            .services
            .join(&self.actor, thread)
            .await
            .map_err(failed)?;
        presence.set_away(self.away);
        let outbox = outbox.clone();
        let task = actix_web::rt::spawn(async move {
            while let Some(next) = events.next().await {
                let Ok(event) = next else { break };
                if outbox.send(Outgoing::Event(event)).await.is_err() {
                    return;
                }
            }
            let _ = outbox.send(Outgoing::Ended(thread)).await;
        });
        // A second subscription to a thread replaces the first.
        if let Some(old) = self
            .subscriptions
            .insert(thread, Subscription { task, presence })
        {
            old.task.abort();
        }
        Ok(Some(json!({ "type": "subscribed", "thread_id": thread })))
    }

    fn unsubscribe(&mut self, raw: &str) -> Result<Option<Value>, (ApiError, Option<ThreadId>)> {
        let thread = parse_thread(raw).map_err(|err| (err, None))?;
        match self.subscriptions.remove(&thread) {
            Some(subscription) => {
                subscription.task.abort();
                Ok(Some(json!({ "type": "unsubscribed", "thread_id": thread })))
            }
            None => Err((
                ApiError::from(ServiceError::NotFound("subscription")),
                Some(thread),
            )),
        }
    }

    fn set_presence(
        &mut self,
        status: &str,
    ) -> Result<Option<Value>, (ApiError, Option<ThreadId>)> {
        self.away = match status {
            "away" => true,
            "online" => false,
            _ => {
                let refused = ApiError::invalid_field("status", "must be online or away");
                return Err((refused, None));
            }
        };
        for subscription in self.subscriptions.values_mut() {
            subscription.presence.set_away(self.away);
        }
        Ok(None)
    }
}

fn parse_thread(raw: &str) -> Result<ThreadId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid_field("thread_id", "must be a thread id"))
}
