//! The client of `scripts/bench/streaming` and `scripts/bench/responses`:
//! runs `BENCH_STREAMS` concurrent streams, `BENCH_ROUNDS` each, on every
//! path named in `BENCH_PATHS`, and prints Markdown tables of time to first
//! token and per-event delay (p50, p99) for each, and what each path adds
//! to the one it is compared with. Twice: with arrivals spread out (steady
//! state: as many streams in flight, new ones arriving evenly) and with
//! every stream of a round starting at once (a burst).
//!
//! The paths (`BENCH_PATHS`, default `direct chat`):
//!
//! - `direct`: a streamed chat completion straight from the mock upstream
//!   (`examples/mock_openai.rs`), the floor;
//! - `chat`: the same through `POST /api/v1/chat/completions`;
//! - `stored`: `POST /api/v1/responses` with `stream: true` (a stored
//!   response: a thread, its messages, the reply written to the database
//!   batch by batch and the stream a follower of the thread's log);
//! - `unstored`: the same with `store: false` (a plain relay of the model
//!   call, translated into typed events).
//!
//! `chat` is compared with `direct`, and `stored` and `unstored` with
//! `chat` (and with `direct`). All paths run in the same process against
//! the same mock, and `BENCH_PASSES` times over, interleaved (each pass
//! runs every path once, steady then burst, the order of the server's
//! paths rotated from pass to pass), so that a neighbour's load falls on
//! all of them alike; the tables give the median of the passes and their
//! range.
//!
//! The mock writes its send time into every chunk (`t=<ns> `), so a
//! chunk's delay is its arrival time here minus that; both processes read
//! the same clock. An *event* is an SSE frame carrying text: a chat chunk,
//! or a `response.output_text.delta`. A stored response's delta may hold
//! several chunks concatenated (the server writes every chunk that has
//! already arrived in one batch): an event's delay is that of its *first*
//! (oldest) chunk, the worst of them; the delay of every chunk is reported
//! besides. Time to first token (TTFT) runs from just before the request is
//! sent to the arrival of the first event.
//!
//! A response stream counts as failed unless its events are numbered
//! 0, 1, 2, … without a gap, it carries every chunk once, its
//! `response.output_text.done` text is its deltas joined, and it ends with
//! `response.completed`.
//!
//!   BENCH_DIRECT=http://127.0.0.1:8789/v1/chat/completions \
//!   BENCH_SERVER=http://127.0.0.1:8787/api/v1 BENCH_KEY=xl_… \
//!   BENCH_PATHS="direct chat stored unstored" BENCH_STREAMS=100 \
//!   BENCH_ROUNDS=5 BENCH_PASSES=3 stream_bench
//!
//! `BENCH_DUMP=<file>` also writes one line per stream and per event of the
//! response paths (send, first-event and arrival times in Unix ns, the
//! first chunk's stamp), to be joined with the server's event log
//! (`scripts/bench/responses-profile`). With `BENCH_SERVER_PID` it also
//! prints the server's CPU time per stream by thread, and the bytes it
//! wrote to storage, from `/proc`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{Value, json};

/// What a path is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Surface {
    /// Chat completions' `data: {chunk}` frames ending with `[DONE]`.
    Chat,
    /// The Responses API's typed events; stored or not.
    Responses { store: bool },
}

/// One path measured.
struct Target {
    /// Its name in `BENCH_PATHS` and in the dump.
    name: &'static str,
    /// Its name in the tables.
    label: &'static str,
    url: String,
    key: Option<String>,
    surface: Surface,
}

/// What one stream measured.
#[derive(Default)]
struct Outcome {
    /// Time to the first event, ms.
    ttft: f64,
    /// Time to the first frame of any kind (`response.created`), ms.
    first_frame: f64,
    /// Each event's delay (its first chunk's), ms, and its chunk count.
    events: Vec<(f64, usize)>,
    /// Every chunk's delay, ms.
    chunks: Vec<f64>,
    /// Dump lines.
    dump: String,
}

