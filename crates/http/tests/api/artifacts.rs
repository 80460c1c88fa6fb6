//! Artifacts over HTTP: versions, restore and `If-Match`, content errors
//! named by path, exports (CSV parsed back, PDF opened with a PDF reader),
//! events, who may read and change what, and a `pdf` artifact's file.

use serde_json::{Value, json};
use xl_domain::{Role, ThreadId};

use crate::files::{pdf_with, upload};
use crate::helpers::{TestApp, data, fields, problem, spawn_app};

async fn thread(app: &TestApp, token: &str) -> String {
    let thread = data(
        app.post("/api/v1/threads", token, &json!({ "title": "t" }))
            .await,
        201,
    )
    .await;
    thread["id"].as_str().unwrap().to_owned()
}

/// Signs up a user of the org and makes them a member of the thread.
async fn member(app: &TestApp, owner: &str, thread: &str, email: &str) -> String {
    let (token, profile) = app.user(email, Role::User).await;
    data(
        app.post(
            &format!("/api/v1/threads/{thread}/members"),
            owner,
            &json!({ "user_id": profile["id"] }),
        )
        .await,
        201,
    )
    .await;
    token
}

fn insight(summary: &str) -> Value {
    json!({
        "kind": "insight",
        "title": "Churn",
        "content": {
            "summary": summary,
            "findings": [
                {"text": "EU churn rose 4%", "evidence": "Q3 cohort, \"paid\" plans"},
                {"text": "Onboarding, then pricing"}
            ],
            "confidence": 0.8
        }
    })
}

async fn create_in(app: &TestApp, token: &str, thread: &str, body: &Value) -> Value {
    data(
        app.post(&format!("/api/v1/threads/{thread}/artifacts"), token, body)
            .await,
        201,
    )
    .await
}

