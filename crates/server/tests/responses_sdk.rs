//! OpenAI's Responses and Conversations APIs, proved with the official SDKs:
//! `scripts/sdk/responses_check.py` (Python `openai`) and
//! `scripts/sdk/responses_check.mjs` (Node `openai`) drive a real `xl`
//! server whose OpenAI upstream is a local mock with a *behavioural* script
//! (what it answers depends on the prompt it gets, see [`answer`]), so the
//! scripts can tell from a reply what reached the model: chained and
//! conversation context, tool calls and their outputs.
//!
//! Without Python and its SDK, or Node and the SDK `npm ci --prefix
//! scripts/sdk` installs, a test is skipped with a message, except under CI
//! (`CI` set), where that is a failure: `.ci/run` installs both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The mock OpenAI upstream of xl-llm's tests, shared rather than copied.
#[allow(dead_code)]
#[path = "../../llm/tests/openai/mock.rs"]
mod mock_upstream;
mod support;

use std::time::Duration;

use mock_upstream::{Mock, Reply, Seen, Step, chunk, completion, error, text, usage_chunk};
use serde_json::{Value, json};
use support::{Server, node_sdk_missing, python_sdk_missing, repo_root, run_checks, skip_without};

/// What the user posts through the thread API, before the scripts run.
const THREAD_TEXT: &str = "posted through the thread API";

/// How many words a reply to a prompt with `slow` in it has.
const SLOW_WORDS: usize = 40;
/// The pause between two chunks of such a reply.
const SLOW_PAUSE: Duration = Duration::from_millis(100);
/// The pause between two chunks of any other streamed reply: a model
/// writes as it goes, so a stream arrives as several deltas (the server
/// joins the chunks that arrive together into one).
const QUICK_PAUSE: Duration = Duration::from_millis(25);

/// Every line both scripts print when the server does what OpenAI documents.
const CHECKS: &[&str] = &[
    "create: output_text",
    "create: status completed",
    "create: usage",
    "create: id resp_",
    "create: output message item msg_",
    "stream: typed events",
    "stream: response.created first",
    "stream: response.completed last",
    "stream: event order",
    "stream: sequence_number 0, 1, 2, ...",
    "stream: deltas make the text",
    "chain: previous_response_id reaches the model",
    "input_items: the response's input message",
    "tool: function_call get_weather",
    "tool: function_call_output reaches the model",
    "tool stream: response.function_call_arguments.done",
    "conversation: create",
    "conversation: items.create",
    "conversation: reply sees the added item",
    "conversation: items.list in order",
    "conversation: retrieve",
    "conversation: update metadata",
    "conversation: items.retrieve",
    "conversation as thread: GET /threads/{uuid}",
    "conversation as thread: messages",
    "cross-org: conversation NotFoundError",
    "cross-org: response NotFoundError",
    "conversation: items.delete",
    "conversation: delete",
    "conversation: retrieve after delete NotFoundError",
    "thread: messages of the thread API",
    "thread as conversation: retrieve",
    "thread as conversation: items",
    "cancel: background response queued or in progress",
    "cancel: status cancelled",
    "cancel: retrieve says cancelled",
    "resume: first events before the drop",
    "resume: sequence_number 0, 1, 2, ... before the drop",
    "resume: continues at last + 1",
    "resume: no gaps or duplicates",
    "resume: response.completed last",
    "resume: deltas make the final text",
    "delete: retrieve NotFoundError",
    "all checks passed",
];

// ---- The behavioural upstream -------------------------------------------

/// What the upstream answers a chat-completions request with.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A call of the named function with `{"city":"Paris"}`.
    ToolCall(String),
    /// Text; a slow one is streamed with a pause between chunks.
    Text { text: String, slow: bool },
}

/// The id of the tool call the upstream makes.
const CALL_ID: &str = "call_1";
/// The arguments of that call.
const CALL_ARGUMENTS: &str = r#"{"city":"Paris"}"#;

fn role(message: &Value) -> &str {
    message["role"].as_str().unwrap_or("")
}