/// What one run of rounds on one path measured.
#[derive(Default)]
struct Samples {
    ttft: Vec<f64>,
    first_frame: Vec<f64>,
    event: Vec<f64>,
    chunk: Vec<f64>,
    /// Events holding more than one chunk.
    joined: usize,
    failures: usize,
    streams: usize,
    dump: String,
    /// The server's CPU time over the run, ms, by thread group.
    cpu: BTreeMap<String, f64>,
}

/// The figures of one run, as the tables use them.
#[derive(Clone, Default)]
struct Figures {
    streams: usize,
    events: usize,
    chunks: usize,
    failures: usize,
    joined: usize,
    ttft50: f64,
    ttft99: f64,
    event50: f64,
    event99: f64,
    chunk50: f64,
    chunk99: f64,
    frame50: f64,
    frame99: f64,
    /// The server's CPU time per stream, ms, by thread group.
    cpu: BTreeMap<String, f64>,
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The send times (ns) of the chunks in a text, in order.
fn stamps(text: &str, out: &mut Vec<u128>) {
    let mut rest = text;
    while let Some(at) = rest.find("t=") {
        rest = &rest[at + 2..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if let Ok(stamp) = rest[..end].parse() {
            out.push(stamp);
        }
        rest = &rest[end..];
    }
}

#[allow(clippy::cast_precision_loss)]
fn ms_since(arrived: u128, stamp: u128) -> f64 {
    arrived.saturating_sub(stamp) as f64 / 1e6
}

/// An SSE frame's `event:` and `data:` fields.
fn fields(frame: &str) -> (Option<&str>, Option<&str>) {
    let (mut event, mut data) = (None, None);
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("event: ") {
            event = Some(value);
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = Some(value);
        }
    }
    (event, data)
}

/// Where a response stream stands, checked as its frames arrive.
#[derive(Default)]
struct TypedCheck {
    next_seq: i64,
    text: String,
    done_text: Option<String>,
    completed: bool,
}

impl TypedCheck {
    /// Checks one typed event; returns the delta text it carries, if any.
    fn frame(&mut self, frame: &str) -> Result<Option<String>, String> {
        let (kind, data) = fields(frame);
        let Some(data) = data else {
            // A keep-alive comment.
            return Ok(None);
        };
        let kind = kind.ok_or_else(|| format!("a frame without its event: {frame}"))?;
        if self.completed {
            return Err(format!("{kind} after response.completed"));
        }
        let value: Value =
            serde_json::from_str(data).map_err(|err| format!("{kind}: bad JSON ({err})"))?;
        if value["type"] != kind {
            return Err(format!("{kind} whose type is {}", value["type"]));
        }
        let seq = value["sequence_number"].as_i64().unwrap_or(-1);
        if seq != self.next_seq {
            return Err(format!("{kind} numbered {seq}, {} expected", self.next_seq));
        }
        self.next_seq += 1;
        match kind {
            "response.output_text.delta" => {
                let delta = value["delta"].as_str().unwrap_or_default().to_owned();
                self.text.push_str(&delta);
                return Ok(Some(delta));
            }
            "response.output_text.done" => {
                self.done_text = value["text"].as_str().map(str::to_owned);
            }
            "response.completed" => self.completed = true,
            "error" | "response.failed" | "response.incomplete" => {
                return Err(format!("{kind}: {data}"));
            }
            _ => {}
        }
        Ok(None)
    }