async fn put_if(
    app: &TestApp,
    token: &str,
    id: &str,
    if_match: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/artifacts/{id}")))
        .bearer_auth(token)
        .header("If-Match", if_match)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_if(app: &TestApp, token: &str, path: &str, if_match: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("If-Match", if_match)
        .send()
        .await
        .unwrap()
}

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

async fn export(app: &TestApp, token: &str, id: &str, query: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/artifacts/{id}/export?{query}"), token)
        .await
}

async fn bytes(response: reqwest::Response, status: u16) -> Vec<u8> {
    assert_eq!(response.status(), status);
    response.bytes().await.unwrap().to_vec()
}

async fn event_kinds(app: &TestApp, thread: &str) -> Vec<String> {
    let thread: ThreadId = thread.parse().unwrap();
    xl_store::repo::events::after(app.services.store.reader(), thread, 0, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.kind)
        .collect()
}

#[tokio::test]
async fn every_change_is_a_version_guarded_by_if_match() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let response = app
        .post(
            &format!("/api/v1/threads/{thread}/artifacts"),
            &ada,
            &insight("v1"),
        )
        .await;
    assert_eq!(etag(&response), "\"1\"");
    let created = data(response, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created["kind"], "insight");

    let mut v2 = insight("v2");
    v2.as_object_mut().unwrap().remove("kind");
    v2["change_note"] = json!("second look");
    let response = put_if(&app, &ada, &id, "\"1\"", &v2).await;
    assert_eq!(etag(&response), "\"2\"");
    let updated = data(response, 200).await;
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["content"]["summary"], "v2");

    // A writer still holding version 1 is refused, and nothing changes.
    let stale = problem(
        put_if(&app, &ada, &id, "\"1\"", &json!({"title": "lost"})).await,
        412,
    )
    .await;
    assert!(stale["detail"].as_str().unwrap().contains("version 2"));
    let got = app.get(&format!("/api/v1/artifacts/{id}"), &ada).await;
    assert_eq!(etag(&got), "\"2\"");
    assert_eq!(data(got, 200).await["title"], "Churn");
    problem(
        put_if(&app, &ada, &id, "two", &json!({"title": "x"})).await,
        400,
    )
    .await;

    let versions = data(
        app.get(&format!("/api/v1/artifacts/{id}/versions"), &ada)
            .await,
        200,
    )
    .await;
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(versions[0]["change_note"], "second look");
    let first = data(
        app.get(&format!("/api/v1/artifacts/{id}/versions/1"), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(first["content"]["summary"], "v1");
    problem(
        app.get(&format!("/api/v1/artifacts/{id}/versions/9"), &ada)
            .await,
        404,
    )
    .await;
    problem(
        app.get(&format!("/api/v1/artifacts/{id}/versions/zero"), &ada)
            .await,
        400,
    )
    .await;

    // Restoring makes version 1's content current as version 3.
    let restore = format!("/api/v1/artifacts/{id}/versions/1/restore");
    problem(post_if(&app, &ada, &restore, "\"1\"").await, 412).await;
    let restored = data(post_if(&app, &ada, &restore, "\"2\"").await, 200).await;
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["content"]["summary"], "v1");
    let v3 = data(
        app.get(&format!("/api/v1/artifacts/{id}/versions/3"), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(v3["change_note"], "restored from version 1");

    // Deleting is conditional too.
    let delete = |tag: &'static str| {
        app.client
            .delete(app.url(&format!("/api/v1/artifacts/{id}")))
            .bearer_auth(&ada)
            .header("If-Match", tag)
            .send()
    };
    problem(delete("\"2\"").await.unwrap(), 412).await;
    assert_eq!(delete("\"3\"").await.unwrap().status(), 204);
    problem(app.get(&format!("/api/v1/artifacts/{id}"), &ada).await, 404).await;
    assert_eq!(
        event_kinds(&app, &thread).await,
        [
            "artifact.created",
            "artifact.updated",
            "artifact.updated",
            "artifact.deleted"
        ]
    );
}

#[tokio::test]
async fn content_problems_name_their_paths() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let path = format!("/api/v1/threads/{thread}/artifacts");

    let mut bad = insight("s");
    bad["content"]["findings"] = json!([{"text": "a"}, {"text": "b"}, {"text": " "}]);
    bad["content"]["confidence"] = json!(1.5);
    let error = problem(app.post(&path, &ada, &bad).await, 400).await;
    assert_eq!(
        fields(&error),
        ["content.confidence", "content.findings[2].text"]
    );

    let report = json!({"kind": "report", "title": "R", "content": {"sections": [
        {"heading": "Intro", "body_markdown": "ok"},
        {"heading": "", "blocks": [{"type": "divider"}, {"type": "marquee"}]}
    ]}});
    let error = problem(app.post(&path, &ada, &report).await, 400).await;
    assert_eq!(
        fields(&error),
        [
            "content.sections[1].blocks[1].type",
            "content.sections[1].heading"
        ]
    );

    let dashboard = json!({"kind": "dashboard", "title": "D", "content": {"widgets": [
        {"type": "table", "title": "T", "data": {"columns": ["a", "b"], "rows": [[1]]}},
        {"type": "gauge", "title": "G", "data": {}}
    ]}});
    let error = problem(app.post(&path, &ada, &dashboard).await, 400).await;
    assert_eq!(
        fields(&error),
        ["content.widgets[0].data.rows[0]", "content.widgets[1].type"]
    );

    let pdf = json!({"kind": "pdf", "title": "P", "content": {"file_id": "not-an-id"}});
    let error = problem(app.post(&path, &ada, &pdf).await, 400).await;
    assert_eq!(fields(&error), ["content.file_id"]);

    let reference = json!({"kind": "reference", "title": "R", "content": {"url": "javascript:alert(1)", "title": "x"}});
    let error = problem(app.post(&path, &ada, &reference).await, 400).await;
    assert_eq!(fields(&error), ["content.url"]);

    // An unknown kind is the JSON's shape, named as such.
    let error = problem(
        app.post(
            &path,
            &ada,
            &json!({"kind": "poem", "title": "x", "content": {}}),
        )
        .await,
        422,
    )
    .await;
    assert!(error["errors"].get("kind").is_some(), "{error}");

    // An update is checked against the artifact's own kind.
    let created = create_in(&app, &ada, &thread, &insight("s")).await;
    let id = created["id"].as_str().unwrap();
    let error = problem(
        app.put(
            &format!("/api/v1/artifacts/{id}"),
            &ada,
            &json!({"content": {"widgets": []}}),
        )
        .await,
        400,
    )
    .await;
    assert!(error["errors"].get("content.widgets").is_some(), "{error}");
    assert!(error["errors"].get("content.summary").is_some(), "{error}");
}

