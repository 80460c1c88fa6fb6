//! The client of `scripts/bench/live`: holds many `GET
//! /api/v1/threads/{id}/events` subscribers from one process and measures
//! what they cost the server and how fast events reach them. One scenario per
//! run, each printing `key value` lines (one round's figures) on stdout;
//! `table` turns a file of those lines into the Markdown table, taking the
//! median of the rounds.
//!
//!   live_bench idle THREADS SUBSCRIBERS   # the server's RSS with idle subscribers
//!   live_bench idle 0 SUBSCRIBERS         # the same against examples/bare_actix.rs
//!   live_bench delivery                   # commit-to-receipt delay, loss, duplicates
//!   live_bench posting                    # the post rate with and without subscribers
//!   live_bench table RESULTS
//!
//! Subscribers speak HTTP/1.1 by hand over tokio's `TcpStream` (one request,
//! then the chunked `text/event-stream` body), so that ten thousand of them
//! fit in one process. The delay of an event is the time it arrives here
//! minus its `created_at`, which the server stamps when it appends the
//! event inside the posting transaction (so the delay includes the commit);
//! both read the same clock. Signals (presence, typing, assistant status)
//! are not in the log and are ignored.
//!
//! Environment: `BENCH_BASE` (`http://127.0.0.1:PORT`), `BENCH_TOKEN` (a
//! bearer token), `BENCH_SERVER_PID` (for `idle`), `BENCH_WRK` and
//! `BENCH_POST_LUA` (for `posting`), `BENCH_ROUNDS` (3), `BENCH_SECONDS`
//! (posting: 10 per wrk run), `BENCH_DELIVERY_SECONDS` (20).

use std::collections::BTreeMap;
use std::error::Error;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

type BoxError = Box<dyn Error + Send + Sync>;

/// Ephemeral kinds on the stream that are not in the log.
const SIGNALS: [&str; 3] = ["presence", "typing", "assistant.status"];
/// Connections being opened at once: more overflow the listen backlog.
const CONNECTING: usize = 200;

/// Where the server is and who the subscribers are.
#[derive(Clone)]
struct Target {
    /// `127.0.0.1:PORT`.
    host: String,
    base: String,
    token: String,
}

/// Counters shared by every subscriber of a scenario.
#[derive(Default)]
struct Totals {
    /// Subscribers whose response headers arrived (200).
    connected: AtomicUsize,
    /// Subscribers that could not connect or whose stream broke.
    failed: AtomicUsize,
    /// `message.created` events received, over all subscribers.
    created: AtomicUsize,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// The `seq` of every logged event, in arrival order.
    seqs: Vec<i64>,
    /// `message.created` events.
    created: usize,
    /// Arrival minus `created_at` of each `message.created`, in ms.
    delays: Vec<f64>,
}

impl Seen {
    /// Events whose `seq` was not above the one before: duplicates.
    fn duplicates(&self) -> usize {
        self.seqs.windows(2).filter(|w| w[1] <= w[0]).count()
    }

    /// Sequence numbers skipped, from 1 (the subscriber started at the
    /// beginning of a fresh thread): events lost.
    fn gaps(&self) -> i64 {
        let mut last = 0;
        let mut skipped = 0;
        for &seq in &self.seqs {
            if seq > last + 1 {
                skipped += seq - last - 1;
            }
            last = last.max(seq);
        }
        skipped
    }
}

/// Undoes HTTP/1.1 chunked transfer coding, a read at a time.
#[derive(Default)]
struct Dechunker {
    raw: Vec<u8>,
    ended: bool,
}

impl Dechunker {
    /// Takes received bytes and appends the payload of every chunk now
    /// complete to `out`.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.raw.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(line) = find(&self.raw[start..], b"\r\n") {
            let size_text = std::str::from_utf8(&self.raw[start..start + line])
                .ok()
                .and_then(|text| text.split(';').next())
                .unwrap_or("");
            let size = usize::from_str_radix(size_text.trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
            let data = start + line + 2;
            if self.raw.len() < data + size + 2 {
                break;
            }
            if size == 0 {
                self.ended = true;
            }
            out.extend_from_slice(&self.raw[data..data + size]);
            start = data + size + 2;
        }
        self.raw.drain(..start);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One SSE frame's fields (a comment has none).
struct Frame<'a> {
    id: Option<i64>,
    event: Option<&'a str>,
    data: &'a [u8],
}

