//! The load the bench drives through [`Api`] (sequential jobs, concurrent
//! submits, waiting for the rail to drain).

pub use super::api::Api;
use super::stack::Stack;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the queue may take to drain after a phase.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How often a drain asks whether jobs are still queued or running: two
/// API requests (two SQL queries) per poll, part of the per-job costs the
/// bench prints, so not too often.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// The value at fraction `p` of sorted durations, in ms.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// Polls job `id` every `every` until it succeeds (error when it fails or
/// a process of the stack dies).
pub async fn wait_job(stack: &Stack, id: &str, every: Duration) -> Result<Value> {
    loop {
        let job = stack.api.job(id).await?;
        match job["status"].as_str() {
            Some("succeeded") => return Ok(job),
            Some("failed" | "cancelled") => bail!("job {id} did not succeed: {job}"),
            _ => {
                stack.check()?;
                tokio::time::sleep(every).await;
            }
        }
    }
}

/// Sequential small wordcount jobs, each timed from submit to succeeded
/// (polled every millisecond); sorted latencies.
pub async fn sequential(stack: &Stack, n: usize) -> Result<Vec<Duration>> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let body = format!("job {i}: a small input of a few words\n");
        let id = stack.api.submit("wordcount", body).await?;
        wait_job(stack, &id, Duration::from_millis(1)).await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    Ok(lat)
}

/// How late the answers that wait for a job arrive: for `n` small wordcount
/// jobs each, one followed with `GET /v1/jobs/{id}?wait=30` and one with
/// `GET /v1/jobs/{id}/events`, the time from the job's recorded end
/// (`finished_at`, ms) to the final answer's arrival; sorted, (long poll,
/// events).
pub async fn waiting(stack: &Stack, n: usize) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut polled, mut streamed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let id = stack
            .api
            .submit("wordcount", format!("waited {i}\n"))
            .await?;
        let url = format!("{}/v1/jobs/{id}?wait=30", stack.api.base);
        let job: Value = stack.api.http.get(&url).send().await?.json().await?;
        polled.push(late(&job, chrono::Utc::now())?);

        let id = stack
            .api
            .submit("wordcount", format!("streamed {i}\n"))
            .await?;
        let url = format!("{}/v1/jobs/{id}/events", stack.api.base);
        let mut body = stack.api.http.get(&url).send().await?.bytes_stream();
        let mut text = String::new();
        let arrived = loop {
            let Some(chunk) = body.next().await else {
                bail!("the events of {id} ended without `done`: {text}");
            };
            text.push_str(&String::from_utf8_lossy(&chunk?));
            if text.contains("event: done") {
                break chrono::Utc::now();
            }
        };
        let done = text
            .split("event: done\ndata: ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .context("a `done` event with data")?;
        streamed.push(late(&serde_json::from_str(done)?, arrived)?);
    }
    polled.sort();
    streamed.sort();
    Ok((polled, streamed))
}

/// `arrived` − the job's `finished_at`; an error unless it succeeded.
fn late(job: &Value, arrived: chrono::DateTime<chrono::Utc>) -> Result<Duration> {
    if job["status"] != "succeeded" {
        bail!("a waited-for job answered before its end: {job}");
    }
    let ended: chrono::DateTime<chrono::Utc> = job["finished_at"]
        .as_str()
        .context("finished_at")?
        .parse()?;
    Ok((arrived - ended).to_std().unwrap_or_default())
}

/// What a burst of concurrent submits measured.
pub struct Burst {
    /// Latency of each submit, sorted.
    pub latencies: Vec<Duration>,
    /// From the first submit to the last answer.
    pub elapsed: Duration,
}

/// Submits `n` wordcount jobs from `clients` concurrent clients; `body(i)`
/// is the input of the i-th.
pub async fn burst(
    stack: &Stack,
    n: usize,
    clients: usize,
    body: impl Fn(usize) -> Bytes,
) -> Result<Burst> {
    let start = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..n)
        .map(|i| {
            let body = body(i);
            async move {
                let t = Instant::now();
                stack.api.submit("wordcount", body).await?;
                Ok::<_, anyhow::Error>(t.elapsed())
            }
        })
        .buffer_unordered(clients.max(1))
        .try_collect()
        .await?;
    let elapsed = start.elapsed();
    latencies.sort();
    Ok(Burst { latencies, elapsed })
}

/// Waits until no job is queued or running (seen twice in a row, DRAIN_POLL
/// apart), then checks that no job failed and that `expected` succeeded in
/// all. Returns when the queue was first seen empty.
pub async fn drain(stack: &Stack, expected: usize) -> Result<Instant> {
    let started = Instant::now();
    let mut idle_since = None;
    loop {
        stack.check()?;
        let busy = stack.api.any("queued").await? || stack.api.any("running").await?;
        match (busy, idle_since) {
            (true, _) => idle_since = None,
            (false, None) => idle_since = Some(Instant::now()),
            (false, Some(_)) => break,
        }
        if started.elapsed() > DRAIN_TIMEOUT {
            bail!("jobs still queued or running after {DRAIN_TIMEOUT:?}");
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    for status in ["failed", "cancelled"] {
        let (n, first) = stack.api.count(status).await?;
        if n > 0 {
            let first = first.unwrap_or_default();
            bail!("{n} jobs {status}; the newest: {first}");
        }
    }
    let (succeeded, _) = stack.api.count("succeeded").await?;
    if succeeded != expected {
        bail!("{succeeded} jobs succeeded, expected {expected}");
    }
    idle_since.context("the queue was never seen empty")
}

/// What an open-loop run measured.
pub struct OpenLoop {
    /// Latency of each submit from the instant it was due (not from when
    /// it was sent: a stalled server delays the later ones too), sorted.
    pub latencies: Vec<Duration>,
    /// Submits per second actually answered.
    pub achieved: f64,
    /// The slowest submits: when each was due (since the start) and how
    /// long it took, slowest first (at most [`SLOWEST`]).
    pub slowest: Vec<(Duration, Duration)>,
}

/// Slowest submits an open-loop run keeps, to tell one stall from many.
const SLOWEST: usize = 3;

/// Submits `n` wordcount jobs at a fixed offered `rate` per second, each
/// when it is due whatever the earlier ones are doing (open loop), and
/// times each from its due instant to its answer.
pub async fn open_loop(
    stack: &Stack,
    rate: f64,
    n: usize,
    body: impl Fn(usize) -> Bytes,
) -> Result<OpenLoop> {
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let (api, body) = (stack.api.clone(), body(i));
        tasks.spawn(async move {
            api.submit("wordcount", body).await?;
            Ok::<_, anyhow::Error>((due - start, due.elapsed()))
        });
    }
    let mut timed = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        timed.push(r??);
    }
    let achieved = n as f64 / start.elapsed().as_secs_f64();
    timed.sort_by_key(|&(_, took)| took);
    let slowest = timed.iter().rev().take(SLOWEST).copied().collect();
    let latencies = timed.into_iter().map(|(_, took)| took).collect();
    Ok(OpenLoop {
        latencies,
        achieved,
        slowest,
    })
}
