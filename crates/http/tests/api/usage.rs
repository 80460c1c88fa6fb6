//! Usage over HTTP: sums per model and per day from the completion records,
//! date and thread filters, the caller's own scope versus an administrator's
//! org, and the boundary between orgs.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use xl_domain::{CompletionId, OrgId, Role, ThreadId, UserId};
use xl_store::repo::completions::{CompletionRecord, insert};

use crate::helpers::{TestApp, data, problem, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|options| {
        options.services.default_model = "echo".into();
        options.services.auto_completion_enabled = false;
    })
    .await
}

struct Person {
    token: String,
    user: UserId,
    org: OrgId,
}

async fn person(app: &TestApp, email: &str, role: Role) -> Person {
    let (token, profile) = app.user(email, role).await;
    Person {
        token,
        user: profile["id"].as_str().unwrap().parse().unwrap(),
        org: profile["org_id"].as_str().unwrap().parse().unwrap(),
    }
}

/// Records a call directly, at a chosen time and cost, as the completions
/// core would have.
async fn record(
    app: &TestApp,
    who: &Person,
    (at, model, status): (&str, &str, &str),
    tokens: (u32, u32),
    cost_micros: u64,
    thread: Option<ThreadId>,
) {
    let created_at: DateTime<Utc> = at.parse().unwrap();
    let tx = app.services.store.begin_write().await.unwrap();
    insert(
        &tx,
        CompletionRecord {
            id: CompletionId::new(),
            org_id: who.org,
            user_id: Some(who.user),
            api_key_id: None,
            thread_id: thread,
            message_id: None,
            model: model.to_owned(),
            provider: "openai".to_owned(),
            stream: false,
            status: status.to_owned(),
            request: json!({}),
            response: None,
            error: None,
            prompt_tokens: tokens.0,
            completion_tokens: tokens.1,
            cost_micros,
            latency_ms: 10,
            first_byte_ms: None,
            created_at,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn usage(app: &TestApp, path: &str, token: &str) -> Value {
    data(app.get(path, token).await, 200).await
}

/// The numbers of one sums object, for compact comparison:
/// (requests, complete, failed, prompt, completion, total, cost µUSD).
fn sums(value: &Value) -> (u64, u64, u64, u64, u64, u64, u64) {
    let n = |key: &str| {
        value[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {value}"))
    };
    (
        n("requests"),
        n("complete"),
        n("failed"),
        n("prompt_tokens"),
        n("completion_tokens"),
        n("total_tokens"),
        n("cost_micros"),
    )
}

/// Two users and an admin in one org, an admin in another, and calls on two
/// days in January 2026.
async fn seeded() -> (TestApp, Person, Person, Person, Person, ThreadId) {
    let app = app().await;
    let ada = person(&app, "ada@example.com", Role::User).await;
    let bob = person(&app, "bob@example.com", Role::User).await;
    let root = person(&app, "root@example.com", Role::Admin).await;
    let eve = person(&app, "eve@other.org", Role::Admin).await;
    let thread = data(
        app.post(
            "/api/v1/threads",
            &ada.token,
            &json!({"title": "t", "auto_reply": false}),
        )
        .await,
        201,
    )
    .await;
    let thread: ThreadId = thread["id"].as_str().unwrap().parse().unwrap();
    let t = Some(thread);
    record(
        &app,
        &ada,
        ("2026-01-01T09:00:00Z", "gpt-4o", "complete"),
        (100, 50),
        750,
        t,
    )
    .await;
    record(
        &app,
        &ada,
        ("2026-01-01T23:59:59Z", "gpt-4o-mini", "complete"),
        (10, 5),
        5,
        None,
    )
    .await;
    // 23:30 at UTC-2 is already the 2nd in UTC.
    record(
        &app,
        &ada,
        ("2026-01-01T23:30:00-02:00", "gpt-4o", "failed"),
        (20, 0),
        50,
        t,
    )
    .await;
    record(
        &app,
        &ada,
        ("2026-01-02T12:00:00Z", "gpt-4o", "cancelled"),
        (1, 1),
        13,
        None,
    )
    .await;
    record(
        &app,
        &bob,
        ("2026-01-02T08:00:00Z", "gpt-4o", "complete"),
        (1000, 100),
        3500,
        None,
    )
    .await;
    record(
        &app,
        &eve,
        ("2026-01-01T10:00:00Z", "gpt-4o", "complete"),
        (1, 1),
        1,
        None,
    )
    .await;
    (app, ada, bob, root, eve, thread)
}

#[tokio::test]
async fn a_user_sees_their_own_calls_per_model_and_day() {
    let (app, ada, _, _, _, _) = seeded().await;
    let report = usage(&app, "/api/v1/usage", &ada.token).await;
    assert_eq!(report["scope"], "user");
    assert_eq!(report["user_id"], ada.user.to_string());
    assert_eq!(report["org_id"], ada.org.to_string());
    assert!(report.get("by_user").is_none());
    let totals = &report["totals"];
    assert_eq!(sums(totals), (4, 2, 1, 131, 56, 187, 818));
    assert_eq!(totals["cancelled"], 1);
    assert_eq!(totals["cost_usd"], 0.000818);

    let by_model = report["by_model"].as_array().unwrap();
    assert_eq!(by_model.len(), 2);
    assert_eq!(by_model[0]["model"], "gpt-4o");
    assert_eq!(sums(&by_model[0]), (3, 1, 1, 121, 51, 172, 813));
    assert_eq!(by_model[1]["model"], "gpt-4o-mini");
    assert_eq!(sums(&by_model[1]), (1, 1, 0, 10, 5, 15, 5));

    let by_day = report["by_day"].as_array().unwrap();
    let days: Vec<&str> = by_day.iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(days, ["2026-01-01", "2026-01-02"]);
    assert_eq!(sums(&by_day[0]), (2, 2, 0, 110, 55, 165, 755));
    assert_eq!(sums(&by_day[1]), (2, 0, 1, 21, 1, 22, 63));
}

#[tokio::test]
async fn dates_and_threads_narrow_the_sums() {
    let (app, ada, _, _, _, thread) = seeded().await;
    let get = |query: String| {
        let app = &app;
        let token = ada.token.clone();
        async move { usage(app, &format!("/api/v1/usage?{query}"), &token).await }
    };
    // A bare date bounds whole UTC days; `to` includes its day.
    let first_day = get("from=2026-01-01&to=2026-01-01".into()).await;
    assert_eq!(sums(&first_day["totals"]).0, 2);
    assert_eq!(first_day["from"], "2026-01-01T00:00:00Z");
    assert_eq!(first_day["to"], "2026-01-02T00:00:00Z");
    let second_day = get("from=2026-01-02".into()).await;
    assert_eq!(sums(&second_day["totals"]).0, 2);
    // Instants are exact, and the end is exclusive.
    let morning = get("from=2026-01-01T09:00:00Z&to=2026-01-01T09:00:01Z".into()).await;
    assert_eq!(sums(&morning["totals"]), (1, 1, 0, 100, 50, 150, 750));
    let before = get("to=2026-01-01T09:00:00Z".into()).await;
    assert_eq!(sums(&before["totals"]).0, 0);
    assert_eq!(before["by_day"], json!([]));
    assert_eq!(before["totals"]["cost_usd"], 0.0);

    let per_thread = get(format!("thread_id={thread}")).await;
    assert_eq!(per_thread["thread_id"], thread.to_string());
    assert_eq!(sums(&per_thread["totals"]), (2, 1, 1, 120, 50, 170, 800));

    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-01-02&to=2026-01-01", "to"),
        ("thread_id=nope", "thread_id"),
    ] {
        let error = problem(
            app.get(&format!("/api/v1/usage?{query}"), &ada.token).await,
            400,
        )
        .await;
        assert!(
            error["errors"].get(field).is_some(),
            "{query} names {field}: {error}"
        );
    }
}

#[tokio::test]
async fn an_admin_sees_their_whole_org_and_nothing_of_another() {
    let (app, ada, bob, root, eve, _) = seeded().await;
    let org = usage(&app, "/api/v1/usage/system", &root.token).await;
    assert_eq!(org["scope"], "org");
    assert_eq!(org["org_id"], root.org.to_string());
    assert!(org["user_id"].is_null());
    assert_eq!(sums(&org["totals"]), (5, 3, 1, 1131, 156, 1287, 4318));
    let by_user = org["by_user"].as_array().unwrap();
    let mut users: Vec<(String, u64)> = by_user
        .iter()
        .map(|u| {
            (
                u["user_id"].as_str().unwrap().to_owned(),
                u["cost_micros"].as_u64().unwrap(),
            )
        })
        .collect();
    users.sort();
    let mut expected = vec![(ada.user.to_string(), 818), (bob.user.to_string(), 3500)];
    expected.sort();
    assert_eq!(users, expected);
    let day2 = &org["by_day"][1];
    assert_eq!(day2["day"], "2026-01-02");
    assert_eq!(sums(day2).0, 3);

    // The other org's admin sees only their org: one call, none of ours.
    let other = usage(&app, "/api/v1/usage/system", &eve.token).await;
    assert_eq!(other["org_id"], eve.org.to_string());
    assert_eq!(sums(&other["totals"]), (1, 1, 0, 1, 1, 2, 1));
    assert_eq!(other["by_user"][0]["user_id"], eve.user.to_string());
    // Filtering by our thread's id shows them nothing either.
    let thread = ThreadId::new();
    let probe = usage(
        &app,
        &format!("/api/v1/usage/system?thread_id={thread}"),
        &eve.token,
    )
    .await;
    assert_eq!(sums(&probe["totals"]).0, 0);

    // A user's own view never includes another user's calls.
    let bobs = usage(&app, "/api/v1/usage", &bob.token).await;
    assert_eq!(sums(&bobs["totals"]), (1, 1, 0, 1000, 100, 1100, 3500));

    // The system view is for administrators; everything needs a credential.
    problem(app.get("/api/v1/usage/system", &ada.token).await, 403).await;
    let anonymous = app
        .client
        .get(app.url("/api/v1/usage"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
}

#[tokio::test]
async fn real_calls_and_messages_are_counted() {
    let app = app().await;
    let ada = person(&app, "ada@example.com", Role::User).await;
    let thread = data(
        app.post(
            "/api/v1/threads",
            &ada.token,
            &json!({"title": "t", "auto_reply": false}),
        )
        .await,
        201,
    )
    .await;
    let thread = thread["id"].as_str().unwrap();
    for content in ["one", "two"] {
        let path = format!("/api/v1/threads/{thread}/messages");
        data(
            app.post(&path, &ada.token, &json!({ "content": content }))
                .await,
            201,
        )
        .await;
    }
    let body = json!({
        "model": "echo",
        "messages": [{"role": "user", "content": "hello there"}],
        "thread_id": thread
    });
    let reply: Value = app
        .post("/api/v1/chat/completions", &ada.token, &body)
        .await
        .json()
        .await
        .unwrap();
    let usage_of_reply = &reply["usage"];

    let today = Utc::now().format("%Y-%m-%d").to_string();
    let report = usage(&app, &format!("/api/v1/usage?from={today}"), &ada.token).await;
    let totals = &report["totals"];
    assert_eq!(totals["requests"], 1);
    assert_eq!(totals["prompt_tokens"], usage_of_reply["prompt_tokens"]);
    assert_eq!(
        totals["completion_tokens"],
        usage_of_reply["completion_tokens"]
    );
    assert_eq!(totals["messages"], 2);
    assert_eq!(report["by_model"][0]["model"], "echo");
    assert_eq!(report["by_day"][0]["day"], today);
    assert_eq!(report["by_day"][0]["messages"], 2);
    let per_thread = usage(
        &app,
        &format!("/api/v1/usage?thread_id={thread}"),
        &ada.token,
    )
    .await;
    assert_eq!(per_thread["totals"]["requests"], 1);
    assert_eq!(per_thread["totals"]["messages"], 2);
}