    fn end(&self) -> Result<(), String> {
        if !self.completed {
            return Err("the stream ended without response.completed".into());
        }
        if self.done_text.as_deref() != Some(self.text.as_str()) {
            return Err("response.output_text.done is not the deltas joined".into());
        }
        Ok(())
    }
}

fn request_body(surface: Surface) -> Value {
    match surface {
        Surface::Chat => json!({
            "model": "gpt-4o-mini",
            "stream": true,
            "messages": [{"role": "user", "content": "stream, please"}]
        }),
        Surface::Responses { store } => json!({
            "model": "gpt-4o-mini",
            "stream": true,
            "store": store,
            "input": "stream, please"
        }),
    }
}

async fn one_stream(
    client: &reqwest::Client,
    target: &Target,
    label: &str,
    chunks: usize,
) -> Result<Outcome, String> {
    let mut request = client.post(&target.url).json(&request_body(target.surface));
    if let Some(key) = &target.key {
        request = request.bearer_auth(key);
    }
    let sent_at = unix_nanos();
    let started = Instant::now();
    let response = request.send().await.map_err(|err| err.to_string())?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!("status {status}: {text}"));
    }
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let mut outcome = Outcome {
        ttft: f64::NAN,
        first_frame: f64::NAN,
        events: Vec::with_capacity(chunks),
        chunks: Vec::with_capacity(chunks),
        dump: String::new(),
    };
    let mut typed = TypedCheck::default();
    let mut found = Vec::new();
    let mut done = false;
    let mut first_event_at = 0;
    while let Some(piece) = body.next().await {
        let arrived = unix_nanos();
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        buffer.extend_from_slice(&piece.map_err(|err| err.to_string())?);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            let frame = String::from_utf8_lossy(&frame);
            if outcome.first_frame.is_nan() && !frame.starts_with(':') {
                outcome.first_frame = elapsed;
            }
            found.clear();
            match target.surface {
                Surface::Chat => {
                    if frame.starts_with("data: [DONE]") {
                        done = true;
                    }
                    if frame.contains("\"error\":") {
                        return Err(format!("error frame {frame}"));
                    }
                    stamps(&frame, &mut found);
                }
                Surface::Responses { .. } => {
                    if let Some(delta) = typed.frame(&frame)? {
                        stamps(&delta, &mut found);
                    }
                }
            }
            let Some(first) = found.first() else {
                continue;
            };
            if outcome.ttft.is_nan() {
                outcome.ttft = elapsed;
                first_event_at = arrived;
            }
            outcome
                .events
                .push((ms_since(arrived, *first), found.len()));
            outcome
                .chunks
                .extend(found.iter().map(|stamp| ms_since(arrived, *stamp)));
            if matches!(target.surface, Surface::Responses { .. }) {
                let _ = writeln!(
                    outcome.dump,
                    "E {} {label} {first} {arrived} {}",
                    target.name,
                    found.len()
                );
            }
        }
    }
    match target.surface {
        Surface::Chat if !done => return Err("no [DONE]".into()),
        Surface::Chat => {}
        Surface::Responses { .. } => {
            typed.end()?;
            let _ = writeln!(
                outcome.dump,
                "S {} {label} {sent_at} {first_event_at}",
                target.name
            );
        }
    }
    if outcome.chunks.len() != chunks {
        return Err(format!(
            "{} chunks of {chunks} arrived",
            outcome.chunks.len()
        ));
    }
    Ok(outcome)
}

/// CPU time (ms) of each thread group of a process, from
/// `/proc/<pid>/task/*/stat` (threads named alike, trailing digits
/// dropped, are one group), with the whole process's as [`TOTAL`] and the
/// KiB it has written to storage as [`WRITTEN`].
fn cpu_by_thread(pid: u32) -> BTreeMap<String, f64> {
    let mut groups = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return groups;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
        // After the name: state (field 3) … utime (14), stime (15).
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |at: usize| {
            rest.get(at)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // /proc counts in USER_HZ, 100 a second on Linux.
        let ms = (ticks(11) + ticks(12)) * 10.0;
        *groups.entry(name.to_owned()).or_insert(0.0) += ms;
    }
    // The whole process, threads that have ended included.
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        && let Some(close) = stat.rfind(')')
    {
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |at: usize| {
            rest.get(at)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        groups.insert(TOTAL.to_owned(), (ticks(11) + ticks(12)) * 10.0);
    }
    // Bytes the process caused to be written to storage, in KiB.
    if let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io"))
        && let Some(line) = io.lines().find(|line| line.starts_with("write_bytes:"))
        && let Ok(bytes) = line["write_bytes:".len()..].trim().parse::<f64>()
    {
        groups.insert(WRITTEN.to_owned(), bytes / 1024.0);
    }
    groups
}

/// The entry of [`cpu_by_thread`] that is the bytes written, not a thread.
const WRITTEN: &str = "(KiB written)";

/// The whole process's entry in [`cpu_by_thread`].
const TOTAL: &str = "(all threads)";

/// How the streams start.
#[derive(Clone, Copy)]
enum Arrivals {
    /// Each of the `streams` lanes starts after its share of this spread
    /// and then runs its streams back to back, so that, once all have
    /// started, about `streams` streams are always in flight and new ones
    /// arrive evenly, as from many independent clients.
    Spread(Duration),
    /// All streams of a round start together: a synthetic thundering herd.
    Burst,
}

impl Arrivals {
    fn label(self) -> &'static str {
        match self {
            Arrivals::Spread(_) => "steady",
            Arrivals::Burst => "burst",
        }
    }
}

