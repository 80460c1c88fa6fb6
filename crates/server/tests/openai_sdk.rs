//! The official `openai` Python SDK as a client of a real `xl` server (the
//! offline echo model), with an API key made through the HTTP API as its
//! credential: `scripts/openai_sdk_check.py` lists models and creates
//! completions whole and streamed.
//!
//! Without Python or the SDK the test is skipped with a message, except
//! under CI (`CI` set), where that is a failure: `.ci/run` installs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xl_services::auth::{Claims, JwtSigner};

const SECRET: &str = "openai-sdk-test-secret-0123456789abcdef";

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `python3` can import the SDK; the reason when it cannot.
fn sdk_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import openai"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(err) => Some(format!("python3 cannot run: {err}")),
    }
}

#[test]
fn the_official_python_sdk_works_against_the_server() {
    if let Some(reason) = sdk_missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the openai Python package is required in CI ({reason}); \
             .ci/run installs it with python3 -m pip install openai"
        );
        eprintln!("skipping: the openai Python package is not available ({reason})");
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_xl"));
    command.current_dir(dir.path());
    for name in xl_server::config::SETTINGS {
        command.env_remove(name);
    }
    let _server = Server(
        command
            .env_remove("RUST_LOG")
            .env("XL_BIND", &bind)
            .env("JWT_SECRET", SECRET)
            .env("ECHO_PACE_MS", "1")
            .env("XL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{bind}");

    // An API key, made through the HTTP API with a JWT.
    let claims = Claims::for_user(
        &xl_domain::Email::parse("sdk@example.com").unwrap(),
        "SDK",
        xl_domain::Role::User,
        Duration::from_secs(600),
    );
    let jwt = JwtSigner::new(SECRET.as_bytes()).sign(&claims).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let key = runtime.block_on(async {
        let client = xl_services::http_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/health")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let created: Value = client
            .post(format!("{base}/api/v1/api-keys"))
            .bearer_auth(&jwt)
            .json(&json!({ "name": "python-sdk" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["data"]["secret"].as_str().unwrap().to_owned()
    });
    assert!(key.starts_with("xl_"));

    let output = Command::new("python3")
        .arg(repo_root().join("scripts/openai_sdk_check.py"))
        .arg(format!("{base}/api/v1"))
        .arg(&key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK check failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for check in [
        "models.list names echo",
        "create: reply",
        "stream: text",
        "stream: usage chunk",
        "unknown model: NotFoundError",
        "bad key: AuthenticationError",
        "all checks passed",
    ] {
        assert!(stdout.contains(check), "{check} missing from:\n{stdout}");
    }
}