#[tokio::test]
async fn exports_render_each_version_the_same_way_every_time() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let dashboard = json!({"kind": "dashboard", "title": "Quarterly review", "content": {"widgets": [
        {"type": "metric", "title": "MRR", "data": {"value": 120.5, "unit": "k€", "delta": 3}},
        {"type": "table", "title": "Regions", "data": {
            "columns": ["region", "note"],
            "rows": [["EU, West", "said \"ok\"\nthen left"], ["US", 42]]
        }},
        {"type": "chart", "title": "Trend", "data": {"chart": "line", "labels": ["q1", "q2"],
            "series": [{"name": "revenue", "values": [1.5, null]}]}}
    ]}});
    let created = create_in(&app, &ada, &thread, &dashboard).await;
    let id = created["id"].as_str().unwrap().to_owned();

    let response = export(&app, &ada, &id, "format=csv").await;
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("dashboard-{id}-v1.csv"))
    );
    let csv_bytes = bytes(response, 200).await;
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["widget", "title", "row", "column", "value"]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["1", "Regions", "0", "region", "EU, West"],
            ["1", "Regions", "0", "note", "said \"ok\"\nthen left"],
            ["1", "Regions", "1", "region", "US"],
            ["1", "Regions", "1", "note", "42"],
        ]
    );

    // The PDF opens with a PDF reader and says what it is.
    let response = export(&app, &ada, &id, "format=pdf").await;
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = bytes(response, 200).await;
    assert!(pdf.starts_with(b"%PDF-"));
    let document = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).unwrap();
    assert!(text.contains("Quarterly review"), "{text}");
    assert!(text.contains("Regions"), "{text}");
    assert!(text.contains("EU, West"), "{text}");
    assert_eq!(
        bytes(export(&app, &ada, &id, "format=pdf").await, 200).await,
        pdf
    );

    // A new version renders differently; the old one still renders as before.
    let mut changed = dashboard.clone();
    changed.as_object_mut().unwrap().remove("kind");
    changed["title"] = json!("Quarterly review, revised");
    data(
        app.put(&format!("/api/v1/artifacts/{id}"), &ada, &changed)
            .await,
        200,
    )
    .await;
    let current = bytes(export(&app, &ada, &id, "format=pdf").await, 200).await;
    assert_ne!(current, pdf);
    assert_eq!(
        bytes(export(&app, &ada, &id, "format=pdf&version=1").await, 200).await,
        pdf
    );
    assert_eq!(
        bytes(export(&app, &ada, &id, "format=csv&version=1").await, 200).await,
        csv_bytes
    );

    // JSON is the version as stored.
    let json_export: Value = serde_json::from_slice(
        &bytes(export(&app, &ada, &id, "format=json&version=1").await, 200).await,
    )
    .unwrap();
    assert_eq!(json_export["version"], 1);
    assert_eq!(json_export["title"], "Quarterly review");
    assert_eq!(json_export["content"], dashboard["content"]);

    // An insight's findings are its rows; a report has none.
    let insight_id = create_in(&app, &ada, &thread, &insight("s")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let csv_bytes = bytes(export(&app, &ada, &insight_id, "format=csv").await, 200).await;
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        &rows[0],
        vec!["0", "EU churn rose 4%", "Q3 cohort, \"paid\" plans"]
    );
    let pdf = bytes(export(&app, &ada, &insight_id, "format=pdf").await, 200).await;
    let document = lopdf::Document::load_mem(&pdf).unwrap();
    assert!(document.extract_text(&[1]).unwrap().contains("Churn"));

    let report = json!({"kind": "report", "title": "Notes", "content": {"sections": [
        {"heading": "Intro", "body_markdown": "# Hello\n- one\n- two",
         "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "From blocks"}}]}
    ]}});
    let report_id = create_in(&app, &ada, &thread, &report).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let error = problem(export(&app, &ada, &report_id, "format=csv").await, 422).await;
    assert!(error["errors"].get("format").is_some());
    let pdf = bytes(export(&app, &ada, &report_id, "format=pdf").await, 200).await;
    let text = lopdf::Document::load_mem(&pdf)
        .unwrap()
        .extract_text(&[1])
        .unwrap();
    assert!(
        text.contains("Intro") && text.contains("From blocks"),
        "{text}"
    );
    problem(export(&app, &ada, &report_id, "format=docx").await, 400).await;
}

