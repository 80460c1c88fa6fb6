//! Maps async-openai's errors to [`LlmError`] with messages safe to show a
//! client: never the API key, never more of an upstream body than a short
//! excerpt of its error message.

use async_openai::error::{ApiErrorResponse, OpenAIError, StreamError};
use reqwest::StatusCode;
use serde_json::Value;

use crate::LlmError;

/// The longest upstream excerpt passed on, in characters.
const EXCERPT_CHARS: usize = 200;

/// What the failed call was about, for the statuses whose meaning depends
/// on it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Call<'a> {
    /// A completion for this model: a 404 means the model is unknown.
    Chat { model: &'a str },
    /// The model list: a 404 means the endpoint is missing.
    Models,
}

/// Maps an error of one call; `secret` is scrubbed from any text kept.
pub(crate) fn map_error(err: OpenAIError, call: Call<'_>, secret: &str) -> LlmError {
    match err {
        OpenAIError::ApiError(response) => map_status(&response, call, secret),
        OpenAIError::Reqwest(err) if err.is_timeout() => LlmError::Timeout,
        OpenAIError::Reqwest(err) if err.is_connect() => {
            tracing::warn!(error = %err, "could not connect to the model provider");
            LlmError::Upstream("could not connect to the model provider".into())
        }
        OpenAIError::Reqwest(err) => {
            tracing::warn!(error = %err, "the request to the model provider failed");
            LlmError::Upstream("the connection to the model provider failed".into())
        }
        // The body is in the error too; only serde's description is kept.
        OpenAIError::JSONDeserialize(err, _) => LlmError::Upstream(format!(
            "the model provider sent an unreadable response: {}",
            excerpt(&err.to_string(), secret)
        )),
        OpenAIError::StreamError(err) => map_stream_error(&err, secret),
        OpenAIError::InvalidArgument(message) => {
            LlmError::InvalidRequest(excerpt(&message, secret))
        }
        other => {
            tracing::warn!(error = %other, "the model provider call failed");
            LlmError::Upstream("the model provider call failed".into())
        }
    }
}

fn map_stream_error(err: &StreamError, secret: &str) -> LlmError {
    let detail = match err {
        StreamError::EventStream(message) => excerpt(message, secret),
        StreamError::UnknownEvent(_) => "an unexpected event".to_owned(),
    };
    LlmError::Upstream(format!(
        "the stream from the model provider broke: {detail}"
    ))
}

fn map_status(response: &ApiErrorResponse, call: Call<'_>, secret: &str) -> LlmError {
    let status = response.status_code;
    let api = &response.api_error;
    // async-openai keeps a 5xx body verbatim as the message. Only an
    // OpenAI-shaped error's message is passed on; any other body (an HTML
    // error page, a stack trace) is logged and never shown to the client.
    let message = match serde_json::from_str::<Value>(&api.message)
        .ok()
        .and_then(|body| error_message(&body))
    {
        Some(message) => message,
        None if status.is_server_error() => {
            if !api.message.is_empty() {
                tracing::warn!(%status, body = %excerpt(&api.message, secret), "the model provider sent a non-OpenAI error body");
            }
            String::new()
        }
        None => api.message.clone(),
    };
    let message = excerpt(&message, secret);
    let code = api.code.as_deref().or(api.r#type.as_deref()).unwrap_or("");
    match (status, call) {
        (StatusCode::TOO_MANY_REQUESTS, _) if code == "insufficient_quota" => {
            LlmError::Upstream("the model provider account is out of quota".into())
        }
        (StatusCode::TOO_MANY_REQUESTS, _) => LlmError::RateLimited,
        (StatusCode::NOT_FOUND, Call::Chat { model }) => LlmError::UnknownModel(model.to_owned()),
        (StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY, Call::Chat { .. }) => {
            LlmError::InvalidRequest(message)
        }
        (StatusCode::PAYLOAD_TOO_LARGE, Call::Chat { .. }) => {
            LlmError::InvalidRequest("the request is too large for the model provider".into())
        }
        (StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT, _) => LlmError::Timeout,
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
            // The client's credentials are fine; ours are not, which is a
            // fault of this server, not of the request.
            tracing::error!(%status, %message, "the model provider refused our credentials");
            LlmError::Upstream(format!(
                "the model provider refused our credentials ({status})"
            ))
        }
        _ if message.is_empty() => {
            LlmError::Upstream(format!("the model provider answered {status}"))
        }
        _ => LlmError::Upstream(format!("the model provider answered {status}: {message}")),
    }
}

