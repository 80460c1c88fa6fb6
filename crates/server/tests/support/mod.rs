//! What the tests driving official SDKs share: a real `xl` server on a free
//! loopback port, API keys made through the HTTP API, the rule for a missing
//! SDK (skip with a message, but fail under CI) and running a check script.

// Each test binary uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xl_services::auth::{Claims, JwtSigner};

/// The JWT secret the servers are started with.
pub const SECRET: &str = "openai-sdk-test-secret-0123456789abcdef";

/// The repository's root, where `scripts/` is.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `xl`, killed when dropped, however the test ends.
pub struct Server {
    child: Child,
    /// What it logs, read as it comes (so a full pipe never blocks it), if
    /// it was captured.
    log: Option<std::thread::JoinHandle<String>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The working directory (its `./data` is the server's data).
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the `xl` binary on a free port in an empty directory, with no
    /// setting from the environment but `env` (and the bind address, the
    /// JWT secret and warn-level logs).
    pub fn start(env: &[(&str, &str)]) -> Server {
        Server::spawn(env, Stdio::null(), Stdio::inherit())
    }

    /// Starts it as [`Server::start`] does, keeping what it logs for
    /// [`Server::terminate`] to hand over.
    pub fn start_capturing_log(env: &[(&str, &str)]) -> Server {
        Server::spawn(env, Stdio::null(), Stdio::piped())
    }

    /// Starts it as [`Server::start`] does, with its standard output (what
    /// it prints for people, such as a sign-in link) in a pipe that
    /// [`Server::take_stdout`] hands over.
    pub fn start_capturing_stdout(env: &[(&str, &str)]) -> Server {
        Server::spawn(env, Stdio::piped(), Stdio::inherit())
    }

    /// Stops the server as an orchestrator does (SIGTERM), waits for it to
    /// exit, and returns how it exited and what it logged (empty unless
    /// started by [`Server::start_capturing_log`]).
    pub fn terminate(&mut self) -> (std::process::ExitStatus, String) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let status = self.child.wait().unwrap();
        let log = self
            .log
            .take()
            .map(|reader| reader.join().unwrap())
            .unwrap_or_default();
        (status, log)
    }

    /// The server's standard output, once, if it was captured.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    fn spawn(env: &[(&str, &str)], stdout: Stdio, stderr: Stdio) -> Server {
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
        command
            .env_remove("RUST_LOG")
            .env("XL_BIND", &bind)
            .env("JWT_SECRET", SECRET)
            .env("XL_LOG", "warn");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.stdout(stdout).stderr(stderr).spawn().unwrap();
        let log = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut log = String::new();
                let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
                log
            })
        });
        Server {
            child,
            log,
            base: format!("http://{bind}"),
            _dir: dir,
        }
    }

    /// The API's base URL, as the SDKs take it: `http://127.0.0.1:PORT/api/v1`.
    pub fn api(&self) -> String {
        format!("{}/api/v1", self.base)
    }

    /// `path` under the API, e.g. `/threads`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api())
    }

    /// Waits (up to 30 s) until `/health` answers.
    pub async fn ready(&self) {
        let client = xl_services::http_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client
            .get(format!("{}/health", self.base))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new API key (`xl_…`) of the user `email` (made on first sign-in;
    /// the mail domain decides the org), made through the HTTP API with a
    /// JWT of theirs.
    pub async fn api_key(&self, email: &str, name: &str) -> String {
        let claims = Claims::for_user(
            &xl_domain::Email::parse(email).unwrap(),
            name,
            xl_domain::Role::User,
            Duration::from_secs(600),
        );
        let jwt = JwtSigner::new(SECRET.as_bytes()).sign(&claims).unwrap();
        let response = xl_services::http_client()
            .post(self.url("/api-keys"))
            .bearer_auth(&jwt)
            .json(&json!({ "name": format!("sdk check ({name})") }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let created: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "making an API key: {created}");
        let key = created["data"]["secret"].as_str().unwrap().to_owned();
        assert!(key.starts_with("xl_"), "{created}");
        key
    }
}

/// Whether a test needing an SDK should be skipped: `missing` is why the
/// SDK cannot run, if it cannot. Without it the test is skipped with a
/// message, except under CI (`CI` set), where that is a failure, since
/// `.ci/run` installs it (`install` says how).
pub fn skip_without(missing: Option<String>, what: &str, install: &str) -> bool {
    let Some(reason) = missing else {
        return false;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is required in CI ({reason}); .ci/run installs it with {install}"
    );
    eprintln!("skipping: {what} is not available ({reason}); install it with {install}");
    true
}

/// Why `python3` cannot import the `openai` package, if it cannot.
pub fn python_sdk_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import openai"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(err) => Some(format!("python3 cannot run: {err}")),
    }
}

/// Why `node` cannot load the `openai` package of `scripts/sdk`, if it
/// cannot.
pub fn node_sdk_missing() -> Option<String> {
    let sdk = repo_root().join("scripts/sdk");
    match Command::new("node")
        .current_dir(&sdk)
        .args(["--input-type=module", "-e", "await import('openai')"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|line| line.contains("Error"))
                .unwrap_or("the openai package does not load")
                .trim()
                .to_owned(),
        ),
        Err(err) => Some(format!("node cannot run: {err}")),
    }
}

/// Runs `program script args…` and asserts it exits 0 and printed every
/// line of `checks` (as `ok   <check>`, or the check itself for the
/// closing `all checks passed`). Returns what it printed.
pub fn run_checks(program: &str, script: &Path, args: &[&str], checks: &[&str]) -> String {
    let output = Command::new(program)
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program} cannot run: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        output.status
    );
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    for check in checks {
        let ok = format!("ok   {check}");
        assert!(
            lines.iter().any(|line| *line == ok || line == check),
            "{check} missing from the output of {}:\n{stdout}",
            script.display()
        );
    }
    stdout
}