#[tokio::test]
async fn a_long_table_spans_pages_and_still_parses() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let rows: Vec<Value> = (0..150).map(|i| json!([format!("row {i}"), i])).collect();
    let body = json!({"kind": "dashboard", "title": "Long", "content": {"widgets": [
        {"type": "table", "title": "Many", "data": {"columns": ["name", "n"], "rows": rows}}
    ]}});
    let id = create_in(&app, &ada, &thread, &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pdf = bytes(export(&app, &ada, &id, "format=pdf").await, 200).await;
    let document = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    assert!(pages.len() > 1);
    let last = document.extract_text(&[*pages.last().unwrap()]).unwrap();
    assert!(last.contains("row 149"), "{last}");
}

async fn get(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/artifacts/{id}"), token).await
}

async fn rename(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.put(
        &format!("/api/v1/artifacts/{id}"),
        token,
        &json!({"title": "renamed"}),
    )
    .await
}

#[tokio::test]
async fn who_may_read_and_change_artifacts() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let bob = member(&app, &ada, &thread, "bob@acme.io").await;
    let carol = member(&app, &ada, &thread, "carol@acme.io").await;
    let (eve, _) = app.user("eve@acme.io", Role::User).await;
    let (boss, _) = app.user("boss@acme.io", Role::Admin).await;
    let (mallory, _) = app.user("admin@other.org", Role::Admin).await;

    // Bob, a member, makes one in the thread; Ada keeps one of her own.
    let in_thread = create_in(&app, &bob, &thread, &insight("bob's")).await;
    let shared = in_thread["id"].as_str().unwrap().to_owned();
    let own = data(
        app.post("/api/v1/artifacts", &ada, &insight("ada's")).await,
        201,
    )
    .await;
    assert!(own["thread_id"].is_null());
    let own = own["id"].as_str().unwrap().to_owned();

    // Whoever may read the thread reads its artifacts.
    for token in [&ada, &bob, &carol, &boss] {
        data(get(&app, token, &shared).await, 200).await;
        let list = data(
            app.get(&format!("/api/v1/threads/{thread}/artifacts"), token)
                .await,
            200,
        )
        .await;
        assert_eq!(list.as_array().unwrap().len(), 1);
    }
    // The creator, the thread's owner and an admin change them; another member may not.
    for token in [&bob, &ada, &boss] {
        data(rename(&app, token, &shared).await, 200).await;
    }
    problem(rename(&app, &carol, &shared).await, 403).await;
    problem(
        app.delete(&format!("/api/v1/artifacts/{shared}"), &carol)
            .await,
        403,
    )
    .await;
    // Outside the thread, or outside the org, it does not exist.
    for token in [&eve, &mallory] {
        problem(get(&app, token, &shared).await, 404).await;
        problem(rename(&app, token, &shared).await, 404).await;
        problem(
            app.delete(&format!("/api/v1/artifacts/{shared}"), token)
                .await,
            404,
        )
        .await;
        problem(
            app.get(&format!("/api/v1/artifacts/{shared}/versions"), token)
                .await,
            404,
        )
        .await;
        problem(export(&app, token, &shared, "format=pdf").await, 404).await;
        problem(
            app.post(
                &format!("/api/v1/artifacts/{shared}/versions/1/restore"),
                token,
                &json!({}),
            )
            .await,
            404,
        )
        .await;
        problem(
            app.get(&format!("/api/v1/threads/{thread}/artifacts"), token)
                .await,
            404,
        )
        .await;
        problem(
            app.post(
                &format!("/api/v1/threads/{thread}/artifacts"),
                token,
                &insight("x"),
            )
            .await,
            404,
        )
        .await;
    }

    // An artifact outside a thread is its owner's, and the org's admins'.
    for token in [&bob, &eve, &mallory] {
        problem(get(&app, token, &own).await, 404).await;
        problem(rename(&app, token, &own).await, 404).await;
    }
    data(get(&app, &boss, &own).await, 200).await;
    data(rename(&app, &ada, &own).await, 200).await;

    // Everyone's own list holds what they created, filtered by kind and thread.
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&data(app.get("/api/v1/artifacts", &ada).await, 200).await),
        std::slice::from_ref(&own)
    );
    assert_eq!(
        ids(&data(app.get("/api/v1/artifacts", &bob).await, 200).await),
        std::slice::from_ref(&shared)
    );
    assert!(ids(&data(app.get("/api/v1/artifacts", &mallory).await, 200).await).is_empty());
    let by_thread = format!("/api/v1/artifacts?thread={thread}");
    assert!(ids(&data(app.get(&by_thread, &ada).await, 200).await).is_empty());
    assert_eq!(
        ids(&data(app.get(&by_thread, &bob).await, 200).await),
        std::slice::from_ref(&shared)
    );
    assert!(ids(&data(app.get("/api/v1/artifacts?kind=report", &bob).await, 200).await).is_empty());
    problem(app.get("/api/v1/artifacts?kind=poem", &bob).await, 400).await;

    // An admin of the org deletes what they may see; then it is gone for all.
    assert_eq!(
        app.delete(&format!("/api/v1/artifacts/{shared}"), &boss)
            .await
            .status(),
        204
    );
    problem(get(&app, &bob, &shared).await, 404).await;
}

