//! Thread event streams over HTTP (`GET /api/v1/threads/{id}/events`),
//! read with an SSE client crate that is not ours (eventsource-stream), so
//! the framing is checked by someone else's parser: every change appears
//! once and in order, a reconnect resumes with nothing lost, access is
//! checked on connect and again when it is taken away, an old cursor gets
//! a `reset`, and a client that has gone is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use xl_domain::Role;
use xl_llm::ChatProvider;

use crate::assistant::Fake;
use crate::helpers::{TestApp, data, problem, spawn_app_with};

type Events = Pin<Box<dyn Stream<Item = Event> + Send>>;

async fn app(llm: Option<Arc<dyn ChatProvider>>) -> TestApp {
    spawn_app_with(|options| {
        options.services.auto_completion_enabled = true;
        options.http.sse_keep_alive = Duration::from_millis(200);
        options.llm = llm;
    })
    .await
}

async fn new_thread(app: &TestApp, token: &str, body: Value) -> String {
    let thread = data(app.post("/api/v1/threads", token, &body).await, 201).await;
    thread["id"].as_str().unwrap().to_owned()
}

fn events_path(thread: &str) -> String {
    format!("/api/v1/threads/{thread}/events")
}

/// Opens a thread's event stream, after `last_event_id` if given.
async fn open(app: &TestApp, token: &str, thread: &str, last_event_id: Option<&str>) -> Events {
    let mut request = app
        .client
        .get(app.url(&events_path(thread)))
        .bearer_auth(token);
    if let Some(last) = last_event_id {
        request = request.header("Last-Event-ID", last);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Box::pin(
        response
            .bytes_stream()
            .eventsource()
            .map(|event| event.expect("a well-formed event")),
    )
}

/// The next event within 5 s (`None` once the server ended the stream).
async fn next(events: &mut Events) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
}

/// Events until (and including) the first of `kind`.
async fn until(events: &mut Events, kind: &str) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = next(events).await.expect("the stream goes on");
        let done = event.event == kind;
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// The events that are in the log (signals such as typing, presence and
/// the assistant's status are not).
fn logged(events: Vec<Event>) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| !["typing", "presence", "assistant.status"].contains(&e.event.as_str()))
        .collect()
}

fn payload(event: &Event) -> Value {
    let data: Value = serde_json::from_str(&event.data).unwrap();
    data["payload"].clone()
}

fn ids(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.id.parse().unwrap()).collect()
}

#[tokio::test]
async fn every_change_of_a_thread_reaches_its_stream_once_and_in_order() {
    let app = app(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (_, bob) = app.user("bob@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({ "title": "Live" })).await;
    let mut events = open(&app, &ada, &t, None).await;

    let posted = data(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "content": "hello there" }),
        )
        .await,
        201,
    )
    .await;
    let question = posted["userMessage"]["id"].as_str().unwrap().to_owned();
    let reply = until(&mut events, "message.completed").await;
    let thinking = reply
        .iter()
        .find(|e| e.event == "assistant.status")
        .expect("the assistant's status is signalled");
    assert_eq!(payload(thinking)["status"], "thinking");
    let reply = logged(reply);
    assert_eq!(reply[0].event, "message.created");
    assert_eq!(payload(&reply[0])["content"], "hello there");
    assert_eq!(reply[1].event, "message.created");
    assert_eq!(payload(&reply[1])["role"], "ASSISTANT");
    let text: String = reply
        .iter()
        .filter(|e| e.event == "message.delta")
        .map(|e| payload(e)["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Echo: hello there");
    assert_eq!(payload(reply.last().unwrap())["status"], "complete");

    let message = format!("/api/v1/messages/{question}");
    app.put(&message, &ada, &json!({ "content": "hello, edited" }))
        .await;
    let reactions = format!("{message}/reactions");
    app.post(&reactions, &ada, &json!({ "name": "tada" })).await;
    app.post(&reactions, &ada, &json!({ "name": "tada" })).await;
    app.post(
        &format!("/api/v1/threads/{t}/members"),
        &ada,
        &json!({ "user_id": bob["id"] }),
    )
    .await;
    app.patch(
        &format!("/api/v1/threads/{t}"),
        &ada,
        &json!({ "title": "Renamed" }),
    )
    .await;
    app.delete(&message, &ada).await;
    let changes = logged(until(&mut events, "message.deleted").await);
    let kinds: Vec<&str> = changes.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message.updated",
            "reaction.added",
            "reaction.removed",
            "member.added",
            "thread.updated",
            "message.deleted",
        ]
    );
    assert_eq!(payload(&changes[0])["content"], "hello, edited");
    assert_eq!(payload(&changes[1])["name"], "tada");
    assert_eq!(payload(&changes[3])["user_id"], bob["id"]);
    assert_eq!(payload(&changes[4])["title"], "Renamed");
    let all: Vec<Event> = reply.into_iter().chain(changes).collect();
    assert_eq!(
        ids(&all),
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "every event once, numbered without a gap"
    );

    // Deleting the thread is its last event on this stream: a deleted
    // thread cannot be read, so the stream ends.
    let removed = app.delete(&format!("/api/v1/threads/{t}"), &ada).await;
    assert_eq!(removed.status(), 204);
    assert_eq!(next(&mut events).await.unwrap().event, "thread.deleted");
    assert_eq!(next(&mut events).await.unwrap().event, "access.revoked");
    assert!(next(&mut events).await.is_none());
    app.post(&format!("/api/v1/threads/{t}/restore"), &ada, &json!({}))
        .await;
    let after = (all.len() + 1).to_string();
    let mut restored = open(&app, &ada, &t, Some(&after)).await;
    let event = next(&mut restored).await.unwrap();
    assert_eq!(event.event, "thread.restored");
    assert_eq!(payload(&event)["title"], "Renamed");
}

