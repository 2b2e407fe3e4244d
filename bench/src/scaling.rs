//! The scaling curve: the production stack with 1, 2, 4 and 8 worker
//! processes of one slot each, on jobs that sleep 50 ms in the host's clock
//! (the hostile fixture's `sleep` mode: `std::thread::sleep` in the guest
//! is a WASI poll the host waits on, not a spin). Per worker count: jobs/s
//! from the first job's acceptance to the last one's end, and the queue
//! wait (accepted → started) p50/p99. Perfect scaling is 20 jobs/s per
//! worker; what falls short is what serialises workers.

use super::load::percentile_ms;
use super::stack::{Settings, SharedBackends, Stack};
use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use std::time::Duration;
use xtask::{fixtures, s3server};

/// How long each job sleeps.
pub const SLEEP_MS: u64 = 50;
/// Worker processes of each run.
pub const WORKERS: [usize; 4] = [1, 2, 4, 8];
/// Clients submitting at once.
const CLIENTS: usize = 16;

/// One run of the curve.
pub struct Point {
    /// Worker processes (one slot each).
    pub workers: usize,
    /// Jobs run.
    pub jobs: usize,
    /// Jobs per second, first accepted to last finished.
    pub jobs_per_sec: f64,
    /// Queue waits (accepted → started), sorted.
    pub waits: Vec<Duration>,
}

/// Runs the curve: for each of [`WORKERS`], fresh backends and a fresh
/// stack, `per_worker` jobs per worker submitted at once, timed until all
/// succeeded.
pub async fn run(s3: &s3server::S3Server, per_worker: usize) -> Result<Vec<Point>> {
    let mut points = Vec::new();
    for workers in WORKERS {
        let backends = SharedBackends::create(s3).await?;
        let point = one(&backends, workers, per_worker * workers).await;
        if let Err(e) = backends.cleanup().await {
            eprintln!("warning: cleaning up the scaling run's backends: {e:#}");
        }
        let point = point.with_context(|| format!("the scaling run with {workers} workers"))?;
        println!(
            "scaling: {workers} worker(s) × 1 slot, {} jobs of {SLEEP_MS} ms: {:.1} jobs/s \
             ({:.0}% of {}); queue wait p50 {:.0} ms  p99 {:.0} ms",
            point.jobs,
            point.jobs_per_sec,
            100.0 * point.jobs_per_sec / ideal(workers),
            ideal(workers),
            percentile_ms(&point.waits, 0.5),
            percentile_ms(&point.waits, 0.99)
        );
        points.push(point);
    }
    Ok(points)
}

/// What `workers` one-slot workers would do if nothing but the sleep took time.
pub fn ideal(workers: usize) -> f64 {
    workers as f64 * 1000.0 / SLEEP_MS as f64
}

/// One run: a stack of `workers` workers, `jobs` sleepers.
async fn one(backends: &SharedBackends, workers: usize, jobs: usize) -> Result<Point> {
    let settings = Settings {
        concurrency: 1,
        workers,
        max_upload_mib: 16,
        time_limit_secs: 60,
    };
    let stack = Stack::production(&settings, &backends.env).await?;
    let sleeper = std::fs::read(fixtures::output("hostile")).context("the hostile fixture")?;
    stack.api.register("sleeper", sleeper).await?;
    let query = format!("param.mode=sleep&param.ms={SLEEP_MS}");
    let ids: Vec<String> = futures::stream::iter(0..jobs)
        .map(|_| stack.api.submit_with("sleeper", &query, "x"))
        .buffer_unordered(CLIENTS)
        .try_collect()
        .await?;
    while stack.api.count("succeeded").await?.0 < jobs {
        stack.check()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done: Vec<Value> = futures::stream::iter(&ids)
        .map(|id| stack.api.job(id))
        .buffer_unordered(CLIENTS)
        .try_collect()
        .await?;
    point(workers, &done)
}

/// The figures of one run from its jobs' timestamps.
fn point(workers: usize, jobs: &[Value]) -> Result<Point> {
    let at = |job: &Value, k: &str| -> Result<chrono::DateTime<chrono::Utc>> {
        let s = job[k]
            .as_str()
            .with_context(|| format!("job without {k}: {job}"))?;
        s.parse().with_context(|| format!("{k} of {job}"))
    };
    let mut first = None::<chrono::DateTime<chrono::Utc>>;
    let mut last = None::<chrono::DateTime<chrono::Utc>>;
    let mut waits = Vec::with_capacity(jobs.len());
    for job in jobs {
        let (created, started, finished) = (
            at(job, "created_at")?,
            at(job, "started_at")?,
            at(job, "finished_at")?,
        );
        first = Some(first.map_or(created, |f| f.min(created)));
        last = Some(last.map_or(finished, |l| l.max(finished)));
        waits.push((started - created).to_std().unwrap_or_default());
    }
    waits.sort();
    let span = match (first, last) {
        (Some(f), Some(l)) => (l - f).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    Ok(Point {
        workers,
        jobs: jobs.len(),
        jobs_per_sec: jobs.len() as f64 / span.as_secs_f64().max(1e-3),
        waits,
    })
}