/// A message's text, whether its content is a string or a list of parts.
fn message_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The behaviour:
/// - tools offered and the last message the user's: a call of the first
///   tool (`call_1`, `{"city":"Paris"}`);
/// - the last message a tool's: `The tool said: <its content>`;
/// - otherwise `Echo: <the last user message>`, followed by
///   ` (after: <the user message before it>)` when there is one, so a reply
///   shows what context reached the model.
///
/// A last user message with the word `slow` in it gets a reply of
/// [`SLOW_WORDS`] words, paced.
fn answer(body: &Value) -> Answer {
    let messages = body["messages"].as_array().map_or(&[][..], Vec::as_slice);
    let last = messages.last();
    if let (Some(tool), Some(last)) = (body["tools"][0]["function"]["name"].as_str(), last)
        && role(last) == "user"
    {
        return Answer::ToolCall(tool.to_owned());
    }
    if let Some(last) = last.filter(|m| role(m) == "tool") {
        return Answer::Text {
            text: format!("The tool said: {}", message_text(last)),
            slow: false,
        };
    }
    let users: Vec<String> = messages
        .iter()
        .filter(|m| role(m) == "user")
        .map(message_text)
        .collect();
    let current = users.last().map_or("", String::as_str);
    let mut text = format!("Echo: {current}");
    if let [.., previous, _] = users.as_slice() {
        text.push_str(&format!(" (after: {previous})"));
    }
    let slow = current
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case("slow"));
    if slow {
        for n in text.split_whitespace().count() + 1..=SLOW_WORDS {
            text.push_str(&format!(" {n}"));
        }
    }
    Answer::Text { text, slow }
}

/// Word-sized pieces of `text` (each but the first with its leading
/// space), which join back to `text`.
fn pieces(text: &str) -> Vec<String> {
    text.split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

/// A rough prompt size, never 0.
fn prompt_tokens(body: &Value) -> u32 {
    let words: usize = body["messages"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|m| message_text(m).split_whitespace().count() + 1)
        .sum();
    u32::try_from(words.max(1)).unwrap_or(u32::MAX)
}

/// The assistant message of a tool call.
fn tool_call_message(name: &str) -> Value {
    json!({
        "role": "assistant",
        "content": null,
        "refusal": null,
        "tool_calls": [{
            "id": CALL_ID,
            "type": "function",
            "function": {"name": name, "arguments": CALL_ARGUMENTS}
        }]
    })
}

/// The upstream's script: models for `GET /models`, [`answer`]s for chat
/// completions, whole or streamed as OpenAI does.
fn behave(_: usize, seen: &Seen) -> Reply {
    if seen.path.ends_with("/models") {
        return Reply::Json(
            200,
            json!({"object": "list", "data": [
                {"id": "gpt-4o", "object": "model", "created": 1_715_367_049, "owned_by": "system"},
                {"id": "gpt-4o-mini", "object": "model", "created": 1_721_172_741, "owned_by": "system"}
            ]}),
        );
    }
    if !seen.path.ends_with("/chat/completions") {
        return Reply::Json(
            404,
            error(
                &format!("no route {}", seen.path),
                "invalid_request_error",
                None,
            ),
        );
    }
    let body = &seen.body;
    let prompt = prompt_tokens(body);
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let streamed = body["stream"] == json!(true);
    match answer(body) {
        Answer::ToolCall(name) if streamed => {
            let mut steps = vec![
                chunk(
                    json!({"role": "assistant", "content": null, "tool_calls": [{
                        "index": 0, "id": CALL_ID, "type": "function",
                        "function": {"name": name, "arguments": ""}
                    }]}),
                    None,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                    None,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                    None,
                ),
                chunk(json!({}), Some("tool_calls")),
            ];
            if include_usage {
                steps.push(usage_chunk(prompt, 8));
            }
            steps.push(Step::Raw("[DONE]"));
            Reply::Sse(steps)
        }
        Answer::ToolCall(name) => {
            let mut whole = completion("", Some((prompt, 8)));
            whole["choices"][0]["message"] = tool_call_message(&name);
            whole["choices"][0]["finish_reason"] = json!("tool_calls");
            Reply::Json(200, whole)
        }
        Answer::Text { text: reply, slow } => {
            let pieces = pieces(&reply);
            let generated = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
            if !streamed {
                let whole = Reply::Json(200, completion(&reply, Some((prompt, generated))));
                return if slow {
                    Reply::Delayed(SLOW_PAUSE * generated, Box::new(whole))
                } else {
                    whole
                };
            }
            let mut steps = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    steps.push(Step::Pause(if slow { SLOW_PAUSE } else { QUICK_PAUSE }));
                }
                steps.push(text(piece));
            }
            steps.push(chunk(json!({}), Some("stop")));
            if include_usage {
                steps.push(usage_chunk(prompt, generated));
            }
            steps.push(Step::Raw("[DONE]"));
            Reply::Sse(steps)
        }
    }
}

