//! The retention sweep's cost (production stack): `jobs` finished echo
//! jobs with stored input and output, then the team's retention set to one
//! second. The figures: rows and objects the sweep deletes per second, and
//! the submit p99 at a fixed open-loop rate while it runs, against the
//! same rate before (idle).

use super::load::{OpenLoop, open_loop, percentile_ms};
use super::stack::{Settings, SharedBackends, Stack};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};
use xtask::{fixtures, plugins, s3server};

/// Submits per second of the open-loop figures, and how many.
const RATE: f64 = 100.0;
const SUBMITS: usize = 300;

/// What the sweep phase measured.
pub struct SweepRun {
    /// Jobs swept.
    pub jobs: u64,
    /// From the retention's change to the last of them expired.
    pub took: Duration,
    /// Objects deleted meanwhile (the S3 server's DELETE requests).
    pub objects: u64,
    /// Submit p99 before the sweep, and while it ran.
    pub idle_p99_ms: f64,
    /// See `idle_p99_ms`.
    pub during_p99_ms: f64,
}

/// Runs the phase on fresh backends and a fresh stack.
pub async fn run(s3: &s3server::S3Server, jobs: usize) -> Result<SweepRun> {
    let backends = SharedBackends::create(s3).await?;
    let run = measure(&backends, s3, jobs).await;
    if let Err(e) = backends.cleanup().await {
        eprintln!("warning: cleaning up the sweep phase's backends: {e:#}");
    }
    let run = run?;
    println!(
        "retention sweep: {} jobs and {} objects in {:.2} s = {:.0} rows/s, {:.0} objects/s; \
         submit p99 at {RATE:.0}/s: idle {:.1} ms, while sweeping {:.1} ms",
        run.jobs,
        run.objects,
        run.took.as_secs_f64(),
        run.jobs as f64 / run.took.as_secs_f64(),
        run.objects as f64 / run.took.as_secs_f64(),
        run.idle_p99_ms,
        run.during_p99_ms
    );
    Ok(run)
}

async fn measure(
    backends: &SharedBackends,
    s3: &s3server::S3Server,
    jobs: usize,
) -> Result<SweepRun> {
    let settings = Settings {
        concurrency: 2,
        workers: 1,
        max_upload_mib: 16,
        time_limit_secs: 60,
    };
    let mut env = backends.env.clone();
    env.push(("AGENSIUM_SWEEP_SECS".into(), "1".into()));
    let stack = Stack::production(&settings, &env).await?;
    finished_jobs(&stack, jobs).await?;
    let idle = submits(&stack).await?;
    let deletes = || -> Result<u64> { Ok(s3.requests()?.get("DELETE").copied().unwrap_or(0)) };
    let before = deletes()?;
    let r = stack
        .api
        .http
        .put(format!("{}/v1/teams/bench/quota", stack.api.base))
        .json(&serde_json::json!({ "retention_secs": 1 }))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("setting the retention: {} {}", r.status(), r.text().await?);
    }
    let started = Instant::now();
    let (during, took) = tokio::join!(submits(&stack), swept(backends, jobs as u64, started));
    Ok(SweepRun {
        jobs: jobs as u64,
        took: took?,
        objects: deletes()? - before,
        idle_p99_ms: percentile_ms(&idle.latencies, 0.99),
        during_p99_ms: percentile_ms(&during?.latencies, 0.99),
    })
}

/// `jobs` echo jobs of 100 KiB (input and output stored), all succeeded.
async fn finished_jobs(stack: &Stack, jobs: usize) -> Result<()> {
    let hostile = std::fs::read(fixtures::output("hostile")).context("the hostile fixture")?;
    stack.api.register("hostile", hostile).await?;
    let wordcount = std::fs::read(plugins::output("wordcount")).context("wordcount")?;
    stack.api.register("wordcount", wordcount).await?;
    let body = Bytes::from(b"swept ".repeat(100 * 1024 / 6));
    futures::stream::iter(0..jobs)
        .map(|_| {
            stack
                .api
                .submit_with("hostile", "param.mode=echo", body.clone())
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    while stack.api.count("succeeded").await?.0 < jobs {
        stack.check()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The open-loop submits of one figure.
async fn submits(stack: &Stack) -> Result<OpenLoop> {
    open_loop(stack, RATE, SUBMITS, |_| {
        Bytes::from_static(b"one two three")
    })
    .await
}

/// How long from `started` until `jobs` tombstones exist.
async fn swept(backends: &SharedBackends, jobs: u64, started: Instant) -> Result<Duration> {
    loop {
        if backends.count("SELECT COUNT(*) FROM expired_jobs").await? >= jobs {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the sweep did not finish in 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