#[tokio::test]
async fn lists_page_with_a_cursor() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    for n in 0..5 {
        data(
            app.post("/api/v1/artifacts", &ada, &insight(&format!("n{n}")))
                .await,
            201,
        )
        .await;
    }
    let first = app.get("/api/v1/artifacts?limit=3", &ada).await;
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    assert_eq!(body["pagination"]["has_more"], true);
    let cursor = body["pagination"]["next_cursor"].as_str().unwrap();
    let rest = data(
        app.get(&format!("/api/v1/artifacts?limit=3&cursor={cursor}"), &ada)
            .await,
        200,
    )
    .await;
    let summaries: Vec<&str> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["content"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["n1", "n0"]);
}

fn pdf_artifact(file: &Value) -> Value {
    json!({"kind": "pdf", "title": "Board deck", "content": {"file_id": file["id"], "title": "Q3"}})
}

fn content_path(file: &Value) -> String {
    format!("/api/v1/files/{}/content", file["id"].as_str().unwrap())
}

#[tokio::test]
async fn a_pdf_artifact_links_only_a_pdf_its_creator_can_read() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (carol, _) = app.user("carol@acme.io", Role::User).await;
    let adas = thread(&app, &ada).await;
    let carols = thread(&app, &carol).await;
    let path = |thread: &str| format!("/api/v1/threads/{thread}/artifacts");
    let file = upload(&app, &ada, "deck.pdf", pdf_with("Board deck")).await;
    let notes = upload(&app, &ada, "notes.md", b"# notes\n".to_vec()).await;

    // Not someone else's upload, not another type, not a file that does not exist.
    let error = problem(
        app.post(&path(&carols), &carol, &pdf_artifact(&file)).await,
        400,
    )
    .await;
    assert_eq!(fields(&error), ["content.file_id"]);
    let error = problem(
        app.post(&path(&adas), &ada, &pdf_artifact(&notes)).await,
        400,
    )
    .await;
    assert_eq!(fields(&error), ["content.file_id"]);
    let nowhere = json!({"id": xl_domain::FileId::new().to_string()});
    let error = problem(
        app.post(&path(&adas), &ada, &pdf_artifact(&nowhere)).await,
        400,
    )
    .await;
    assert_eq!(fields(&error), ["content.file_id"]);
    // Nor can an update swap one in.
    let own = upload(&app, &carol, "mine.pdf", pdf_with("Mine")).await;
    let carols_deck = create_in(&app, &carol, &carols, &pdf_artifact(&own)).await;
    let error = problem(
        app.put(
            &format!("/api/v1/artifacts/{}", carols_deck["id"].as_str().unwrap()),
            &carol,
            &json!({"content": {"file_id": file["id"]}}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&error), ["content.file_id"]);
    problem(app.get(&content_path(&file), &carol).await, 404).await;
    // A file deleted since cannot be linked either.
    let gone = file["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/files/{gone}"), &ada)
            .await
            .status(),
        204
    );
    problem(
        app.post(&path(&adas), &ada, &pdf_artifact(&file)).await,
        400,
    )
    .await;
}