/// Runs `rounds` streams on each of `streams` lanes.
async fn run(
    client: &reqwest::Client,
    target: &Target,
    (streams, rounds, chunks): (usize, usize, usize),
    arrivals: Arrivals,
    server_pid: Option<u32>,
) -> Samples {
    let mut samples = Samples::default();
    let label = arrivals.label();
    let cpu_before = server_pid.map(cpu_by_thread).unwrap_or_default();
    match arrivals {
        Arrivals::Spread(spread) => {
            let lanes = u32::try_from(streams.max(1)).unwrap_or(1);
            let lane = |n: u32| async move {
                tokio::time::sleep(spread * n / lanes).await;
                let mut results = Vec::with_capacity(rounds);
                for _ in 0..rounds {
                    results.push(one_stream(client, target, label, chunks).await);
                }
                results
            };
            let all = futures_util::future::join_all((0..lanes).map(lane)).await;
            samples.absorb(target, all.into_iter().flatten());
        }
        Arrivals::Burst => {
            for _ in 0..rounds {
                let round = futures_util::future::join_all(
                    (0..streams).map(|_| one_stream(client, target, label, chunks)),
                )
                .await;
                samples.absorb(target, round);
            }
        }
    }
    // Lets the last connections and records settle before the next run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(pid) = server_pid {
        for (group, after) in cpu_by_thread(pid) {
            let before = cpu_before.get(&group).copied().unwrap_or(0.0);
            samples.cpu.insert(group, after - before);
        }
    }
    samples
}

impl Samples {
    fn absorb(
        &mut self,
        target: &Target,
        results: impl IntoIterator<Item = Result<Outcome, String>>,
    ) {
        for result in results {
            self.streams += 1;
            match result {
                Ok(outcome) => {
                    self.ttft.push(outcome.ttft);
                    self.first_frame.push(outcome.first_frame);
                    for (delay, joined) in outcome.events {
                        self.event.push(delay);
                        self.joined += usize::from(joined > 1);
                    }
                    self.chunk.extend(outcome.chunks);
                    self.dump.push_str(&outcome.dump);
                }
                Err(reason) => {
                    if self.failures < 3 {
                        eprintln!("{}: {reason}", target.label);
                    }
                    self.failures += 1;
                }
            }
        }
    }

