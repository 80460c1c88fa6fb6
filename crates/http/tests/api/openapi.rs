//! The OpenAPI document: every route actix serves is in it and nothing else
//! is, it is valid OpenAPI 3.1, and it and the docs answer without a
//! credential.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use actix_web::introspection::IntrospectionTree;
use actix_web::{HttpResponse, web};
use serde_json::Value;
use xl_http::{AppState, HttpConfig};
use xl_llm::{EchoConfig, EchoProvider};
use xl_services::{Services, ServicesConfig};
use xl_store::Store;

use crate::helpers::{TestApp, spawn_app};

/// Where the test's own route reports the route table.
const REPORT: &str = "/__routes";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

async fn state() -> AppState {
    let store = Store::in_memory().await.unwrap();
    let llm = Arc::new(EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: Vec::new(),
    }));
    AppState {
        services: Arc::new(Services::new(store, llm, ServicesConfig::default())),
        config: HttpConfig::default(),
    }
}

async fn report(tree: web::Data<IntrospectionTree>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(tree.report_as_json())
}

/// An actix pattern as OpenAPI writes paths: `{id:.+}` is `{id}`, and a
/// trailing slash is the same route as none (`/api/v1/` is `/api/v1`).
fn openapi_path(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_regex = false;
    for c in pattern.chars() {
        match c {
            ':' if out.ends_with(|c: char| c.is_alphanumeric() || c == '_')
                && out.rfind('{') > out.rfind('}') =>
            {
                in_regex = true;
            }
            '}' => {
                in_regex = false;
                out.push('}');
            }
            _ if in_regex => {}
            _ => out.push(c),
        }
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// Every (method, path) actix routes to a handler, from its own route
/// table. `HEAD` is left out: `head.rs` answers it wherever `GET` is.
async fn served() -> BTreeSet<(String, String)> {
    let app = actix_web::test::init_service(
        xl_http::app(state().await).route(REPORT, web::get().to(report)),
    )
    .await;
    let body = actix_web::test::call_and_read_body(
        &app,
        actix_web::test::TestRequest::get().uri(REPORT).to_request(),
    )
    .await;
    let items: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let mut routes = BTreeSet::new();
    for item in items {
        if item["resource_type"] != "resource" {
            continue;
        }
        let path = openapi_path(item["full_path"].as_str().unwrap());
        if path == REPORT {
            continue;
        }
        assert!(
            item.get("potentially_unreachable").is_none(),
            "{path} may be shadowed by an earlier route: {}",
            item["reachability_notes"]
        );
        let methods = item["methods"].as_array().unwrap();
        assert!(
            !methods.is_empty(),
            "{path} answers any method; register it with .get(), .post(), …"
        );
        for method in methods {
            routes.insert((method.as_str().unwrap().to_ascii_lowercase(), path.clone()));
        }
    }
    routes
}

/// Every (method, path) the document describes.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(*method).is_some() {
                operations.insert(((*method).to_owned(), path.clone()));
            }
        }
    }
    operations
}

#[actix_web::test]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let served = served().await;
    let doc = xl_http::openapi::document(&HttpConfig::default());
    let documented = documented(&doc);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes without an operation in the OpenAPI document (annotate the handler with \
         #[utoipa::path] and list it in openapi/mod.rs): {undocumented:?}\n\
         operations no route serves: {unserved:?}"
    );
    // Sanity: the walk found the route table, not an empty one.
    assert!(served.len() > 90, "only {} routes found", served.len());
}

/// The value a `$ref` within the document points at.
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("{reference} is not a local reference"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"))
}

/// Every `$ref` in a value.
fn references<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference);
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn deref<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => resolve(doc, reference),
        None => value,
    }
}