// ---- The server and what the scripts start from --------------------------

/// A server over the behavioural upstream, with everything the scripts
/// take as arguments.
struct Setup {
    // Dropped in order: the server before the upstream it calls, the
    // runtime serving the upstream last.
    server: Server,
    _mock: Mock,
    _runtime: tokio::runtime::Runtime,
    key: String,
    other_org_key: String,
    thread_id: String,
}

impl Setup {
    fn start() -> Setup {
        // The upstream is served by this runtime's threads while the test's
        // own thread waits for a script.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mock = runtime.block_on(Mock::start(behave));
        let server = Server::start(&[
            ("OPENAI_API_KEY", mock_upstream::KEY),
            // With `/v1`, as OpenAI's own base URL has it.
            ("OPENAI_BASE_URL", &mock.base_url),
            ("OPENAI_MAX_RETRIES", "0"),
            ("DEFAULT_AI_MODEL", "gpt-4o"),
        ]);
        let (key, other_org_key, thread_id) = runtime.block_on(async {
            server.ready().await;
            let key = server.api_key("sdk@example.com", "SDK").await;
            // Another mail domain is another org.
            let other = server.api_key("other@another-company.test", "Other").await;
            let thread = thread_with_a_message(&server, &key).await;
            (key, other, thread)
        });
        Setup {
            server,
            _mock: mock,
            _runtime: runtime,
            key,
            other_org_key,
            thread_id,
        }
    }

    fn run(&self, program: &str, script: &str) {
        let stdout = run_checks(
            program,
            &repo_root().join(script),
            &[
                &self.server.api(),
                &self.key,
                &self.other_org_key,
                &self.thread_id,
            ],
            CHECKS,
        );
        eprintln!("{stdout}");
    }
}

