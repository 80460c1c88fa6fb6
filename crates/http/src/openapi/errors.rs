//! The failures every operation shares, filled in from its route family:
//! RFC 7807 problems on the envelope routes, OpenAI's error shape on the
//! OpenAI-compatible ones. An annotation names only the failures particular
//! to its route (`(status = 409, description = …)`), without a body; the
//! body is added here, so no route can document the wrong error shape.

use serde_json::{Value, json};

/// One kind of failure, as both families report it.
struct Failure {
    status: u16,
    /// The problem's slug and title (`error.rs`).
    slug: &'static str,
    title: &'static str,
    /// OpenAI's `type` and `code` (`routes/completions.rs`).
    openai_type: &'static str,
    openai_code: Option<&'static str>,
    /// When it happens, in general.
    description: &'static str,
    /// An example `detail` (or OpenAI `message`).
    detail: &'static str,
}

const FAILURES: &[Failure] = &[
    Failure {
        status: 400,
        slug: "invalid-parameter",
        title: "Bad Request",
        openai_type: "invalid_request_error",
        openai_code: None,
        description: "The request is malformed: an id, query parameter or body field is invalid (named in `errors`, or OpenAI's `param`).",
        detail: "invalid thread id",
    },
    Failure {
        status: 401,
        slug: "invalid-token",
        title: "Unauthorized",
        openai_type: "authentication_error",
        openai_code: Some("invalid_token"),
        description: "No credential, or one that is not valid; the problem type says why (`missing-credentials`, `token-expired`, `invalid-signature`, `session-revoked`, …).",
        detail: "the token has expired",
    },
    Failure {
        status: 403,
        slug: "forbidden",
        title: "Forbidden",
        openai_type: "permission_error",
        openai_code: None,
        description: "The caller may not do this, or a state-changing request authenticated by the cookie alone came from an origin that is not allowed.",
        detail: "only administrators may do this",
    },
    Failure {
        status: 404,
        slug: "not-found",
        title: "Not Found",
        openai_type: "not_found_error",
        openai_code: None,
        description: "Nothing here, or nothing the caller may see (never 403, so ids do not leak across users or orgs).",
        detail: "thread not found",
    },
    Failure {
        status: 409,
        slug: "conflict",
        title: "Conflict",
        openai_type: "invalid_request_error",
        openai_code: None,
        description: "The request conflicts with the current state.",
        detail: "the reply is not streaming",
    },
    Failure {
        status: 412,
        slug: "precondition-failed",
        title: "Precondition Failed",
        openai_type: "invalid_request_error",
        openai_code: None,
        description: "`If-Match` names a version that is no longer current.",
        detail: "the artifact is at version 4, not 3",
    },
    Failure {
        status: 413,
        slug: "payload-too-large",
        title: "Payload Too Large",
        openai_type: "invalid_request_error",
        openai_code: Some("payload_too_large"),
        description: "The body is larger than allowed.",
        detail: "request body exceeds the limit of 1048576 bytes",
    },
    Failure {
        status: 415,
        slug: "unsupported-media-type",
        title: "Unsupported Media Type",
        openai_type: "invalid_request_error",
        openai_code: Some("unsupported_media_type"),
        description: "The body is not of the media type the route reads (JSON, or multipart for uploads).",
        detail: "the body must be JSON sent with Content-Type: application/json",
    },
    Failure {
        status: 416,
        slug: "range-not-satisfiable",
        title: "Range Not Satisfiable",
        openai_type: "invalid_request_error",
        openai_code: None,
        description: "The `Range` selects nothing of the file (`Content-Range: bytes */size`).",
        detail: "the range selects nothing of the file's 1024 bytes",
    },
    Failure {
        status: 422,
        slug: "unprocessable-entity",
        title: "Unprocessable Entity",
        openai_type: "invalid_request_error",
        openai_code: None,
        description: "Well-formed JSON with fields that are unknown, missing or of the wrong type, or values the service refuses; every field is named in `errors`.",
        detail: "missing field `content`",
    },
    Failure {
        status: 429,
        slug: "rate-limited",
        title: "Too Many Requests",
        openai_type: "rate_limit_error",
        openai_code: Some("rate_limit_exceeded"),
        description: "Too many requests, here or at the model provider; retry later.",
        detail: "the model provider is rate limiting; retry later",
    },
    Failure {
        status: 500,
        slug: "internal-error",
        title: "Internal Server Error",
        openai_type: "api_error",
        openai_code: None,
        description: "A fault of ours; the cause is logged with the correlation id, never sent.",
        detail: "An unexpected error occurred; quote the trace_id when reporting it.",
    },
    Failure {
        status: 502,
        slug: "bad-gateway",
        title: "Bad Gateway",
        openai_type: "api_error",
        openai_code: Some("upstream_error"),
        description: "The model provider failed.",
        detail: "the model provider failed: upstream answered 500",
    },
    Failure {
        status: 503,
        slug: "service-unavailable",
        title: "Service Unavailable",
        openai_type: "api_error",
        openai_code: None,
        description: "A dependency (the database) is not answering.",
        detail: "the database did not answer within 2 s",
    },
    Failure {
        status: 504,
        slug: "gateway-timeout",
        title: "Gateway Timeout",
        openai_type: "timeout",
        openai_code: Some("timeout"),
        description: "The model provider did not answer in time.",
        detail: "the model provider did not answer in time",
    },
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

/// Adds the shared failures to every operation and bodies to the failures
/// annotations name, and registers the reusable responses.
pub(super) fn complete(doc: &mut Value) {
    for failure in FAILURES {
        doc["components"]["responses"][component(failure, false)] = response(failure, false, None);
        doc["components"]["responses"][component(failure, true)] = response(failure, true, None);
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(*method) {
                complete_operation(path, method, operation);
            }
        }
    }
}