    fn figures(&mut self) -> Figures {
        Figures {
            streams: self.streams,
            events: self.event.len(),
            chunks: self.chunk.len(),
            failures: self.failures,
            joined: self.joined,
            ttft50: percentile(&mut self.ttft, 0.50),
            ttft99: percentile(&mut self.ttft, 0.99),
            event50: percentile(&mut self.event, 0.50),
            event99: percentile(&mut self.event, 0.99),
            chunk50: percentile(&mut self.chunk, 0.50),
            chunk99: percentile(&mut self.chunk, 0.99),
            frame50: percentile(&mut self.first_frame, 0.50),
            frame99: percentile(&mut self.first_frame, 0.99),
            cpu: {
                #[allow(clippy::cast_precision_loss)]
                let streams = self.streams.max(1) as f64;
                self.cpu
                    .iter()
                    .map(|(group, ms)| (group.clone(), ms / streams))
                    .collect()
            },
        }
    }
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

/// The median of the passes' values, and their range when there are several.
fn spread(mut values: Vec<f64>, bold: bool) -> String {
    values.sort_by(f64::total_cmp);
    let median = if values.is_empty() {
        f64::NAN
    } else if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
    };
    let mark = if bold { "**" } else { "" };
    match (values.first(), values.last()) {
        (Some(low), Some(high)) if values.len() > 1 => {
            format!("{mark}{median:.2}{mark} ({low:.2}–{high:.2})")
        }
        _ => format!("{mark}{median:.2}{mark}"),
    }
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

/// The paths named in `BENCH_PATHS`, in a fixed order.
fn targets() -> Vec<Target> {
    let direct = env_or("BENCH_DIRECT", "http://127.0.0.1:8789/v1/chat/completions");
    let server = env_or("BENCH_SERVER", "http://127.0.0.1:8787/api/v1");
    let server = server.trim_end_matches('/');
    let key = std::env::var("BENCH_KEY").ok();
    let wanted = env_or("BENCH_PATHS", "direct chat");
    let wanted: Vec<&str> = wanted.split_whitespace().collect();
    let all = [
        (
            "direct",
            "straight to the mock",
            direct,
            None,
            Surface::Chat,
        ),
        (
            "chat",
            "chat completions through xl",
            format!("{server}/chat/completions"),
            key.clone(),
            Surface::Chat,
        ),
        (
            "stored",
            "/responses, stored",
            format!("{server}/responses"),
            key.clone(),
            Surface::Responses { store: true },
        ),
        (
            "unstored",
            "/responses, store: false",
            format!("{server}/responses"),
            key,
            Surface::Responses { store: false },
        ),
    ];
    for name in &wanted {
        if !all.iter().any(|(known, ..)| known == name) {
            eprintln!("BENCH_PATHS: unknown path {name} (direct chat stored unstored)");
            std::process::exit(2);
        }
    }
    all.into_iter()
        .filter(|(name, ..)| wanted.contains(name))
        .map(|(name, label, url, key, surface)| Target {
            name,
            label,
            url,
            key,
            surface,
        })
        .collect()
}

/// The figures of every pass, by arrivals and path.
struct Results {
    /// `[arrivals][path][pass]`.
    runs: Vec<Vec<Vec<Figures>>>,
}

impl Results {
    fn of(&self, arrivals: usize, path: usize) -> &[Figures] {
        &self.runs[arrivals][path]
    }

    fn pick(&self, arrivals: usize, path: usize, get: impl Fn(&Figures) -> f64) -> Vec<f64> {
        self.of(arrivals, path).iter().map(get).collect()
    }

    /// Per pass, `path`'s figure minus `base`'s.
    fn added(
        &self,
        arrivals: usize,
        path: usize,
        base: usize,
        get: impl Fn(&Figures) -> f64,
    ) -> Vec<f64> {
        self.of(arrivals, path)
            .iter()
            .zip(self.of(arrivals, base))
            .map(|(path, base)| get(path) - get(base))
            .collect()
    }