#[tokio::test]
async fn a_reconnect_mid_reply_resumes_with_no_gap_and_no_duplicate() {
    let (fake, feed) = Fake::fed();
    let app = app(Some(fake)).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let mut events = open(&app, &ada, &t, None).await;
    app.post(
        &format!("/api/v1/threads/{t}/messages?reply=stream"),
        &ada,
        &json!({ "content": "count" }),
    )
    .await;
    let mut seen = Vec::new();
    for word in ["one ", "two "] {
        feed.send(word.into()).unwrap();
        seen.extend(logged(until(&mut events, "message.delta").await));
    }
    // The connection drops; more text is written meanwhile.
    drop(events);
    for word in ["three ", "four"] {
        feed.send(word.into()).unwrap();
    }
    drop(feed);
    let last = seen.last().unwrap().id.clone();
    let mut events = open(&app, &ada, &t, Some(&last)).await;
    seen.extend(logged(until(&mut events, "message.completed").await));
    assert_eq!(ids(&seen), (1..=seen.len() as i64).collect::<Vec<_>>());
    let text: String = seen
        .iter()
        .filter(|e| e.event == "message.delta")
        .map(|e| payload(e)["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "one two three four");

    // `?after=` resumes the same way, for clients that cannot set headers.
    let response = app
        .client
        .get(app.url(&format!("{}?after={}", events_path(&t), seen.len() - 1)))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    let mut tail: Events = Box::pin(response.bytes_stream().eventsource().map(Result::unwrap));
    let event = next(&mut tail).await.unwrap();
    assert_eq!(event.event, "message.completed");
    assert_eq!(event.id, seen.len().to_string());
}

#[tokio::test]
async fn the_stream_checks_access_on_connect_and_ends_when_it_is_revoked() {
    let app = app(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, bob_profile) = app.user("bob@acme.io", Role::User).await;
    let (eve, _) = app.user("eve@evil.io", Role::Admin).await;
    let t = new_thread(&app, &ada, json!({ "auto_reply": false })).await;
    let anonymous = app
        .client
        .get(app.url(&events_path(&t)))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    problem(app.get(&events_path(&t), &bob).await, 404).await;
    problem(app.get(&events_path(&t), &eve).await, 404).await;
    let bad = app
        .client
        .get(app.url(&events_path(&t)))
        .bearer_auth(&ada)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    let error = problem(bad, 400).await;
    assert!(error["errors"]["Last-Event-ID"].is_array(), "{error}");

    app.post(
        &format!("/api/v1/threads/{t}/members"),
        &ada,
        &json!({ "user_id": bob_profile["id"] }),
    )
    .await;
    let mut events = open(&app, &bob, &t, None).await;
    assert_eq!(next(&mut events).await.unwrap().event, "member.added");
    let bob_id = bob_profile["id"].as_str().unwrap();
    let removed = app
        .delete(&format!("/api/v1/threads/{t}/members/{bob_id}"), &ada)
        .await;
    assert_eq!(removed.status(), 204);
    let gone = next(&mut events).await.unwrap();
    assert_eq!(gone.event, "member.removed");
    assert_eq!(payload(&gone)["user_id"], bob_id);
    assert_eq!(next(&mut events).await.unwrap().event, "access.revoked");
    assert!(next(&mut events).await.is_none(), "the stream ends");
}

#[tokio::test]
async fn a_cursor_older_than_the_log_gets_a_reset_and_then_the_live_events() {
    let app = spawn_app_with(|options| {
        options.services.event_retention = Duration::ZERO;
    })
    .await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let path = format!("/api/v1/threads/{t}/messages");
    let post = |content: &'static str| {
        let (app, path, ada) = (&app, &path, &ada);
        async move { app.post(path, ada, &json!({ "content": content })).await }
    };
    for content in ["one", "two", "three"] {
        post(content).await;
    }
    assert_eq!(app.services.prune_events().await.unwrap(), 3);
    let mut events = open(&app, &ada, &t, Some("1")).await;
    let reset = next(&mut events).await.unwrap();
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.id, "3", "the position to follow from after a refetch");
    post("four").await;
    let created = next(&mut events).await.unwrap();
    assert_eq!(
        (created.event.as_str(), created.id.as_str()),
        ("message.created", "4")
    );
    // A cursor the thread never reached is reset too.
    let mut ahead = open(&app, &ada, &t, Some("99")).await;
    let reset = next(&mut ahead).await.unwrap();
    assert_eq!((reset.event.as_str(), reset.id.as_str()), ("reset", "4"));
}

