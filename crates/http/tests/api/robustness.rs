//! Issue 15 over HTTP: input of the wrong shape answered like any other bad
//! input (never taken by position, never a 5xx), HEAD wherever GET is, and
//! a bounded fuzz of JSON bodies against the app that asserts no 5xx.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{MAX_JSON, TestApp, data, problem, spawn_app, spawn_app_with};

/// The field errors of a 422 problem.
async fn unprocessable(response: reqwest::Response) -> Value {
    problem(response, 422).await["errors"].clone()
}

/// Issue 15, finding 4: a JSON array where an object is expected is refused,
/// not read field by field in order.
#[tokio::test]
async fn arrays_are_not_taken_for_objects() {
    let app = spawn_app().await;
    let (root, me) = app.user("root@acme.io", Role::Admin).await;
    let positional = json!(["positional title", "desc"]);
    let errors = unprocessable(app.post("/api/v1/threads", &root, &positional).await).await;
    assert!(errors["body"].is_array(), "{errors}");
    let thread = data(app.post("/api/v1/threads", &root, &json!({})).await, 201).await;
    let path = format!("/api/v1/threads/{}", thread["id"].as_str().unwrap());
    let errors = unprocessable(app.patch(&path, &root, &positional).await).await;
    assert!(errors["body"].is_array(), "{errors}");
    let user = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    let errors = unprocessable(app.put(&user, &root, &json!(["New Name"])).await).await;
    assert!(errors["body"].is_array(), "{errors}");
    let import = json!({
        "format": "experience-layer.thread.v1",
        "thread": ["positional title"],
        "messages": []
    });
    let errors = unprocessable(app.post("/api/v1/threads/import", &root, &import).await).await;
    assert!(errors["thread"].is_array(), "{errors}");
    // Nothing was created by position.
    let list = data(app.get("/api/v1/threads", &root).await, 200).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["title"] != "positional title"),
        "{list}"
    );

    // The OpenAI surface: `stream_options` must be an object too.
    let body = json!({
        "model": "echo",
        "stream": true,
        "stream_options": [true],
        "messages": [{"role": "user", "content": "hi"}]
    });
    let response = app.post("/api/v1/chat/completions", &root, &body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["param"], "stream_options", "{error}");
}

/// Issue 15, finding 4: a thread naming a model nobody serves is refused
/// with the field named, instead of failing every reply later.
#[tokio::test]
async fn a_thread_model_must_be_known() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let errors = unprocessable(
        app.post(
            "/api/v1/threads",
            &ada,
            &json!({ "model": "no-such-model" }),
        )
        .await,
    )
    .await;
    assert!(errors["model"].is_array(), "{errors}");
    let thread = data(
        app.post("/api/v1/threads", &ada, &json!({ "model": "gpt-4o" }))
            .await,
        201,
    )
    .await;
    let path = format!("/api/v1/threads/{}", thread["id"].as_str().unwrap());
    let errors = unprocessable(app.patch(&path, &ada, &json!({ "model": "ééééééé" })).await).await;
    assert!(errors["model"].is_array(), "{errors}");
    // A served model (the provider's own) and a dated snapshot are fine.
    for model in ["echo", "gpt-4o-2024-08-06"] {
        data(
            app.patch(&path, &ada, &json!({ "model": model })).await,
            200,
        )
        .await;
    }
}

/// Issue 15, finding 4: blank, NUL and control-character text is refused
/// where it makes no sense, naming the field.
#[tokio::test]
async fn blank_and_control_text_is_refused() {
    let app = spawn_app().await;
    let (root, me) = app.user("root@acme.io", Role::Admin).await;
    for title in ["   ", "\u{0}", "a\u{0}b", "line\nbreak"] {
        let errors = unprocessable(
            app.post("/api/v1/threads", &root, &json!({ "title": title }))
                .await,
        )
        .await;
        assert!(errors["title"].is_array(), "{title:?}: {errors}");
    }
    let thread = data(
        app.post("/api/v1/threads", &root, &json!({ "title": "  Plans  " }))
            .await,
        201,
    )
    .await;
    assert_eq!(thread["title"], "Plans", "titles are trimmed");
    let id = thread["id"].as_str().unwrap();
    let errors = unprocessable(
        app.patch(
            &format!("/api/v1/threads/{id}"),
            &root,
            &json!({ "title": "\t" }),
        )
        .await,
    )
    .await;
    assert!(errors["title"].is_array(), "{errors}");
    let errors = unprocessable(
        app.post(
            &format!("/api/v1/threads/{id}/messages"),
            &root,
            &json!({ "content": "\u{0}" }),
        )
        .await,
    )
    .await;
    assert!(errors["content"].is_array(), "{errors}");
    let user = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    for name in ["   ", "a\u{0}b"] {
        let errors = unprocessable(app.put(&user, &root, &json!({ "name": name })).await).await;
        assert!(errors["name"].is_array(), "{name:?}: {errors}");
    }
    let errors = unprocessable(
        app.post("/api/v1/api-keys", &root, &json!({ "name": " \u{0} " }))
            .await,
    )
    .await;
    assert!(errors["name"].is_array(), "{errors}");

    // A token whose org claim is not a name signs nobody in (and creates no org).
    for org in ["a\u{0}b".to_owned(), "o".repeat(5000)] {
        let mut claims = app.claims("eve@evil.io", Role::User);
        claims.org = Some(org);
        let token = app.sign(&claims);
        problem(app.get("/api/v1/users/me", &token).await, 401).await;
    }
}