    fn total(&self, arrivals: usize, path: usize, get: impl Fn(&Figures) -> usize) -> usize {
        self.of(arrivals, path).iter().map(get).sum()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let targets = targets();
    let streams = env_number("BENCH_STREAMS", 100);
    let rounds = env_number("BENCH_ROUNDS", 5);
    let passes = env_number("BENCH_PASSES", 1).max(1);
    let chunks = env_number("MOCK_CHUNKS", 50);
    let dump_to = std::env::var("BENCH_DUMP").ok();
    // The server's process, to take its CPU time by thread around each run.
    let server_pid: Option<u32> = std::env::var("BENCH_SERVER_PID")
        .ok()
        .and_then(|pid| pid.parse().ok());
    // The workspace's client: rustls on ring, pooled connections.
    let client = xl_services::http_client();
    let pace = Duration::from_millis(u64::try_from(env_number("MOCK_PACE_MS", 20)).unwrap_or(20));
    let stream_length = pace * u32::try_from(chunks.saturating_sub(1)).unwrap_or(0);
    let shape = (streams, rounds, chunks);
    let modes = [Arrivals::Spread(stream_length), Arrivals::Burst];

    // Warm-up: connection pools on both hops, the server's first writes.
    for target in &targets {
        run(
            &client,
            target,
            (streams, 1, chunks),
            Arrivals::Burst,
            server_pid,
        )
        .await;
    }

    let mut results = Results {
        runs: vec![vec![Vec::new(); targets.len()]; modes.len()],
    };
    let mut dump = String::new();
    // The server's paths (all but `direct`) rotate from pass to pass.
    let server_paths: Vec<usize> = (0..targets.len())
        .filter(|&at| targets[at].name != "direct")
        .collect();
    for pass in 0..passes {
        let mut order: Vec<usize> = (0..targets.len())
            .filter(|&at| targets[at].name == "direct")
            .collect();
        let mut rotated = server_paths.clone();
        if !rotated.is_empty() {
            let by = pass % rotated.len();
            rotated.rotate_left(by);
        }
        order.extend(rotated);
        for (mode, arrivals) in modes.iter().enumerate() {
            for &at in &order {
                let mut samples = run(&client, &targets[at], shape, *arrivals, server_pid).await;
                dump.push_str(&samples.dump);
                let figures = samples.figures();
                eprintln!(
                    "pass {} {} {}: TTFT p50 {:.2} p99 {:.2}, event p50 {:.2} p99 {:.2} ms, {} failed",
                    pass + 1,
                    arrivals.label(),
                    targets[at].label,
                    figures.ttft50,
                    figures.ttft99,
                    figures.event50,
                    figures.event99,
                    figures.failures
                );
                results.runs[mode][at].push(figures);
            }
        }
    }
    if let Some(path) = dump_to {
        let written =
            std::fs::File::create(&path).and_then(|mut file| file.write_all(dump.as_bytes()));
        if let Err(err) = written {
            eprintln!("BENCH_DUMP {path}: {err}");
        }
    }
    print_tables(&targets, &modes, &results, passes);
    if server_pid.is_some() {
        print_cpu(&targets, &modes, &results, &median_note(passes));
    }
}

fn median_note(passes: usize) -> String {
    if passes > 1 {
        format!("median of {passes} passes (range)")
    } else {
        "one pass".to_owned()
    }
}

/// The server's CPU time per stream by thread group, for every path.
fn print_cpu(targets: &[Target], modes: &[Arrivals], results: &Results, note: &str) {
    let mut groups: Vec<String> = Vec::new();
    for runs in &results.runs {
        for path in runs {
            for figures in path {
                for (group, ms) in &figures.cpu {
                    if group != TOTAL && group != WRITTEN && *ms > 0.0 && !groups.contains(group) {
                        groups.push(group.clone());
                    }
                }
            }
        }
    }
    groups.sort();
    println!();
    println!(
        "The server's CPU time per stream, ms ({note}), by thread, and what it wrote to storage per stream:"
    );
    println!();
    let mut header = "| arrivals | path | KiB written | all threads |".to_owned();
    let mut rule = "|---|---|---|---|".to_owned();
    for group in &groups {
        let _ = write!(header, " {group} |");
        rule.push_str("---|");
    }
    println!("{header}");
    println!("{rule}");
    for (mode, arrivals) in modes.iter().enumerate() {
        for (at, target) in targets.iter().enumerate() {
            if target.name == "direct" {
                continue;
            }
            let cell = |group: &str| {
                spread(
                    results.pick(mode, at, |f| f.cpu.get(group).copied().unwrap_or(0.0)),
                    false,
                )
            };
            let mut line = format!(
                "| {} | {} | {} | {} |",
                arrivals.label(),
                target.label,
                cell(WRITTEN),
                cell(TOTAL)
            );
            for group in &groups {
                let _ = write!(line, " {} |", cell(group));
            }
            println!("{line}");
        }
    }
}

fn print_tables(targets: &[Target], modes: &[Arrivals], results: &Results, passes: usize) {
    let index = |name: &str| targets.iter().position(|target| target.name == name);
    let (direct, chat) = (index("direct"), index("chat"));
    let median_note = median_note(passes);
    println!("Every path, {median_note}; times in ms:");
    println!();
    println!(
        "| arrivals | path | streams | events | chunks | failed | TTFT p50 | TTFT p99 | event delay p50 | event delay p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (mode, arrivals) in modes.iter().enumerate() {
        for (at, target) in targets.iter().enumerate() {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                arrivals.label(),
                target.label,
                results.total(mode, at, |f| f.streams),
                results.total(mode, at, |f| f.events),
                results.total(mode, at, |f| f.chunks),
                results.total(mode, at, |f| f.failures),
                spread(results.pick(mode, at, |f| f.ttft50), false),
                spread(results.pick(mode, at, |f| f.ttft99), false),
                spread(results.pick(mode, at, |f| f.event50), false),
                spread(results.pick(mode, at, |f| f.event99), false),
            );
        }
    }