fn parse_frame(frame: &[u8]) -> Frame<'_> {
    let mut parsed = Frame {
        id: None,
        event: None,
        data: &[],
    };
    for line in frame.split(|b| *b == b'\n') {
        if let Some(id) = line.strip_prefix(b"id: ") {
            parsed.id = std::str::from_utf8(id).ok().and_then(|id| id.parse().ok());
        } else if let Some(event) = line.strip_prefix(b"event: ") {
            parsed.event = std::str::from_utf8(event).ok();
        } else if let Some(data) = line.strip_prefix(b"data: ") {
            // The server's JSON has no newline, so one data line per frame.
            parsed.data = data;
        }
    }
    parsed
}

#[derive(Deserialize)]
struct Stamp {
    created_at: DateTime<Utc>,
}

/// Opens `GET /api/v1/threads/{thread}/events` and reads up to the end of
/// the response headers; returns the stream and the body bytes read with
/// them.
async fn open(target: &Target, thread: &str) -> Result<(TcpStream, Vec<u8>), BoxError> {
    let mut stream = TcpStream::connect(&target.host).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET /api/v1/threads/{thread}/events HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        target.host, target.token
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0_u8; 1024];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err("the server closed the stream before its headers".into());
        }
        head.extend_from_slice(&buffer[..read]);
        if let Some(end) = find(&head, b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            if !headers.starts_with("http/1.1 200") {
                return Err(format!("events: {}", headers.lines().next().unwrap_or("")).into());
            }
            if !headers.contains("transfer-encoding: chunked") {
                return Err("events: expected a chunked body".into());
            }
            return Ok((stream, head.split_off(end + 4)));
        }
    }
}

/// How a subscriber treats what it reads.
#[derive(Clone, Copy)]
struct Watch {
    /// Parse `created_at` and record delays.
    delays: bool,
}

/// Subscribes to a thread and records what arrives until `stop`.
async fn subscriber(
    target: Target,
    thread: String,
    watch: Watch,
    connecting: Arc<Semaphore>,
    totals: Arc<Totals>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    let opened = {
        let _permit = connecting.acquire().await;
        open(&target, &thread).await
    };
    let (mut stream, first) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            eprintln!("subscriber: {err}");
            totals.failed.fetch_add(1, Ordering::Relaxed);
            return seen;
        }
    };
    totals.connected.fetch_add(1, Ordering::Relaxed);
    let mut chunks = Dechunker::default();
    let mut body = Vec::new();
    let mut buffer = vec![0_u8; 8192];
    let mut received: &[u8] = &first;
    loop {
        let arrived = Utc::now();
        if let Err(err) = chunks.feed(received, &mut body) {
            eprintln!("subscriber: {err}");
            totals.failed.fetch_add(1, Ordering::Relaxed);
            return seen;
        }
        let mut used = 0;
        while let Some(end) = find(&body[used..], b"\n\n") {
            let frame = parse_frame(&body[used..used + end]);
            used += end + 2;
            let (Some(seq), Some(kind)) = (frame.id, frame.event) else {
                continue;
            };
            if SIGNALS.contains(&kind) {
                continue;
            }
            seen.seqs.push(seq);
            if kind == "message.created" {
                seen.created += 1;
                totals.created.fetch_add(1, Ordering::Relaxed);
                if watch.delays
                    && let Ok(stamp) = serde_json::from_slice::<Stamp>(frame.data)
                {
                    let delay = arrived - stamp.created_at;
                    seen.delays.push(delay.as_seconds_f64() * 1000.0);
                }
            }
        }
        body.drain(..used);
        if chunks.ended {
            eprintln!("subscriber: the server ended the stream");
            totals.failed.fetch_add(1, Ordering::Relaxed);
            return seen;
        }
        let read = tokio::select! {
            read = stream.read(&mut buffer) => read,
            _ = stop.changed() => return seen,
        };
        match read {
            Ok(0) | Err(_) => {
                eprintln!("subscriber: the connection closed");
                totals.failed.fetch_add(1, Ordering::Relaxed);
                return seen;
            }
            Ok(read) => received = &buffer[..read],
        }
    }
}