/// The message of an OpenAI-style error body (`{"error": {"message": …}}`,
/// `{"error": "…"}` or `{"message": …}`).
pub(crate) fn error_message(body: &Value) -> Option<String> {
    let error = body.get("error").unwrap_or(body);
    match error {
        Value::String(message) => Some(message.clone()),
        Value::Object(fields) => fields
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// `text` on one line, without `secret`, cut to [`EXCERPT_CHARS`].
pub(crate) fn excerpt(text: &str, secret: &str) -> String {
    let scrubbed = if secret.len() >= 8 {
        text.replace(secret, "[redacted]")
    } else {
        text.to_owned()
    };
    let one_line = scrubbed.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use async_openai::error::ApiError;
    use serde_json::json;

    use super::*;

    fn api(status: u16, message: &str, code: Option<&str>) -> OpenAIError {
        OpenAIError::ApiError(ApiErrorResponse {
            status_code: StatusCode::from_u16(status).unwrap(),
            api_error: ApiError {
                message: message.to_owned(),
                r#type: None,
                param: None,
                code: code.map(str::to_owned),
                misalignment: None,
            },
        })
    }

    const CHAT: Call<'static> = Call::Chat { model: "gpt-x" };

    #[test]
    fn statuses_map_to_their_variants() {
        assert!(matches!(
            map_error(api(429, "slow down", None), CHAT, ""),
            LlmError::RateLimited
        ));
        assert!(matches!(
            map_error(api(429, "pay up", Some("insufficient_quota")), CHAT, ""),
            LlmError::Upstream(_)
        ));
        assert!(matches!(
            map_error(api(404, "no such model", None), CHAT, ""),
            LlmError::UnknownModel(m) if m == "gpt-x"
        ));
        assert!(matches!(
            map_error(api(404, "not found", None), Call::Models, ""),
            LlmError::Upstream(_)
        ));
        assert!(matches!(
            map_error(api(400, "bad 'temperature'", None), CHAT, ""),
            LlmError::InvalidRequest(m) if m == "bad 'temperature'"
        ));
        assert!(matches!(
            map_error(api(504, "", None), CHAT, ""),
            LlmError::Timeout
        ));
        assert!(matches!(
            map_error(api(500, "", None), CHAT, ""),
            LlmError::Upstream(m) if m == "the model provider answered 500 Internal Server Error"
        ));
    }

    #[test]
    fn messages_are_short_and_never_carry_the_key() {
        let key = "sk-test-1234567890";
        let body = json!({"error": {"message": format!("Incorrect API key provided: {key}")}});
        let err = map_error(api(500, &body.to_string(), None), CHAT, key).to_string();
        assert!(!err.contains(key), "{err}");
        assert!(
            err.contains("Incorrect API key provided: [redacted]"),
            "{err}"
        );
        let auth = map_error(api(401, key, None), CHAT, key).to_string();
        assert!(!auth.contains(key), "{auth}");
        let html = format!("<html>\n{}</html>", "x".repeat(10_000));
        let long = map_error(api(502, &html, None), CHAT, key).to_string();
        assert!(long.len() < 400 && !long.contains('\n'), "{long}");
        // A raw (non-OpenAI) body is never passed on, however short.
        let raw = map_error(api(500, "Traceback: /srv/app.py line 3", None), CHAT, key);
        assert!(
            matches!(&raw, LlmError::Upstream(m) if m == "the model provider answered 500 Internal Server Error"),
            "{raw}"
        );
    }

    #[test]
    fn error_bodies_of_every_shape_give_their_message() {
        assert_eq!(
            error_message(&json!({"error": {"message": "a"}})),
            Some("a".into())
        );
        assert_eq!(error_message(&json!({"error": "b"})), Some("b".into()));
        assert_eq!(error_message(&json!({"message": "c"})), Some("c".into()));
        assert_eq!(error_message(&json!({"error": 1})), None);
    }

    proptest::proptest! {
        /// An upstream message of any text is cut by characters, not bytes.
        #[test]
        fn excerpts_of_any_text_are_cut_on_char_boundaries(
            text in "\\PC{0,400}",
            secret in "\\PC{0,12}",
        ) {
            let cut = excerpt(&text, &secret);
            proptest::prop_assert!(cut.chars().count() <= EXCERPT_CHARS + 1);
        }
    }
}