    // What each path adds to the one it is compared with, per pass.
    let mut comparisons = Vec::new();
    if let (Some(chat), Some(direct)) = (chat, direct) {
        comparisons.push((chat, direct, "chat completions over the mock"));
    }
    for name in ["stored", "unstored"] {
        let Some(at) = index(name) else { continue };
        if let Some(chat) = chat {
            let label = if name == "stored" {
                "/responses stored over chat completions"
            } else {
                "/responses store:false over chat completions"
            };
            comparisons.push((at, chat, label));
        }
        if let Some(direct) = direct {
            let label = if name == "stored" {
                "/responses stored over the mock"
            } else {
                "/responses store:false over the mock"
            };
            comparisons.push((at, direct, label));
        }
    }
    if !comparisons.is_empty() {
        println!();
        println!("Added, each pass's difference within the pass, {median_note}; ms:");
        println!();
        println!(
            "| arrivals | added by | TTFT p50 | TTFT p99 | event delay p50 | event delay p99 |"
        );
        println!("|---|---|---|---|---|---|");
        for (mode, arrivals) in modes.iter().enumerate() {
            for (path, base, label) in &comparisons {
                println!(
                    "| {} | {label} | {} | {} | {} | {} |",
                    arrivals.label(),
                    spread(results.added(mode, *path, *base, |f| f.ttft50), true),
                    spread(results.added(mode, *path, *base, |f| f.ttft99), true),
                    spread(results.added(mode, *path, *base, |f| f.event50), true),
                    spread(results.added(mode, *path, *base, |f| f.event99), true),
                );
            }
        }
    }

    let responses: Vec<usize> = ["stored", "unstored"]
        .iter()
        .filter_map(|name| index(name))
        .collect();
    if !responses.is_empty() {
        println!();
        println!(
            "The response paths in detail ({median_note}; ms): time to the first frame (`response.created`), every chunk's delay (not only each event's first), and the deltas holding more than one chunk:"
        );
        println!();
        println!(
            "| arrivals | path | first frame p50 | first frame p99 | chunk delay p50 | chunk delay p99 | deltas with >1 chunk |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (mode, arrivals) in modes.iter().enumerate() {
            for &at in &responses {
                let joined = results.total(mode, at, |f| f.joined);
                let events = results.total(mode, at, |f| f.events).max(1);
                #[allow(clippy::cast_precision_loss)]
                let share = 100.0 * joined as f64 / events as f64;
                println!(
                    "| {} | {} | {} | {} | {} | {} | {joined} ({share:.1}%) |",
                    arrivals.label(),
                    targets[at].label,
                    spread(results.pick(mode, at, |f| f.frame50), false),
                    spread(results.pick(mode, at, |f| f.frame99), false),
                    spread(results.pick(mode, at, |f| f.chunk50), false),
                    spread(results.pick(mode, at, |f| f.chunk99), false),
                );
            }
        }
    }
}