/// A set of subscribers and the means to stop them.
struct Crowd {
    totals: Arc<Totals>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Seen>>,
}

impl Crowd {
    /// Starts `count` subscribers spread evenly over `threads`, and waits
    /// until every one is connected (or has failed).
    async fn gather(
        target: &Target,
        threads: &[String],
        count: usize,
        watch: Watch,
    ) -> Result<Crowd, BoxError> {
        let totals = Arc::new(Totals::default());
        let (stop, stopped) = watch::channel(false);
        let connecting = Arc::new(Semaphore::new(CONNECTING));
        let tasks = (0..count)
            .map(|i| {
                tokio::spawn(subscriber(
                    target.clone(),
                    threads[i % threads.len()].clone(),
                    watch,
                    connecting.clone(),
                    totals.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        let crowd = Crowd {
            totals,
            stop,
            tasks,
        };
        let started = Instant::now();
        while crowd.totals.connected.load(Ordering::Relaxed)
            + crowd.totals.failed.load(Ordering::Relaxed)
            < count
        {
            if started.elapsed() > Duration::from_secs(120) {
                return Err("subscribers did not connect within 2 minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let failed = crowd.totals.failed.load(Ordering::Relaxed);
        if failed > 0 {
            return Err(format!("{failed} of {count} subscribers failed to connect").into());
        }
        eprintln!(
            "{count} subscribers connected in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(crowd)
    }

    /// Waits until `created` events have arrived in all, or until nothing
    /// has arrived for `quiet`.
    async fn drain(&self, created: Option<usize>, quiet: Duration) {
        let mut last = self.totals.created.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            let now = self.totals.created.load(Ordering::Relaxed);
            if created.is_some_and(|target| now >= target) {
                return;
            }
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops every subscriber (closing its connection) and returns what each saw.
    async fn disperse(self) -> Result<(Vec<Seen>, usize), BoxError> {
        let _ = self.stop.send(true);
        let mut seen = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            seen.push(task.await?);
        }
        Ok((seen, self.totals.failed.load(Ordering::Relaxed)))
    }
}

/// Creates threads with auto-reply off; returns their ids.
async fn new_threads(
    client: &reqwest::Client,
    target: &Target,
    count: usize,
) -> Result<Vec<String>, BoxError> {
    #[derive(Deserialize)]
    struct Created {
        data: CreatedThread,
    }
    #[derive(Deserialize)]
    struct CreatedThread {
        id: String,
    }
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let created: Created = client
            .post(format!("{}/api/v1/threads", target.base))
            .bearer_auth(&target.token)
            .json(&json!({"title": "bench", "auto_reply": false}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.push(created.data.id);
    }
    Ok(ids)
}

/// Posts one message; whether the server answered 201.
async fn post(client: &reqwest::Client, target: &Target, thread: &str, n: usize) -> bool {
    client
        .post(format!("{}/api/v1/threads/{thread}/messages", target.base))
        .bearer_auth(&target.token)
        .json(&json!({ "content": format!("live bench message {n}") }))
        .send()
        .await
        .is_ok_and(|response| response.status() == reqwest::StatusCode::CREATED)
}

/// The server's resident set (KiB) and CPU time so far (clock ticks).
fn server_usage(pid: u32) -> Result<(u64, u64), BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or("no VmRSS in /proc/PID/status")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at the
    // state, field 3; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((rss, ticks(11) + ticks(12)))
}

/// Holds `count` idle subscribers over `threads` threads and reports the
/// server's RSS before, once connected, and after 20 s idle (a log
/// re-read and access check, and a keep-alive, in every follower), and the
/// server's CPU over those 20 s. No threads: the server is bare actix-web.
async fn idle(target: &Target, threads: usize, count: usize) -> Result<(), BoxError> {
    let pid: u32 = env_or("BENCH_SERVER_PID", "").parse()?;
    let client = xl_services::http_client();
    let (ids, key) = if threads == 0 {
        (vec!["bare".to_owned()], "idle.bare".to_owned())
    } else {
        let ids = new_threads(&client, target, threads).await?;
        (ids, format!("idle.{threads}.{count}"))
    };
    // A warm-up subscriber, so that the baseline includes the code paths of
    // the first stream (lazy statics, the first read connection's caches).
    let warm = Crowd::gather(target, &ids, 1, Watch { delays: false }).await?;
    warm.disperse().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (before, _) = server_usage(pid)?;
    let crowd = Crowd::gather(target, &ids, count, Watch { delays: false }).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (connected, ticks_from) = server_usage(pid)?;
    let idle_for = Duration::from_secs(20);
    tokio::time::sleep(idle_for).await;
    let (after, ticks_to) = server_usage(pid)?;
    let (_, failed) = crowd.disperse().await?;
    if failed > 0 {
        return Err(format!("{failed} idle subscribers lost their stream").into());
    }
    println!("{key}.subscribers {count}");
    println!("{key}.before_kib {before}");
    println!("{key}.connected_kib {connected}");
    println!("{key}.after_kib {after}");
    #[allow(clippy::cast_precision_loss)]
    let per = (after.max(connected) - before) as f64 / count as f64;
    println!("{key}.per_subscriber_kib {per:.2}");
    // USER_HZ is 100 on Linux.
    #[allow(clippy::cast_precision_loss)]
    let cpu = (ticks_to - ticks_from) as f64 / 100.0 / idle_for.as_secs_f64() * 100.0;
    println!("{key}.idle_cpu_percent {cpu:.1}");
    Ok(())
}

/// One delivery round: `count` subscribers on a fresh thread, posts at
/// `rate` a second for `seconds`.
async fn deliver(
    client: &reqwest::Client,
    target: &Target,
    count: usize,
    (rate, seconds): (u32, u32),
) -> Result<(), BoxError> {
    let ids = new_threads(client, target, 1).await?;
    let crowd = Crowd::gather(target, &ids, count, Watch { delays: true }).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let mut posted = 0;
    let mut refused = 0;
    for n in 0..rate * seconds {
        tick.tick().await;
        if post(client, target, &ids[0], n as usize).await {
            posted += 1;
        } else {
            refused += 1;
        }
    }
    crowd
        .drain(Some(posted * count), Duration::from_secs(5))
        .await;
    let (seen, failed) = crowd.disperse().await?;
    let mut delays: Vec<f64> = seen.iter().flat_map(|s| s.delays.iter().copied()).collect();
    let received: usize = seen.iter().map(|s| s.created).sum();
    let lost: usize = seen.iter().map(|s| posted.saturating_sub(s.created)).sum();
    let duplicates: usize = seen.iter().map(Seen::duplicates).sum();
    let gaps: i64 = seen.iter().map(Seen::gaps).sum();
    let key = if count == 1 {
        "delivery.one"
    } else {
        "delivery.many"
    };
    println!("{key}.subscribers {count}");
    println!("{key}.p50_ms {:.2}", percentile(&mut delays, 0.50));
    println!("{key}.p99_ms {:.2}", percentile(&mut delays, 0.99));
    println!("{key}.max_ms {:.2}", percentile(&mut delays, 1.0));
    println!("{key}.expected {}", posted * count);
    println!("{key}.received {received}");
    println!("{key}.lost {lost}");
    println!("{key}.duplicates {duplicates}");
    println!("{key}.gaps {gaps}");
    println!("{key}.failed {}", failed + refused);
    Ok(())
}

async fn delivery(target: &Target) -> Result<(), BoxError> {
    let client = xl_services::http_client();
    let rounds = env_number("BENCH_ROUNDS", 3);
    let seconds = u32::try_from(env_number("BENCH_DELIVERY_SECONDS", 20)).unwrap_or(20);
    let subscribers = env_number("BENCH_SUBSCRIBERS", 1000);
    for round in 0..rounds {
        eprintln!("delivery round {}", round + 1);
        deliver(&client, target, 1, (10, seconds)).await?;
        deliver(&client, target, subscribers, (10, seconds)).await?;
    }
    Ok(())
}

/// What wrk measured.
struct Load {
    rps: f64,
    p99_ms: f64,
    ok: usize,
    non_2xx: usize,
}

/// Runs wrk with `post.lua` against `thread`: 16 connections.
async fn post_load(target: &Target, thread: &str) -> Result<Load, BoxError> {
    let wrk = env_or("BENCH_WRK", "wrk");
    let script = env_or("BENCH_POST_LUA", "scripts/bench/post.lua");
    let duration = format!("{}s", env_number("BENCH_SECONDS", 10));
    let mut command = std::process::Command::new(wrk);
    command
        .args(["-t2", "-c16", "-d", &duration, "--latency", "-s", &script])
        .arg(&target.base)
        .env("THREAD", thread)
        .env("TOKEN", &target.token);
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let field = |label: &str| -> Option<String> {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| rest.trim().to_owned())
    };
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or("no Requests/sec in wrk's output")?;
    let requests: usize = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or("no request count in wrk's output")?;
    let non_2xx = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let p99_ms = field("99%").map_or(f64::NAN, |v| milliseconds(&v));
    Ok(Load {
        rps,
        p99_ms,
        ok: requests - non_2xx,
        non_2xx,
    })
}

/// wrk's `1.23ms`, `456.00us` or `1.02s` in ms.
fn milliseconds(text: &str) -> f64 {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, f64::NAN)
    };
    number.parse::<f64>().map_or(f64::NAN, |n| n * scale)
}

/// Where the subscribers of a posting run are.
#[derive(Clone, Copy)]
enum Audience {
    /// No subscriber: the baseline.
    None,
    /// All on the thread being posted to: every post goes to each.
    Same,
    /// Spread over 100 other threads: idle while the posts go elsewhere.
    Other,
}

impl Audience {
    fn key(self) -> &'static str {
        match self {
            Audience::None => "none",
            Audience::Same => "same",
            Audience::Other => "other",
        }
    }
}

async fn posting(target: &Target) -> Result<(), BoxError> {
    let client = xl_services::http_client();
    let rounds = env_number("BENCH_ROUNDS", 3);
    let subscribers = env_number("BENCH_SUBSCRIBERS", 1000);
    // Posting threads fill up; each run gets a fresh one, like the
    // "post a message" run of scripts/bench/conversations.
    for round in 0..rounds {
        eprintln!("posting round {}", round + 1);
        let mut baseline = f64::NAN;
        for audience in [Audience::None, Audience::Same, Audience::Other] {
            let posted_to = new_threads(&client, target, 1).await?;
            let followed = match audience {
                Audience::None => Vec::new(),
                Audience::Same => posted_to.clone(),
                Audience::Other => new_threads(&client, target, 100).await?,
            };
            let crowd = match audience {
                Audience::None => None,
                _ => Some(
                    Crowd::gather(target, &followed, subscribers, Watch { delays: false }).await?,
                ),
            };
            let load = post_load(target, &posted_to[0]).await?;
            let key = format!("posting.{}", audience.key());
            println!("{key}.subscribers {}", followed.len().min(1) * subscribers);
            println!("{key}.rps {:.0}", load.rps);
            println!("{key}.p99_ms {:.2}", load.p99_ms);
            println!("{key}.non_2xx {}", load.non_2xx);
            match audience {
                Audience::None => baseline = load.rps,
                _ => println!("{key}.ratio {:.3}", load.rps / baseline),
            }
            let Some(crowd) = crowd else {
                continue;
            };
            // Until nothing has arrived for a while: the subscribers need
            // not all be at the same event at any one moment.
            let quiet = Duration::from_secs(2);
            let started = Instant::now();
            if matches!(audience, Audience::Same) {
                crowd.drain(None, quiet).await;
            }
            let drained = started.elapsed().saturating_sub(quiet);
            let (seen, failed) = crowd.disperse().await?;
            if matches!(audience, Audience::Same) {
                // Every answered post was committed, and perhaps a few more
                // still in flight when wrk stopped.
                let expected = seen
                    .iter()
                    .map(|s| s.created)
                    .max()
                    .unwrap_or(0)
                    .max(load.ok);
                let lost: usize = seen.iter().map(|s| expected - s.created).sum();
                let duplicates: usize = seen.iter().map(Seen::duplicates).sum();
                let gaps: i64 = seen.iter().map(Seen::gaps).sum();
                println!("{key}.expected {}", expected * subscribers);
                println!("{key}.lost {lost}");
                println!("{key}.duplicates {duplicates}");
                println!("{key}.gaps {gaps}");
                println!("{key}.drain_s {:.2}", drained.as_secs_f64());
            }
            println!("{key}.failed {failed}");
            // The server notices closed streams at their next keep-alive
            // (15 s): wait, so the next run starts without them.
            tokio::time::sleep(Duration::from_secs(16)).await;
        }
    }
    Ok(())
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// The rounds' figures, by key.
struct Results(BTreeMap<String, Vec<f64>>);

impl Results {
    fn read(path: &str) -> Result<Results, BoxError> {
        let mut figures: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for line in std::fs::read_to_string(path)?.lines() {
            if let Some((key, value)) = line.split_once(' ')
                && let Ok(value) = value.trim().parse()
            {
                figures.entry(key.to_owned()).or_default().push(value);
            }
        }
        Ok(Results(figures))
    }

    /// The median of the rounds (NaN if none).
    fn median(&self, key: &str) -> f64 {
        let mut values = self.0.get(key).cloned().unwrap_or_default();
        percentile(&mut values, 0.5)
    }

    /// The sum over the rounds.
    fn sum(&self, key: &str) -> f64 {
        self.0.get(key).map_or(0.0, |values| values.iter().sum())
    }

    /// The median, with the range of the rounds when there are several.
    fn cell(&self, key: &str, decimals: usize, unit: &str) -> String {
        let values = self.0.get(key).cloned().unwrap_or_default();
        let show = |value: f64| {
            if decimals == 0 {
                thousands(value)
            } else {
                format!("{value:.decimals$}")
            }
        };
        let median = format!("{}{unit}", show(self.median(key)));
        if values.len() < 2 {
            return median;
        }
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{median} ({}–{})", show(low), show(high))
    }

    fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// `12345.0` as `12,345`.
fn thousands(value: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let digits = format!("{}", value.round() as i64);
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && digit.is_ascii_digit() {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn table(path: &str) -> Result<(), BoxError> {
    let r = Results::read(path)?;
    println!("| measurement | baseline (same run) | measured | ratio or per unit | target |");
    println!("|---|---|---|---|---|");
    let bare = r.median("idle.bare.per_subscriber_kib");
    let layouts: Vec<String> =
        r.0.keys()
            .filter_map(|key| key.strip_suffix(".before_kib"))
            .map(str::to_owned)
            .collect();
    // Bare actix-web first, then from the most threads to the fewest.
    let mut layouts: Vec<(usize, String)> = layouts
        .into_iter()
        .map(|key| {
            let threads = key.split('.').nth(1).and_then(|t| t.parse().ok());
            (threads.map_or(usize::MAX, |t: usize| t), key)
        })
        .collect();
    layouts.sort_by_key(|layout| std::cmp::Reverse(layout.0));
    for (threads, key) in layouts {
        let count = r.median(&format!("{key}.subscribers"));
        let n = thousands(count);
        #[allow(clippy::cast_precision_loss)]
        let label = match threads {
            usize::MAX => format!("{n} idle streams on bare actix-web (a body that never sends)"),
            1 => format!("{n} idle subscribers on one thread"),
            t if t as f64 == count => format!("{n} idle subscribers, one per thread"),
            t => format!("{n} idle subscribers over {} threads", thousands(t as f64)),
        };
        let to_mib = |suffix: &str| r.median(&format!("{key}.{suffix}")) / 1024.0;
        let per = r.median(&format!("{key}.per_subscriber_kib"));
        let target = if threads == usize::MAX {
            "(actix-web's own share)".to_owned()
        } else if bare.is_nan() {
            format!("≤ 16 KiB: {}", verdict(per <= 16.0))
        } else {
            format!(
                "≤ 16 KiB: {}; {:.1} KiB above bare actix-web",
                verdict(per <= 16.0),
                per - bare
            )
        };
        println!(
            "| {label}: server RSS | {:.1} MiB before connecting | {:.1} MiB connected, {:.1} MiB after 20 s idle (server CPU {}) | **{} per subscriber** | {target} |",
            to_mib("before_kib"),
            to_mib("connected_kib"),
            to_mib("after_kib"),
            r.cell(&format!("{key}.idle_cpu_percent"), 1, "% of a core"),
            r.cell(&format!("{key}.per_subscriber_kib"), 1, " KiB"),
        );
    }
    if r.has("delivery.one.p50_ms") {
        let many = "delivery.many";
        let n = thousands(r.median(&format!("{many}.subscribers")));
        println!(
            "| delivery at 10 posts/s, commit to receipt, p50 / p99 | 1 subscriber: {} / {} | {n} subscribers on the thread: {} / {} (max {}) | p99 {:.1}× the single subscriber's | p99 ≤ 100 ms (aim ≤ 20 ms): {} |",
            r.cell("delivery.one.p50_ms", 2, " ms"),
            r.cell("delivery.one.p99_ms", 2, " ms"),
            r.cell(&format!("{many}.p50_ms"), 2, " ms"),
            r.cell(&format!("{many}.p99_ms"), 2, " ms"),
            r.cell(&format!("{many}.max_ms"), 1, " ms"),
            r.median(&format!("{many}.p99_ms")) / r.median("delivery.one.p99_ms"),
            verdict(r.median(&format!("{many}.p99_ms")) <= 100.0)
        );
        let lost = r.sum(&format!("{many}.lost")) + r.sum(&format!("{many}.gaps"));
        let duplicates = r.sum(&format!("{many}.duplicates"));
        println!(
            "| delivery, {n} subscribers: events lost / duplicated (all rounds) | {} events expected | {} received; {lost:.0} lost, {duplicates:.0} duplicated, {:.0} failed streams or posts | | zero lost, zero duplicates: {} |",
            thousands(r.sum(&format!("{many}.expected"))),
            thousands(r.sum(&format!("{many}.received"))),
            r.sum(&format!("{many}.failed")) + r.sum("delivery.one.failed"),
            verdict(lost == 0.0 && duplicates == 0.0)
        );
    }
    if r.has("posting.none.rps") {
        for (audience, place) in [
            ("same", "on the posted thread"),
            ("other", "on 100 other threads"),
        ] {
            let key = format!("posting.{audience}");
            let n = thousands(r.median(&format!("{key}.subscribers")));
            println!(
                "| post rate, 16 conns | no subscribers: {} req/s, p99 {} | {n} subscribers {place}: {} req/s, p99 {} | **{}** | ≥ 0.8×: {} |",
                r.cell("posting.none.rps", 0, ""),
                r.cell("posting.none.p99_ms", 1, " ms"),
                r.cell(&format!("{key}.rps"), 0, ""),
                r.cell(&format!("{key}.p99_ms"), 1, " ms"),
                r.cell(&format!("{key}.ratio"), 2, "×"),
                verdict(r.median(&format!("{key}.ratio")) >= 0.8)
            );
        }
        let lost = r.sum("posting.same.lost") + r.sum("posting.same.gaps");
        println!(
            "| post rate, subscribers on the posted thread: events lost / duplicated (all rounds) | {} events expected | {lost:.0} lost, {:.0} duplicated, {:.0} failed streams; the last arrived {} after wrk stopped | | |",
            thousands(r.sum("posting.same.expected")),
            r.sum("posting.same.duplicates"),
            r.sum("posting.same.failed"),
            r.cell("posting.same.drain_s", 1, " s"),
        );
    }
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = env_or("BENCH_BASE", "http://127.0.0.1:18792");
    let target = Target {
        host: base.trim_start_matches("http://").to_owned(),
        base,
        token: env_or("BENCH_TOKEN", ""),
    };
    let number = |i: usize| -> Result<usize, BoxError> {
        Ok(args.get(i).ok_or("missing argument")?.parse()?)
    };
    match args.first().map(String::as_str) {
        Some("idle") => idle(&target, number(1)?, number(2)?).await,
        Some("delivery") => delivery(&target).await,
        Some("posting") => posting(&target).await,
        Some("table") => table(args.get(1).ok_or("table RESULTS")?),
        _ => Err(
            "usage: live_bench idle THREADS SUBSCRIBERS | delivery | posting | table RESULTS"
                .into(),
        ),
    }
}
