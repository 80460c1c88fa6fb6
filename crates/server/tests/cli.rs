//! The `xl` binary as a newcomer uses it: configuration errors, migrations,
//! minting a token, serving, and shutting down on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use xl_services::auth::JwtSigner;

fn xl(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xl"));
    command.args(args).current_dir(dir);
    for name in xl_server::config::SETTINGS {
        command.env_remove(name);
    }
    command.env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("XL_BIND", "not-an-address"),
        ("DATABASE_URL", "mysql://nope"),
        ("AUTO_COMPLETION_ENABLED", "perhaps"),
    ] {
        let output = xl(dir.path(), &["serve"], &[(name, value)]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: invalid {name}: ")),
            "{stderr}"
        );
    }
}

#[test]
fn migrate_reports_applies_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let status = xl(dir.path(), &["migrate", "status"], &[]);
    assert!(status.status.success());
    let stdout = String::from_utf8(status.stdout).unwrap();
    // One line per migration, however many there are.
    let total = stdout.lines().count();
    assert!(total >= 5, "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("pending")).count(),
        total,
        "{stdout}"
    );

    let up = xl(dir.path(), &["migrate", "up"], &[]);
    let stdout = String::from_utf8(up.stdout).unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("applied")).count(),
        total,
        "{stdout}"
    );
    assert!(dir.path().join("data/xl.db").exists());

    let down = xl(dir.path(), &["migrate", "down", "--steps", "1"], &[]);
    let stdout = String::from_utf8(down.stdout).unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("pending")).count(),
        1,
        "{stdout}"
    );

    let fresh = xl(dir.path(), &["migrate", "fresh"], &[]);
    let stdout = String::from_utf8(fresh.stdout).unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("applied")).count(),
        total,
        "{stdout}"
    );
}

#[test]
fn token_signs_with_the_persisted_secret_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let output = xl(
        dir.path(),
        &[
            "token",
            "--email",
            "Ada@Example.com",
            "--role",
            "admin",
            "--name",
            "Ada",
            "--ttl",
            "2h",
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let secret = std::fs::read_to_string(dir.path().join("data/jwt_secret")).unwrap();
    let claims = JwtSigner::new(secret.trim().as_bytes())
        .verify(&token)
        .unwrap();
    assert_eq!(claims.email, "ada@example.com");
    assert_eq!(claims.name, "Ada");
    assert_eq!(claims.domain, "example.com");
    assert_eq!(claims.role.as_str(), "ADMIN");
    assert_eq!(claims.exp - claims.iat, 7200);

    // A second token reuses the same secret.
    let again = xl(dir.path(), &["token", "--email", "bob@example.com"], &[]);
    let token = String::from_utf8(again.stdout).unwrap().trim().to_owned();
    assert!(
        JwtSigner::new(secret.trim().as_bytes())
            .verify(&token)
            .is_ok()
    );

    // A configured secret wins over the file.
    let configured = "x".repeat(40);
    let output = xl(
        dir.path(),
        &["token", "--email", "c@example.com"],
        &[("JWT_SECRET", &configured)],
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(JwtSigner::new(configured.as_bytes()).verify(&token).is_ok());

    let bad = xl(dir.path(), &["token", "--email", "not-an-email"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("invalid email")
    );
    let bad = xl(
        dir.path(),
        &["token", "--email", "a@b.co", "--ttl", "forever"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("invalid ttl")
    );
}

#[test]
fn serve_answers_and_shuts_down_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_xl"));
    command
        .current_dir(dir.path())
        .env("XL_BIND", &bind)
        .env("XL_LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let health: serde_json::Value = runtime.block_on(async {
        let client = xl_services::http_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(format!("http://{bind}/health")).send().await {
                break response.json().await.unwrap();
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert_eq!(health["data"]["status"], "ok");
    assert!(
        dir.path().join("data/jwt_secret").exists(),
        "a secret is generated"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);
    let log = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"shutdown complete"), "{messages:?}");
    let served = lines
        .iter()
        .find(|line| line["fields"]["message"] == "request served")
        .expect("the request was logged");
    assert!(served["span"]["correlation_id"].is_string(), "{served}");
    // The write-ahead log was folded into the database at shutdown.
    let wal = dir.path().join("data/xl.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

/// Finding 14 of the hardening review: the data directory, the database
/// and the generated secret are private to the server's user.
#[cfg(unix)]
#[test]
fn the_data_directory_database_and_secret_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let up = xl(dir.path(), &["migrate", "up"], &[]);
    assert!(up.status.success(), "{up:?}");
    let token = xl(dir.path(), &["token", "--email", "ada@example.com"], &[]);
    assert!(token.status.success(), "{token:?}");
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("data"), 0o700);
    assert_eq!(mode("data/xl.db"), 0o600);
    assert_eq!(mode("data/jwt_secret"), 0o600);
    for side in ["data/xl.db-wal", "data/xl.db-shm"] {
        if dir.path().join(side).exists() {
            assert_eq!(mode(side), 0o600, "{side}");
        }
    }
}