#[tokio::test]
async fn a_client_that_has_gone_is_dropped_within_a_keep_alive() {
    let app = app(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let thread = t.parse().unwrap();
    let response = app
        .client
        .get(app.url(&events_path(&t)))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    // Idle streams get keep-alive comments.
    let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..], b": keep-alive\n\n");
    assert_eq!(app.services.events.listeners(thread), 1);
    drop(body);
    for _ in 0..50 {
        if app.services.events.listeners(thread) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the subscription of a client that left was kept");
}

/// Opens the caller's feed, after `cursor` if given.
async fn open_feed(app: &TestApp, token: &str, cursor: Option<&str>) -> Events {
    let mut request = app.client.get(app.url("/api/v1/events")).bearer_auth(token);
    if let Some(cursor) = cursor {
        request = request.header("Last-Event-ID", cursor);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    Box::pin(
        response
            .bytes_stream()
            .eventsource()
            .map(|event| event.expect("a well-formed event")),
    )
}

/// The next logged event of a feed.
async fn next_logged(events: &mut Events) -> Event {
    loop {
        let event = next(events).await.expect("the feed goes on");
        if !logged(vec![event.clone()]).is_empty() {
            return event;
        }
    }
}

fn thread_of(event: &Event) -> String {
    let data: Value = serde_json::from_str(&event.data).unwrap();
    data["thread_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_feed_carries_every_visible_thread_and_resumes_by_its_cursor() {
    let app = spawn_app_with(|options| {
        options.http.sse_keep_alive = Duration::from_millis(200);
    })
    .await;
    let (ada, ada_profile) = app.user("ada@acme.io", Role::User).await;
    let (bob, _) = app.user("bob@acme.io", Role::User).await;
    let first = new_thread(&app, &ada, json!({})).await;
    let second = new_thread(&app, &ada, json!({})).await;
    let bobs = new_thread(&app, &bob, json!({})).await;
    let post = |token: &str, thread: &str, content: &str| {
        let (app, token) = (&app, token.to_owned());
        let (path, body) = (
            format!("/api/v1/threads/{thread}/messages"),
            json!({ "content": content }),
        );
        async move { data(app.post(&path, &token, &body).await, 201).await }
    };
    let mut feed = open_feed(&app, &ada, None).await;
    post(&ada, &first, "one").await;
    post(&bob, &bobs, "not for ada").await;
    post(&ada, &second, "two").await;
    let a = next_logged(&mut feed).await;
    let b = next_logged(&mut feed).await;
    assert_eq!(
        (thread_of(&a), payload(&a)["content"].clone()),
        (first.clone(), json!("one"))
    );
    assert_eq!(
        (thread_of(&b), payload(&b)["content"].clone()),
        (second.clone(), json!("two")),
        "bob's thread is not in ada's feed"
    );

    // Disconnected, ada misses posts in both threads; the cursor of the
    // last event she got brings back exactly those.
    drop(feed);
    post(&ada, &first, "three").await;
    post(&bob, &bobs, "still not for ada").await;
    post(&ada, &second, "four").await;
    let mut feed = open_feed(&app, &ada, Some(&b.id)).await;
    let mut missed = [next_logged(&mut feed).await, next_logged(&mut feed).await];
    missed.sort_by_key(|e| payload(e)["content"].as_str().unwrap().to_owned());
    let contents: Vec<Value> = missed
        .iter()
        .map(|e| payload(e)["content"].clone())
        .collect();
    assert_eq!(contents, [json!("four"), json!("three")]);

    // A thread ada joins enters her feed.
    app.post(
        &format!("/api/v1/threads/{bobs}/members"),
        &bob,
        &json!({ "user_id": ada_profile["id"] }),
    )
    .await;
    let joined = next_logged(&mut feed).await;
    assert_eq!(
        (joined.event.as_str(), thread_of(&joined)),
        ("member.added", bobs.clone())
    );
    post(&bob, &bobs, "now for ada").await;
    let now = next_logged(&mut feed).await;
    assert_eq!(payload(&now)["content"], "now for ada");

    let bad = app
        .client
        .get(app.url("/api/v1/events?after=not-a-cursor"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    let error = problem(bad, 400).await;
    assert!(error["errors"]["after"].is_array(), "{error}");
}