#[tokio::test]
async fn whoever_reads_a_pdf_artifact_reads_its_file() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let bob = member(&app, &ada, &thread, "bob@acme.io").await;
    let (carol, _) = app.user("carol@acme.io", Role::User).await;
    let (boss, _) = app.user("boss@acme.io", Role::Admin).await;
    let (mallory, _) = app.user("admin@other.org", Role::Admin).await;
    let deck = pdf_with("Board deck Q3");
    let file = upload(&app, &ada, "deck.pdf", deck.clone()).await;
    let content = content_path(&file);
    problem(app.get(&content, &bob).await, 404).await;

    // Linked from an artifact in the thread: its readers read the file.
    let artifact = create_in(&app, &ada, &thread, &pdf_artifact(&file)).await;
    for token in [&ada, &bob, &boss] {
        assert_eq!(bytes(app.get(&content, token).await, 200).await, deck);
        data(
            app.get(
                &format!("/api/v1/files/{}", file["id"].as_str().unwrap()),
                token,
            )
            .await,
            200,
        )
        .await;
    }
    for token in [&carol, &mallory] {
        problem(app.get(&content, token).await, 404).await;
    }

    // Outside a thread: the owner and the org's admins, as for the artifact.
    let appendix = upload(&app, &ada, "appendix.pdf", pdf_with("Appendix")).await;
    data(
        app.post("/api/v1/artifacts", &ada, &pdf_artifact(&appendix))
            .await,
        201,
    )
    .await;
    assert_eq!(app.get(&content_path(&appendix), &boss).await.status(), 200);
    for token in [&bob, &carol, &mallory] {
        problem(app.get(&content_path(&appendix), token).await, 404).await;
    }

    // A deleted artifact lends nothing.
    let id = artifact["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/artifacts/{id}"), &ada)
            .await
            .status(),
        204
    );
    problem(app.get(&content, &bob).await, 404).await;
}

#[tokio::test]
async fn a_pdf_artifact_exports_as_its_uploaded_file() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let thread = thread(&app, &ada).await;
    let bob = member(&app, &ada, &thread, "bob@acme.io").await;
    let (carol, _) = app.user("carol@acme.io", Role::User).await;
    let deck = pdf_with("Board deck Q3");
    let file = upload(&app, &ada, "deck.pdf", deck.clone()).await;
    let artifact = create_in(&app, &ada, &thread, &pdf_artifact(&file)).await;
    let id = artifact["id"].as_str().unwrap().to_owned();

    // The file's own bytes, named and tagged like any other export.
    let response = export(&app, &bob, &id, "format=pdf").await;
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"pdf-{id}-v1.pdf\"").as_str()
    );
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(bytes(response, 200).await, deck);
    problem(export(&app, &carol, &id, "format=pdf").await, 404).await;

    // Once the file is deleted the export says so (409: the artifact is
    // there, its file is not); the JSON export still works.
    let file_id = file["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/files/{file_id}"), &ada)
            .await
            .status(),
        204
    );
    let error = problem(export(&app, &bob, &id, "format=pdf").await, 409).await;
    assert!(
        error["detail"].as_str().unwrap().contains(file_id),
        "{error}"
    );
    bytes(export(&app, &bob, &id, "format=json").await, 200).await;
}