#[actix_web::test]
async fn the_document_is_valid_openapi_3_1() {
    let doc = xl_http::openapi::document(&HttpConfig::default());
    let text = serde_json::to_string(&doc).unwrap();
    let spec = oas3::from_json(&text).unwrap_or_else(|err| panic!("not OpenAPI 3.1: {err}"));
    assert_eq!(spec.validate_version().unwrap().to_string(), "3.1.0");
    assert!(spec.operations().count() > 90);

    let mut refs = Vec::new();
    references(&doc, &mut refs);
    let unresolved: BTreeSet<&str> = refs
        .into_iter()
        .filter(|r| r.strip_prefix('#').and_then(|p| doc.pointer(p)).is_none())
        .collect();
    assert!(
        unresolved.is_empty(),
        "references that do not resolve: {unresolved:?}"
    );

    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let at = format!("{} {path}", method.to_uppercase());
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no operationId"));
            assert!(
                operation_ids.insert(id.to_owned()),
                "{at}: operationId {id} is not unique"
            );
            let op_tags = operation["tags"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}: no tag"));
            for tag in op_tags {
                assert!(
                    tags.contains(tag.as_str().unwrap()),
                    "{at}: undeclared tag {tag}"
                );
            }

            // Every template parameter is a required path parameter, and
            // every path parameter is in the template.
            let params: Vec<&Value> = operation["parameters"]
                .as_array()
                .map(|list| list.iter().map(|p| deref(&doc, p)).collect())
                .unwrap_or_default();
            let in_template: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split('}').next())
                .collect();
            let declared: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(
                        p["required"], true,
                        "{at}: path parameter {} not required",
                        p["name"]
                    );
                    p["name"].as_str().unwrap()
                })
                .collect();
            assert_eq!(in_template, declared, "{at}: path parameters");
            for param in &params {
                assert!(
                    param.get("schema").is_some(),
                    "{at}: parameter {} has no schema",
                    param["name"]
                );
            }

            if matches!(*method, "put" | "patch") {
                assert!(
                    operation.get("requestBody").is_some(),
                    "{at}: no request body"
                );
            }
            if let Some(body) = operation.get("requestBody") {
                let content = deref(&doc, body)["content"].as_object().unwrap();
                for (media, content) in content {
                    assert!(
                        content.get("schema").is_some(),
                        "{at}: {media} body has no schema"
                    );
                }
            }

            for requirement in operation["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(
                        schemes.contains_key(scheme),
                        "{at}: unknown scheme {scheme}"
                    );
                }
            }

            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.as_str() < "400"),
                "{at}: no success response"
            );
            let openai = op_tags
                .iter()
                .any(|t| t.as_str().unwrap().starts_with("OpenAI"));
            let error_schema = if openai {
                "#/components/schemas/OpenAiErrorBody"
            } else {
                "#/components/schemas/ProblemEnvelope"
            };
            for (status, response) in responses {
                let response = deref(&doc, response);
                assert!(
                    response["description"].is_string(),
                    "{at} {status}: no description"
                );
                if status.as_str() < "400" || (*path == "/docs/{file}" && status == "404") {
                    continue;
                }
                // Every failure has its family's error body.
                let schemas: Vec<&str> = response["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{at} {status}: no body"))
                    .values()
                    .map(|c| c["schema"]["$ref"].as_str().unwrap_or_default())
                    .collect();
                assert!(
                    !schemas.is_empty() && schemas.iter().all(|s| *s == error_schema),
                    "{at} {status}: error body is {schemas:?}, not {error_schema}"
                );
            }
            assert!(responses.contains_key("500"), "{at}: no 500");
            let anonymous = operation["security"]
                .as_array()
                .is_some_and(|list| list.iter().any(|r| r.as_object().unwrap().is_empty()));
            if !anonymous {
                assert!(
                    responses.contains_key("401"),
                    "{at}: authenticated without a 401"
                );
            }
        }
    }
}

/// A GET with no credential.
async fn anonymous(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

#[actix_web::test]
async fn the_document_and_the_docs_answer_without_a_credential() {
    let app = spawn_app().await;
    let response = anonymous(&app, "/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["cookie"]["name"],
        "rpotential_auth"
    );

    for path in ["/docs", "/docs/"] {
        let response = anonymous(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self';")
                && csp.contains("connect-src 'self';")
                && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("swagger-ui-bundle.js"), "{page}");
    }
    let response = anonymous(&app, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(response.bytes().await.unwrap().len() > 100_000);
    let initializer = anonymous(&app, "/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("\"/api/v1/openapi.json\""),
        "{initializer}"
    );
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "{initializer}"
    );
    let missing = anonymous(&app, "/docs/nope.js").await;
    assert_eq!(missing.status(), 404);

    // The exception is the docs' own: the API keeps its policy.
    let api = anonymous(&app, "/api/v1/health").await;
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
}

#[actix_web::test]
async fn the_document_names_the_servers_own_cookie_and_url() {
    let doc = xl_http::openapi::document(&HttpConfig {
        auth_cookie_name: "session".into(),
        public_url: Some("https://chat.example.com/".into()),
        ..HttpConfig::default()
    });
    assert_eq!(
        doc["components"]["securitySchemes"]["cookie"]["name"],
        "session"
    );
    assert_eq!(
        doc["servers"],
        serde_json::json!([{ "url": "https://chat.example.com" }])
    );
}

/// utoipa names a schema after its type, and of two types with one name the
/// document silently keeps one (an envelope's `metadata` once pointed at the
/// Responses API's string pairs). Each `ToSchema` type has its own name,
/// across the crates, unless it says `#[schema(as = …)]`.
#[test]
fn schema_names_are_unique() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    let mut clashes = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("target") && !path.ends_with("tests") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for name in schema_names(&text) {
                let at = path.display().to_string();
                if let Some(first) = seen.insert(name.clone(), at.clone()) {
                    clashes.push(format!("{name}: {first} and {at}"));
                }
            }
        }
    }
    assert!(seen.len() > 100, "found only {} schemas", seen.len());
    assert!(
        clashes.is_empty(),
        "schemas with the same name: {clashes:#?}"
    );
}

/// The schema names a file's `ToSchema` derives give: the type's name, or
/// its `#[schema(as = …)]`.
fn schema_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut pending: Option<Option<String>> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[derive(") && line.contains("ToSchema") {
            pending = Some(None);
            continue;
        }
        let Some(alias) = &mut pending else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("#[schema(as = ") {
            *alias = rest.split([')', '<', ',']).next().map(str::to_owned);
            continue;
        }
        if line.starts_with("#[") || line.starts_with("///") {
            continue;
        }
        let declared = line
            .split_whitespace()
            .skip_while(|word| *word != "struct" && *word != "enum")
            .nth(1)
            .map(|name| {
                name.split(['<', '(', '{', ';'])
                    .next()
                    .unwrap_or(name)
                    .to_owned()
            });
        // `$name` is a macro's (`typed_id!`, `string_enum!`), named where it is used.
        if let Some(name) = alias
            .take()
            .or(declared)
            .filter(|name| !name.starts_with('$'))
        {
            names.push(name);
        }
        pending = None;
    }
    names
}