fn complete_operation(path: &str, method: &str, operation: &mut Value) {
    let openai = super::is_openai(operation);
    let anonymous = operation["security"]
        .as_array()
        .is_some_and(|alternatives| {
            alternatives
                .iter()
                .any(|a| a.as_object().is_some_and(|a| a.is_empty()))
        });
    let has_query = operation["parameters"].as_array().is_some_and(|params| {
        params
            .iter()
            .any(|p| p["in"] == "query" || p["in"] == "header")
    });
    let has_body = operation.get("requestBody").is_some();
    let mut shared = vec![429, 500];
    if !anonymous {
        shared.push(401);
        if !openai && method != "get" {
            shared.push(403);
        }
    }
    if path.contains('{') {
        shared.extend([400, 404]);
    }
    if has_query {
        shared.push(400);
    }
    if has_body {
        shared.extend([400, 413, 415]);
        if !openai {
            shared.push(422);
        }
    }
    let responses = &mut operation["responses"];
    // Failures the annotation names: the family's body under its description.
    if let Some(declared) = responses.as_object_mut() {
        for (status, response) in declared.iter_mut() {
            let Some(failure) = status.parse::<u16>().ok().and_then(failure) else {
                continue;
            };
            if response.get("content").is_none() {
                let description = response["description"].as_str().map(str::to_owned);
                *response = self::response(failure, openai, description);
            }
        }
    }
    for status in shared {
        let key = status.to_string();
        if responses.get(&key).is_some() {
            continue;
        }
        if let Some(failure) = failure(status) {
            responses[key] = json!({
                "$ref": format!("#/components/responses/{}", component(failure, openai))
            });
        }
    }
}

fn failure(status: u16) -> Option<&'static Failure> {
    FAILURES.iter().find(|failure| failure.status == status)
}

/// `Problem404`, `OpenAi404`.
fn component(failure: &Failure, openai: bool) -> String {
    let family = if openai { "OpenAi" } else { "Problem" };
    format!("{family}{}", failure.status)
}

/// A failure's response object in one family, with an example body.
fn response(failure: &Failure, openai: bool, description: Option<String>) -> Value {
    let description = description.unwrap_or_else(|| failure.description.to_owned());
    if openai {
        return json!({
            "description": description,
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/OpenAiErrorBody" },
                "example": { "error": {
                    "message": failure.detail,
                    "type": failure.openai_type,
                    "param": if failure.status == 400 { json!("model") } else { Value::Null },
                    "code": failure.openai_code,
                }}
            }}
        });
    }
    let mut error = json!({
        "type": format!("https://experience-layer.dev/problems/{}", failure.slug),
        "title": failure.title,
        "status": failure.status,
        "detail": failure.detail,
        "timestamp": "2026-11-22T01:06:12.447Z",
        "trace_id": "0193f0c4-8e0e-7c2b-9a51-3c8f5b2e7d10",
    });
    if failure.status == 422 {
        error["errors"] = json!({ "content": ["missing field `content`"] });
    }
    json!({
        "description": description,
        "content": { "application/problem+json": {
            "schema": { "$ref": "#/components/schemas/ProblemEnvelope" },
            "example": { "success": false, "error": error }
        }}
    })
}
