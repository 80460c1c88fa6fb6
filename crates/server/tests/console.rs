//! The console in a real browser: `scripts/console/console_check.py` drives
//! headless Chromium (Debian's `chromium`, through the Python Playwright
//! package, which downloads no browser) against a real `xl` server started
//! with nothing configured, so it prints the one-time sign-in link that the
//! script signs in with.
//!
//! Without Chromium or Playwright the test is skipped with a message,
//! except under CI (`CI` set), where that is a failure: `.ci/run` installs
//! both. Screenshots go to `XL_CONSOLE_SCREENSHOTS` when it is set (that
//! is how `docs/console-*.png` are made), else to a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use support::{SECRET, Server, repo_root, run_checks, skip_without};
use xl_services::auth::{Claims, JwtSigner};

/// Every check the script prints when the console does what it should.
const CHECKS: &[&str] = &[
    "sign in: one-time link",
    "sign in: the link works once",
    "sign in: the session is in HttpOnly cookies only",
    "markdown: blocks, emphasis, code, lists, quotes, tables, safe links, mrkdwn",
    "threads: create, rename, tag, pin",
    "thread: post, and the reply streams in",
    "thread: a dropped stream resumes without losing or repeating text",
    "thread: a page opened mid-reply shows the whole reply",
    "markdown: text is escaped, links are http(s) only",
    "thread: presence and typing",
    "reactions: toggle, counts and who reacted",
    "files: drag-and-drop upload with progress and preview",
    "block kit: header, section, select, actions, divider, context, rich_text, table, markdown, image",
    "interactive: a button and a select send block_actions, and the event shows",
    "messages: edit with history",
    "messages: regenerate and switch sibling replies",
    "messages: stop while streaming keeps the partial reply",
    "messages: delete leaves a tombstone",
    "artifacts: versions and export",
    "threads: search, archive, delete and restore",
    "usage: charts of messages, tokens and cost per day and model, and the budget",
    "keyboard: a new view takes the focus, and Tab reaches the composer",
    "narrow: usable at 375 px wide",
    "budget: first load within 150 KB compressed",
    "budget: 200 messages render within 200 ms",
    "no errors in the page",
    "all checks passed",
];

/// Debian's Chromium, unless `XL_CHROMIUM` names another build (the script
/// reads the same variable).
fn chromium() -> String {
    std::env::var("XL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    let chromium = chromium();
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is not installed"));
    }
    match Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(err) => Some(format!("python3 cannot run: {err}")),
    }
}

/// The sign-in link the server prints, read from its standard output.
fn sign_in_link(server: &mut Server) -> String {
    let stdout = server.take_stdout().unwrap();
    let (found, link) = mpsc::channel();
    // The server keeps printing (nothing, usually) after the link, so the
    // pipe is drained in a thread of its own until the server ends.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("http://") {
                let url = line[at..].trim().to_owned();
                if url.contains("#login=") {
                    let _ = found.send(url);
                }
            }
        }
    });
    link.recv_timeout(Duration::from_secs(30))
        .expect("the server printed no sign-in link within 30 s")
}

/// A JWT of Bob, a second person in the local administrator's org (his
/// address is in the org's domain), who types, is present and reacts.
fn bob() -> String {
    let claims = Claims::for_user(
        &xl_domain::Email::parse("bob@console.localhost").unwrap(),
        "Bob",
        xl_domain::Role::User,
        Duration::from_secs(3600),
    );
    JwtSigner::new(SECRET.as_bytes()).sign(&claims).unwrap()
}

#[tokio::test]
async fn the_console_works_in_a_real_browser() {
    if skip_without(
        browser_missing(),
        "headless Chromium with Playwright",
        "apt-get install chromium and pip install playwright",
    ) {
        return;
    }
    // A reply streams word by word, slowly enough to be seen in parts and
    // to be stopped half-way.
    // A budget, for the usage page to show what is left of it.
    let mut server =
        Server::start_capturing_stdout(&[("ECHO_PACE_MS", "60"), ("USER_MONTHLY_BUDGET_USD", "5")]);
    server.ready().await;
    let link = sign_in_link(&mut server);
    assert!(link.starts_with(&server.base), "{link}");
    let scratch = tempfile::tempdir().unwrap();
    let screenshots = std::env::var_os("XL_CONSOLE_SCREENSHOTS")
        .map_or_else(|| scratch.path().to_owned(), std::path::PathBuf::from);
    let script = repo_root().join("scripts/console/console_check.py");
    let output = tokio::task::spawn_blocking({
        let base = server.base.clone();
        let screenshots = screenshots.display().to_string();
        move || {
            run_checks(
                "python3",
                &script,
                &[&base, &link, &bob(), &screenshots],
                CHECKS,
            )
        }
    })
    .await
    .unwrap();
    // The measured figures, for docs/PERFORMANCE.md (shown with --nocapture).
    for line in output.lines().filter(|line| line.starts_with("figure ")) {
        println!("{line}");
    }
}

#[tokio::test]
async fn with_the_dev_login_on_the_console_offers_it_and_prints_no_link() {
    let mut server = Server::start_capturing_stdout(&[("AUTH_DEV_LOGIN", "true")]);
    server.ready().await;
    if !skip_without(
        browser_missing(),
        "headless Chromium with Playwright",
        "apt-get install chromium and pip install playwright",
    ) {
        let script = repo_root().join("scripts/console/console_check.py");
        let base = server.base.clone();
        tokio::task::spawn_blocking(move || {
            run_checks(
                "python3",
                &script,
                &["--dev-login", &base],
                &[
                    "sign in: the dev login form",
                    "sign out",
                    "all checks passed",
                ],
            )
        })
        .await
        .unwrap();
    }
    // Stopping the server closes its output: all it printed can be read.
    let stdout = server.take_stdout().unwrap();
    drop(server);
    let printed: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(
        printed.iter().all(|line| !line.contains("#login=")),
        "{printed:?}"
    );
}
