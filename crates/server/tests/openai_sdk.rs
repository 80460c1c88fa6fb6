//! The official `openai` Python SDK as a client of a real `xl` server (the
//! offline echo model), with an API key made through the HTTP API as its
//! credential: `scripts/openai_sdk_check.py` lists models and creates
//! completions whole and streamed.
//!
//! Without Python or the SDK the test is skipped with a message, except
//! under CI (`CI` set), where that is a failure: `.ci/run` installs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Server, python_sdk_missing, repo_root, run_checks, skip_without};

#[test]
fn the_official_python_sdk_works_against_the_server() {
    if skip_without(
        python_sdk_missing(),
        "the openai Python package",
        "python3 -m pip install openai",
    ) {
        return;
    }

    let server = Server::start(&[("ECHO_PACE_MS", "1")]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let key = runtime.block_on(async {
        server.ready().await;
        server.api_key("sdk@example.com", "SDK").await
    });

    run_checks(
        "python3",
        &repo_root().join("scripts/openai_sdk_check.py"),
        &[&server.api(), &key],
        &[
            "models.list names echo",
            "create: reply",
            "stream: text",
            "stream: usage chunk",
            "unknown model: NotFoundError",
            "bad key: AuthenticationError",
            "all checks passed",
        ],
    );
}
