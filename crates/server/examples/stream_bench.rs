//! The client of `scripts/bench/streaming`: runs `BENCH_STREAMS` concurrent
//! streamed chat completions, `BENCH_ROUNDS` each, straight against the mock
//! upstream (`examples/mock_openai.rs`) and then through the server, and
//! prints a Markdown table of time to first byte and per-chunk delay (p50,
//! p99) for both, and what the server adds. Twice: with arrivals spread out
//! (steady state: as many streams in flight, new ones arriving evenly) and
//! with every stream of a round starting at once (a burst).
//!
//! The mock writes its send time into every chunk (`t=<ns>`), so a chunk's
//! delay is its arrival time here minus that; both processes read the same
//! clock. Time to first byte runs from just before the request is sent to
//! the arrival of the first text chunk.
//!
//!   BENCH_DIRECT=http://127.0.0.1:8789/v1/chat/completions \
//!   BENCH_SERVER=http://127.0.0.1:8787/api/v1/chat/completions \
//!   BENCH_KEY=xl_… BENCH_STREAMS=100 BENCH_ROUNDS=5 stream_bench

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::json;

/// What one run of rounds measured.
#[derive(Default)]
struct Samples {
    /// Time to the first text chunk, per stream, in ms.
    ttfb: Vec<f64>,
    /// Send-to-arrival delay of every text chunk, in ms.
    chunk: Vec<f64>,
    /// Streams that failed or lost chunks.
    failures: usize,
    streams: usize,
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The send times (ns) of the text chunks in one SSE frame.
fn stamps(frame: &[u8], out: &mut Vec<u128>) {
    let text = String::from_utf8_lossy(frame);
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("t=") {
        rest = &rest[at + 2..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(stamp) = digits.parse() {
            out.push(stamp);
        }
    }
}

async fn one_stream(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    chunks: usize,
) -> Option<(f64, Vec<f64>)> {
    let body = json!({
        "model": "gpt-4o-mini",
        "stream": true,
        "messages": [{"role": "user", "content": "stream, please"}]
    });
    let mut request = client.post(url).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let started = Instant::now();
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        eprintln!("{url}: status {}", response.status());
        return None;
    }
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let mut ttfb = None;
    let mut delays = Vec::with_capacity(chunks);
    let mut found = Vec::new();
    let mut done = false;
    while let Some(piece) = body.next().await {
        let arrived = unix_nanos();
        let elapsed = started.elapsed();
        buffer.extend_from_slice(&piece.ok()?);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            if frame.starts_with(b"data: [DONE]") {
                done = true;
            }
            if frame.windows(8).any(|w| w == b"\"error\":") {
                eprintln!("{url}: error frame {}", String::from_utf8_lossy(&frame));
                return None;
            }
            found.clear();
            stamps(&frame, &mut found);
            for stamp in &found {
                if ttfb.is_none() {
                    ttfb = Some(elapsed.as_secs_f64() * 1000.0);
                }
                #[allow(clippy::cast_precision_loss)]
                delays.push(arrived.saturating_sub(*stamp) as f64 / 1e6);
            }
        }
    }
    (done && delays.len() == chunks).then_some((ttfb?, delays))
}

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

/// Runs `rounds` streams on each of `streams` lanes.
async fn run(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    (streams, rounds, chunks): (usize, usize, usize),
    arrivals: Arrivals,
) -> Samples {
    let mut samples = Samples::default();
    match arrivals {
        Arrivals::Spread(spread) => {
            let lanes = u32::try_from(streams.max(1)).unwrap_or(1);
            let lane = |n: u32| async move {
                tokio::time::sleep(spread * n / lanes).await;
                let mut results = Vec::with_capacity(rounds);
                for _ in 0..rounds {
                    results.push(one_stream(client, url, key, chunks).await);
                }
                results
            };
            let all = futures_util::future::join_all((0..lanes).map(lane)).await;
            samples.absorb(all.into_iter().flatten());
        }
        Arrivals::Burst => {
            for _ in 0..rounds {
                let round = futures_util::future::join_all(
                    (0..streams).map(|_| one_stream(client, url, key, chunks)),
                )
                .await;
                samples.absorb(round);
            }
        }
    }
    // Lets the last connections and records settle before the next run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    samples
}

impl Samples {
    fn absorb(&mut self, results: impl IntoIterator<Item = Option<(f64, Vec<f64>)>>) {
        for result in results {
            self.streams += 1;
            match result {
                Some((ttfb, delays)) => {
                    self.ttfb.push(ttfb);
                    self.chunk.extend(delays);
                }
                None => self.failures += 1,
            }
        }
    }

    /// Prints a table row and returns the four percentiles.
    fn row(&mut self, arrivals: &str, path: &str) -> [f64; 4] {
        let cells = [
            percentile(&mut self.ttfb, 0.50),
            percentile(&mut self.ttfb, 0.99),
            percentile(&mut self.chunk, 0.50),
            percentile(&mut self.chunk, 0.99),
        ];
        println!(
            "| {arrivals} | {path} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            self.streams,
            self.chunk.len(),
            self.failures,
            cells[0],
            cells[1],
            cells[2],
            cells[3]
        );
        cells
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
async fn main() {
    let direct = env_or("BENCH_DIRECT", "http://127.0.0.1:8789/v1/chat/completions");
    let server = env_or(
        "BENCH_SERVER",
        "http://127.0.0.1:8787/api/v1/chat/completions",
    );
    let key = std::env::var("BENCH_KEY").ok();
    let streams = env_number("BENCH_STREAMS", 100);
    let rounds = env_number("BENCH_ROUNDS", 5);
    let chunks = env_number("MOCK_CHUNKS", 50);
    // The workspace's client: rustls on ring, pooled connections.
    let client = xl_services::http_client();
    let pace = Duration::from_millis(u64::try_from(env_number("MOCK_PACE_MS", 20)).unwrap_or(20));
    let stream_length = pace * u32::try_from(chunks.saturating_sub(1)).unwrap_or(0);
    let shape = (streams, rounds, chunks);

    // Warm-up: connection pools on both hops, the server's first writes.
    let warm = (streams, 1, chunks);
    run(&client, &direct, None, warm, Arrivals::Burst).await;
    run(&client, &server, key.as_deref(), warm, Arrivals::Burst).await;

    println!(
        "| arrivals | path | streams | chunks | failed | TTFB p50 ms | TTFB p99 ms | chunk delay p50 ms | chunk delay p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, arrivals) in [
        ("steady", Arrivals::Spread(stream_length)),
        ("burst", Arrivals::Burst),
    ] {
        let base = run(&client, &direct, None, shape, arrivals)
            .await
            .row(label, "straight to the mock");
        let via = run(&client, &server, key.as_deref(), shape, arrivals)
            .await
            .row(label, "through xl");
        println!(
            "| {label} | **added by xl** | | | | **{:.2}** | **{:.2}** | **{:.2}** | **{:.2}** |",
            via[0] - base[0],
            via[1] - base[1],
            via[2] - base[2],
            via[3] - base[3]
        );
    }
}