/// A thread made through the thread API, with [`THREAD_TEXT`] posted and
/// answered (through the upstream, so this also proves the server uses it);
/// its id.
async fn thread_with_a_message(server: &Server, key: &str) -> String {
    let client = xl_services::http_client();
    let response = client
        .post(server.url("/threads"))
        .bearer_auth(key)
        .json(&json!({"title": "Made through the thread API"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let thread: Value = response.json().await.unwrap();
    let id = thread["data"]["id"].as_str().unwrap().to_owned();
    let response = client
        .post(server.url(&format!("/threads/{id}/messages?reply=sync")))
        .bearer_auth(key)
        .json(&json!({"content": THREAD_TEXT}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let posted: Value = response.json().await.unwrap();
    assert_eq!(posted["data"]["userMessage"]["content"], THREAD_TEXT);
    assert_eq!(
        posted["data"]["assistantMessage"]["content"],
        format!("Echo: {THREAD_TEXT}"),
        "the server's reply comes from the behavioural upstream: {posted}"
    );
    id
}

#[test]
fn the_official_python_sdk_drives_responses_and_conversations() {
    if skip_without(
        python_sdk_missing(),
        "the openai Python package",
        "python3 -m pip install openai",
    ) {
        return;
    }
    Setup::start().run("python3", "scripts/sdk/responses_check.py");
}

#[test]
fn the_official_node_sdk_drives_responses_and_conversations() {
    if skip_without(
        node_sdk_missing(),
        "Node.js with the openai package of scripts/sdk",
        "npm ci --prefix scripts/sdk",
    ) {
        return;
    }
    Setup::start().run("node", "scripts/sdk/responses_check.mjs");
}

// ---- The upstream behaves as the scripts expect ---------------------------

mod upstream {
    use std::time::Instant;

    use futures_util::StreamExt;
    use xl_llm::{
        ChatChunk, ChatMessage, ChatProvider, ChatRequest, FinishReason, FunctionCall,
        FunctionDefinition, Tool, ToolCall, ToolKind,
    };

    use super::*;

    fn weather_tool() -> Tool {
        Tool {
            kind: ToolKind::Function,
            function: FunctionDefinition {
                name: "get_weather".into(),
                description: None,
                parameters: Some(
                    json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                ),
                strict: None,
            },
        }
    }

    /// What a provider streams, gathered: the text, the tool call (id,
    /// name, arguments) if any, why it finished, the usage and how many
    /// text deltas came, and when the first and last did.
    #[derive(Debug, Default)]
    struct Gathered {
        text: String,
        deltas: usize,
        call: Option<(String, String, String)>,
        finish: Option<FinishReason>,
        usage: Option<xl_llm::Usage>,
        first_delta: Option<Instant>,
        last_delta: Option<Instant>,
    }

    async fn gather(mock: &Mock, request: &ChatRequest) -> Gathered {
        let mut stream = mock.provider().stream(request).await.unwrap();
        let mut gathered = Gathered::default();
        while let Some(chunk) = stream.next().await {
            match chunk.unwrap() {
                ChatChunk::Delta(piece) => {
                    gathered.text.push_str(&piece);
                    gathered.deltas += 1;
                    gathered.first_delta.get_or_insert_with(Instant::now);
                    gathered.last_delta = Some(Instant::now());
                }
                ChatChunk::Choice(choice) => {
                    for delta in choice.delta.tool_calls {
                        let call = gathered.call.get_or_insert_default();
                        if let Some(id) = delta.id {
                            call.0 = id;
                        }
                        if let Some(function) = delta.function {
                            call.1.push_str(&function.name.unwrap_or_default());
                            call.2.push_str(&function.arguments.unwrap_or_default());
                        }
                    }
                    if let Some(content) = choice.delta.content {
                        gathered.text.push_str(&content);
                    }
                }
                ChatChunk::Finish { reason, usage } => {
                    gathered.finish = Some(reason);
                    gathered.usage = usage;
                }
            }
        }
        gathered
    }

    #[tokio::test]
    async fn text_echoes_the_last_user_message_and_names_the_one_before() {
        let mock = Mock::start(behave).await;
        let alone = ChatRequest::new(
            "gpt-4o",
            vec![ChatMessage::system("be brief"), ChatMessage::user("hello")],
        );
        let whole = mock.provider().complete(&alone).await.unwrap();
        assert_eq!(whole.content(), "Echo: hello");
        assert_eq!(whole.finish_reason(), FinishReason::Stop);
        assert!(whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0);

        let chained = ChatRequest::new(
            "gpt-4o",
            vec![
                ChatMessage::user("my name is Ada"),
                ChatMessage::assistant("Echo: my name is Ada"),
                ChatMessage::user("what is my name?"),
            ],
        );
        let expected = "Echo: what is my name? (after: my name is Ada)";
        let whole = mock.provider().complete(&chained).await.unwrap();
        assert_eq!(whole.content(), expected);
        let streamed = gather(&mock, &chained).await;
        assert_eq!(streamed.text, expected);
        assert_eq!(streamed.deltas, 10, "word by word: {streamed:?}");
        assert_eq!(streamed.finish, Some(FinishReason::Stop));
        assert!(streamed.usage.unwrap().prompt_tokens > 0);
        // Content as a list of parts, as a translation of input items may send it.
        let parts = json!({"model": "gpt-4o", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first"}]},
            {"role": "user", "content": [{"type": "text", "text": "second"}]}
        ]});
        assert_eq!(
            answer(&parts),
            Answer::Text {
                text: "Echo: second (after: first)".into(),
                slow: false
            }
        );
    }

    #[tokio::test]
    async fn offered_tools_are_called_and_a_tool_result_is_answered() {
        let mock = Mock::start(behave).await;
        let ask = ChatRequest {
            tools: vec![weather_tool()],
            ..ChatRequest::new(
                "gpt-4o",
                vec![ChatMessage::user("What is the weather in Paris?")],
            )
        };
        let whole = mock.provider().complete(&ask).await.unwrap();
        assert_eq!(whole.finish_reason(), FinishReason::ToolCalls);
        let calls = &whole.choices[0].message.tool_calls;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].id, "call_1");
        assert_eq!(calls[0].function.name, "get_weather");
        assert_eq!(
            serde_json::from_str::<Value>(&calls[0].function.arguments).unwrap(),
            json!({"city": "Paris"})
        );
        let streamed = gather(&mock, &ask).await;
        assert_eq!(streamed.finish, Some(FinishReason::ToolCalls));
        assert_eq!(
            streamed.call,
            Some((
                "call_1".into(),
                "get_weather".into(),
                r#"{"city":"Paris"}"#.into()
            ))
        );
        assert_eq!(streamed.text, "");

        let answered = ChatRequest {
            messages: vec![
                ChatMessage::user("What is the weather in Paris?"),
                ChatMessage {
                    content: None,
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        kind: ToolKind::Function,
                        function: FunctionCall {
                            name: "get_weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into(),
                        },
                    }],
                    ..ChatMessage::assistant("")
                },
                ChatMessage::tool("call_1", "sunny"),
            ],
            ..ask
        };
        let whole = mock.provider().complete(&answered).await.unwrap();
        assert_eq!(whole.content(), "The tool said: sunny");
        assert_eq!(whole.finish_reason(), FinishReason::Stop);
        let streamed = gather(&mock, &answered).await;
        assert_eq!(streamed.text, "The tool said: sunny");
        assert_eq!(streamed.call, None);
    }

    #[tokio::test]
    async fn a_slow_reply_is_forty_paced_words() {
        let mock = Mock::start(behave).await;
        let slow = ChatRequest::new("gpt-4o", vec![ChatMessage::user("tell it slow please")]);
        let streamed = gather(&mock, &slow).await;
        assert!(streamed.text.starts_with("Echo: tell it slow please 6 7 8"));
        assert_eq!(streamed.text.split_whitespace().count(), SLOW_WORDS);
        assert_eq!(streamed.deltas, SLOW_WORDS);
        let spread = streamed.last_delta.unwrap() - streamed.first_delta.unwrap();
        assert!(
            spread >= SLOW_PAUSE * 35,
            "paced at about {SLOW_PAUSE:?} a word: {spread:?}"
        );
        // "slowly" is not "slow".
        let quick = json!({"messages": [{"role": "user", "content": "slowly"}]});
        assert_eq!(
            answer(&quick),
            Answer::Text {
                text: "Echo: slowly".into(),
                slow: false
            }
        );
    }

    #[tokio::test]
    async fn models_are_listed_and_usage_is_streamed_only_when_asked_for() {
        let mock = Mock::start(behave).await;
        let models = mock.provider().list_models().await.unwrap();
        assert!(models.iter().any(|m| m.id == "gpt-4o"), "{models:?}");

        let client = mock_upstream::http_client();
        for include_usage in [false, true] {
            let mut body = json!({
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "hi there"}],
                "stream": true
            });
            if include_usage {
                body["stream_options"] = json!({"include_usage": true});
            }
            let sse = client
                .post(format!("{}/chat/completions", mock.base_url))
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let frames: Vec<&str> = sse
                .split("\n\n")
                .filter_map(|frame| frame.strip_prefix("data: "))
                .collect();
            assert_eq!(frames.last(), Some(&"[DONE]"), "{sse}");
            let chunks: Vec<Value> = frames[..frames.len() - 1]
                .iter()
                .map(|frame| serde_json::from_str(frame).unwrap())
                .collect();
            let finish = chunks
                .iter()
                .position(|c| c["choices"][0]["finish_reason"] == "stop")
                .unwrap();
            let usage: Vec<&Value> = chunks.iter().filter(|c| c["usage"].is_object()).collect();
            if include_usage {
                assert_eq!(finish, chunks.len() - 2, "usage after the finish chunk");
                assert_eq!(usage.len(), 1);
                assert_eq!(usage[0]["choices"], json!([]));
                assert!(usage[0]["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
            } else {
                assert_eq!(finish, chunks.len() - 1, "the finish chunk is last");
                assert!(usage.is_empty(), "{sse}");
            }
        }
        // Anything but models and chat completions is not found.
        let status = client
            .post(format!("{}/responses", mock.base_url))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404);
    }
}