/// Issue 15, finding 4: logout and refresh read their body like any other
/// route: 415 for another type, 400 malformed, 413 too large.
#[tokio::test]
async fn logout_and_refresh_bodies_are_checked() {
    let app = spawn_app().await;
    let (token, _) = app.user("ada@acme.io", Role::User).await;
    for path in ["/api/v1/auth/logout", "/api/v1/auth/refresh"] {
        let send = |body: Vec<u8>, content_type: &'static str| {
            app.client
                .post(app.url(path))
                .bearer_auth(&token)
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        problem(
            send(b"{not json".to_vec(), "application/json")
                .await
                .unwrap(),
            400,
        )
        .await;
        problem(send(b"hello".to_vec(), "text/plain").await.unwrap(), 415).await;
        let big = format!("{{\"refresh_token\":\"{}\"}}", "x".repeat(MAX_JSON));
        problem(
            send(big.into_bytes(), "application/json").await.unwrap(),
            413,
        )
        .await;
        problem(
            send(b"[1]".to_vec(), "application/json").await.unwrap(),
            422,
        )
        .await;
    }
    // An empty body still means: the cookie carries the token.
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Issue 15, finding 4: HEAD is answered wherever GET is, without a body.
#[tokio::test]
async fn head_is_allowed_wherever_get_is() {
    let app = spawn_app().await;
    let (token, _) = app.user("ada@acme.io", Role::User).await;
    for path in ["/health", "/api/v1/health", "/api/v1", "/api/v1/users/me"] {
        let get = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let head = app
            .client
            .request(Method::HEAD, app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert!(head.headers().contains_key("x-correlation-id"));
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    // Other methods are still refused.
    let put = app.client.put(app.url("/health")).send().await.unwrap();
    problem(put, 405).await;
}

/// HEAD on a live event stream answers at once instead of holding the
/// stream open.
#[tokio::test]
async fn head_on_a_live_stream_answers_at_once() {
    let app = spawn_app_with(|options| {
        options.services.auto_completion_enabled = true;
        options.llm = Some(std::sync::Arc::new(xl_llm::EchoProvider::new(
            xl_llm::EchoConfig {
                pace: std::time::Duration::from_secs(20),
                models: Vec::new(),
            },
        )));
    })
    .await;
    let (token, _) = app.user("ada@acme.io", Role::User).await;
    let thread = data(app.post("/api/v1/threads", &token, &json!({})).await, 201).await;
    let posted = data(
        app.post(
            &format!(
                "/api/v1/threads/{}/messages?reply=stream",
                thread["id"].as_str().unwrap()
            ),
            &token,
            &json!({ "content": "one two three four five" }),
        )
        .await,
        201,
    )
    .await;
    let reply = posted["assistantMessage"]["id"].as_str().unwrap();
    // The reply takes two minutes; "at once" is anything well short of it
    // (the test's own runtime may be busy for a second building tokenizer
    // tables for the reply).
    let head = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.client
            .request(
                Method::HEAD,
                app.url(&format!("/api/v1/messages/{reply}/stream")),
            )
            .bearer_auth(&token)
            .send(),
    )
    .await
    .expect("HEAD on a live stream answers at once")
    .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "text/event-stream");
    let body = tokio::time::timeout(std::time::Duration::from_secs(5), head.bytes())
        .await
        .expect("and ends at once");
    assert!(body.unwrap().is_empty());
}

/// Arbitrary JSON, biased towards the shapes the API takes: strings with
/// odd Unicode, huge and negative numbers, nesting, and the field names it
/// knows.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "title",
        "description",
        "model",
        "metadata",
        "tags",
        "content",
        "blocks",
        "name",
        "role",
        "parent_id",
        "system_prompt",
        "auto_reply",
        "pinned",
        "archived",
        "thread",
        "messages",
        "format",
        "stream",
        "stream_options",
        "refresh_token",
        "emoji",
        "email",
        "image_url",
        "url",
        "block_id",
        "type",
        "text",
        "elements",
        "user_id",
        "expires_in_days",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "ééééééé",
            "👍👍👍",
            "\u{0}",
            "   ",
            "javascript:alert(1)",
            "gpt-4o-2024-08-0é",
            "USER",
            "ASSISTANT",
            "echo",
            "experience-layer.thread.v1",
            "0190c0c0-0000-7000-8000-000000000000",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(fields.clone(), inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// Panics anywhere in this test binary since [`count_panics`] was first
/// called (a panic in a background task answers no request, so it shows up
/// here rather than as a 5xx).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() -> usize {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}

/// Issue 15: a small bounded fuzz over the JSON routes; whatever the body,
/// the answer is never a 5xx, and nothing panics, not even in a background
/// task.
#[tokio::test]
async fn fuzzed_json_bodies_never_get_a_5xx() {
    let panics_before = count_panics();
    let app = spawn_app().await;
    let (token, me) = app.user("root@acme.io", Role::Admin).await;
    let thread = data(app.post("/api/v1/threads", &token, &json!({})).await, 201).await;
    let t = thread["id"].as_str().unwrap().to_owned();
    let message = data(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &token,
            &json!({ "content": "hi" }),
        )
        .await,
        201,
    )
    .await;
    let m = message["id"].as_str().unwrap().to_owned();
    let u = me["id"].as_str().unwrap().to_owned();
    let routes: Vec<(Method, String)> = vec![
        (Method::POST, "/api/v1/threads".into()),
        (Method::PATCH, format!("/api/v1/threads/{t}")),
        (Method::POST, "/api/v1/threads/import".into()),
        (Method::POST, format!("/api/v1/threads/{t}/messages")),
        (Method::PUT, format!("/api/v1/messages/{m}")),
        (Method::POST, format!("/api/v1/messages/{m}/reactions")),
        (Method::PUT, format!("/api/v1/users/{u}")),
        (Method::POST, "/api/v1/users".into()),
        (Method::POST, "/api/v1/api-keys".into()),
        (Method::PATCH, "/api/v1/users/me/preferences".into()),
        (Method::POST, "/api/v1/auth/logout".into()),
        (Method::POST, "/api/v1/auth/refresh".into()),
        (Method::POST, "/api/v1/chat/completions".into()),
        (Method::POST, format!("/api/v1/threads/{t}/fork")),
        (Method::POST, format!("/api/v1/threads/{t}/members")),
    ];
    let cases: Vec<(usize, Value)> = {
        // Generated up front (the runner is synchronous), then sent.
        let mut runner = TestRunner::new(Config {
            cases: 1,
            ..Config::default()
        });
        let strategy = (0..routes.len(), arbitrary_json());
        let mut cases: Vec<(usize, Value)> = (0..300)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        // Well-formed chat calls with odd models and text reach the model
        // call and the usage ledger, which random bodies rarely do.
        let chat = routes
            .iter()
            .position(|(_, path)| path.ends_with("/chat/completions"))
            .unwrap();
        let calls = (
            prop_oneof![
                "\\PC{0,16}",
                Just("ééééééé".to_owned()),
                Just("👍👍👍".to_owned())
            ],
            "\\PC{1,40}",
            any::<bool>(),
            0u32..8,
        );
        for _ in 0..40 {
            let (model, content, stream, max_tokens) =
                calls.new_tree(&mut runner).unwrap().current();
            let body = json!({
                "model": model,
                "stream": stream,
                "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": content}],
            });
            cases.push((chat, body));
        }
        cases
    };
    for (route, body) in cases {
        let (method, path) = &routes[route];
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            !status.is_server_error(),
            "{method} {path} with {body} answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    assert_health(&app).await;
    // Usage records are written in background tasks; give the last ones a
    // moment, so a panic there is counted (this waits, it does not synchronise).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(count_panics(), panics_before, "something panicked");
}

async fn assert_health(app: &TestApp) {
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the server is still up");
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_head_is_answered_408_and_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app().await;
    let state = xl_http::AppState {
        services: std::sync::Arc::clone(&app.services),
        config: xl_http::HttpConfig {
            request_head_timeout: std::time::Duration::from_millis(300),
            workers: Some(1),
            ..xl_http::HttpConfig::default()
        },
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(xl_http::server(listener, state).unwrap());
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    // Half a head, then nothing.
    socket
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes the connection")
    .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn json_nested_past_serdes_limit_is_a_400_not_a_crash() {
    let app = crate::helpers::spawn_app().await;
    let (token, _) = app.user("ann@example.com", xl_domain::Role::User).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let body = format!(r#"{{"title": "t", "metadata": {{"x": {deep}}}}}"#);
    let response = app
        .client
        .post(app.url("/api/v1/threads"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_health(&app).await;
}
