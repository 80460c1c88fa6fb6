//! The WebSocket at `/api/v1/ws`, driven by tokio-tungstenite: the same
//! events and resume positions as the SSE stream, tickets for browsers,
//! refusals that keep the connection open, typing and presence, and the
//! cross-site handshake refused.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use xl_domain::Role;

use crate::helpers::{TestApp, data, spawn_app_with};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Event kinds that are not in the log.
const SIGNALS: [&str; 3] = ["presence", "typing", "assistant.status"];

async fn app() -> TestApp {
    spawn_app_with(|options| {
        options.services.auto_completion_enabled = true;
        // Long enough that a socket the test is not reading (so not
        // answering pings) is not taken for gone.
        options.http.sse_keep_alive = Duration::from_secs(2);
    })
    .await
}

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/api/v1/ws{query}", app.address.replacen("http", "ws", 1))
}

async fn connect(app: &TestApp, token: &str) -> Socket {
    let mut request = ws_url(app, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON frame (pings skipped) within 5 s.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Event frames until (and including) the first of `kind`.
async fn events_until(socket: &mut Socket, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let frame = receive(socket).await;
        if frame["type"] != "event" {
            continue;
        }
        let done = frame["event"] == kind;
        seen.push(frame);
        if done {
            return seen;
        }
    }
}

async fn new_thread(app: &TestApp, token: &str) -> String {
    let thread = data(app.post("/api/v1/threads", token, &json!({})).await, 201).await;
    thread["id"].as_str().unwrap().to_owned()
}

/// The payload of the next `presence` event about `user`.
async fn presence_of(socket: &mut Socket, user: &str) -> Value {
    loop {
        let frames = events_until(socket, "presence").await;
        let payload = &frames.last().unwrap()["data"]["payload"];
        if payload["user_id"] == user {
            return payload.clone();
        }
    }
}

/// The (id, event) pairs of the thread's SSE stream from the start, up to
/// the first of `kind`.
async fn sse_until(app: &TestApp, token: &str, thread: &str, kind: &str) -> Vec<(i64, String)> {
    use eventsource_stream::Eventsource;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/threads/{thread}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut events = response.bytes_stream().eventsource();
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        let done = event.event == kind;
        seen.push((event.id.parse().unwrap(), event.event));
        if done {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn a_subscription_carries_the_sse_events_and_resumes_the_same_way() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada).await;
    let mut socket = connect(&app, &ada).await;
    send(&mut socket, json!({ "type": "subscribe", "thread_id": t })).await;
    assert_eq!(
        receive(&mut socket).await,
        json!({ "type": "subscribed", "thread_id": t })
    );
    app.post(
        &format!("/api/v1/threads/{t}/messages"),
        &ada,
        &json!({ "content": "over the socket" }),
    )
    .await;
    // Signals (presence, assistant status) go only to live followers; the
    // logged events are the SSE stream's.
    let frames: Vec<Value> = events_until(&mut socket, "message.completed")
        .await
        .into_iter()
        .filter(|f| !SIGNALS.contains(&f["event"].as_str().unwrap()))
        .collect();
    let over_ws: Vec<(i64, String)> = frames
        .iter()
        .map(|f| {
            (
                f["id"].as_i64().unwrap(),
                f["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        over_ws,
        sse_until(&app, &ada, &t, "message.completed").await
    );
    assert_eq!(frames[0]["data"]["payload"]["content"], "over the socket");

    // Resuming after an id gives exactly what follows it.
    let mut again = connect(&app, &ada).await;
    send(
        &mut again,
        json!({ "type": "subscribe", "thread_id": t, "after": 2 }),
    )
    .await;
    let tail = events_until(&mut again, "message.completed").await;
    let ids: Vec<i64> = tail
        .iter()
        .filter(|f| !SIGNALS.contains(&f["event"].as_str().unwrap()))
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        over_ws[2..].iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    send(&mut again, json!({ "type": "unsubscribe", "thread_id": t })).await;
    assert_eq!(receive(&mut again).await["type"], "unsubscribed");
}

#[tokio::test]
async fn tickets_open_a_socket_and_refusals_keep_it_open() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (eve, _) = app.user("eve@evil.io", Role::Admin).await;
    let t = new_thread(&app, &ada).await;
    let ticket = data(app.post("/api/v1/ws/tickets", &ada, &json!({})).await, 201).await;
    let ticket = ticket["ticket"].as_str().unwrap();
    let url = ws_url(&app, &format!("?ticket={ticket}"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send(&mut socket, json!({ "type": "subscribe", "thread_id": t })).await;
    assert_eq!(receive(&mut socket).await["type"], "subscribed");

    // No credential, or a forged ticket: refused at the handshake.
    for query in ["", "?ticket=forged.ticket"] {
        let refused = tokio_tungstenite::connect_async(ws_url(&app, query)).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401);
            }
            other => panic!("expected a 401, got {other:?}"),
        }
    }
    // Another org's thread is not found; bad messages are named; the
    // connection stays usable.
    let mut outsider = connect(&app, &eve).await;
    send(
        &mut outsider,
        json!({ "type": "subscribe", "thread_id": t }),
    )
    .await;
    let error = receive(&mut outsider).await;
    assert_eq!(
        (error["type"].as_str(), error["status"].as_i64()),
        (Some("error"), Some(404))
    );
    outsider
        .send(Message::Text("not json".into()))
        .await
        .unwrap();
    assert_eq!(receive(&mut outsider).await["status"], 400);
    send(&mut outsider, json!({ "type": "ping" })).await;
    assert_eq!(receive(&mut outsider).await, json!({ "type": "pong" }));
}

#[tokio::test]
async fn typing_and_presence_reach_the_thread_live() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, bob_profile) = app.user("bob@acme.io", Role::User).await;
    let t = new_thread(&app, &ada).await;
    app.post(
        &format!("/api/v1/threads/{t}/members"),
        &ada,
        &json!({ "user_id": bob_profile["id"] }),
    )
    .await;
    let bob_id = bob_profile["id"].as_str().unwrap();
    let presence = |token: &str| {
        let (app, token, path) = (
            &app,
            token.to_owned(),
            format!("/api/v1/threads/{t}/presence"),
        );
        async move {
            let people = data(app.get(&path, &token).await, 200).await["people"].clone();
            people
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["user_id"] == bob_id)
                .cloned()
                .unwrap()
        }
    };
    assert_eq!(presence(&ada).await["status"], "offline");

    let mut ada_socket = connect(&app, &ada).await;
    send(
        &mut ada_socket,
        json!({ "type": "subscribe", "thread_id": t }),
    )
    .await;
    receive(&mut ada_socket).await;
    let mut bob_socket = connect(&app, &bob).await;
    send(
        &mut bob_socket,
        json!({ "type": "subscribe", "thread_id": t }),
    )
    .await;
    receive(&mut bob_socket).await;
    assert_eq!(
        presence_of(&mut ada_socket, bob_id).await["status"],
        "online"
    );
    assert_eq!(presence(&ada).await["status"], "online");

    send(&mut bob_socket, json!({ "type": "typing", "thread_id": t })).await;
    let typing = events_until(&mut ada_socket, "typing").await;
    assert_eq!(typing.last().unwrap()["data"]["payload"]["user_id"], bob_id);
    assert_eq!(presence(&ada).await["typing"], true);

    send(
        &mut bob_socket,
        json!({ "type": "presence", "status": "away" }),
    )
    .await;
    assert_eq!(presence_of(&mut ada_socket, bob_id).await["status"], "away");
    bob_socket.close(None).await.unwrap();
    assert_eq!(
        presence_of(&mut ada_socket, bob_id).await["status"],
        "offline"
    );
    assert_eq!(presence(&ada).await["status"], "offline");

    // The HTTP typing endpoint reaches the socket too.
    let typed = app
        .post(&format!("/api/v1/threads/{t}/typing"), &ada, &json!({}))
        .await;
    assert_eq!(typed.status(), 204);
    let typing = events_until(&mut ada_socket, "typing").await;
    assert_eq!(
        typing.last().unwrap()["data"]["payload"]["expires_in_ms"],
        5000
    );
}

#[tokio::test]
async fn a_cookie_handshake_from_another_site_is_refused() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let mut request = ws_url(&app, "").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", format!("rpotential_auth={ada}").parse().unwrap());
    headers.insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_client_is_closed_and_its_subscriptions_dropped() {
    let app = spawn_app_with(|options| {
        options.http.sse_keep_alive = Duration::from_millis(100);
    })
    .await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada).await;
    let thread = t.parse().unwrap();
    let mut socket = connect(&app, &ada).await;
    send(&mut socket, json!({ "type": "subscribe", "thread_id": t })).await;
    assert_eq!(receive(&mut socket).await["type"], "subscribed");
    assert_eq!(app.services.events.listeners(thread), 1);
    // The client reads nothing, so answers no ping, for several periods.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut closed = None;
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await
    {
        match message {
            Ok(Message::Close(frame)) => {
                closed = frame;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let code = closed.expect("the server closed the socket").code;
    assert_eq!(u16::from(code), 1001, "going away");
    for _ in 0..50 {
        if app.services.events.listeners(thread) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the subscription of a closed socket was kept");
}
