//! The fair-share figure: team A floods the rail with sleeper jobs, then
//! team B submits jobs one at a time. With teams taking turns on the rail,
//! B's jobs wait for a turn, not for A's backlog.

use super::load::{Api, percentile_ms, wait_job};
use super::stack::Stack;
use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use xtask::fixtures;

/// How long each sleeper job sleeps.
const SLEEP_MS: u64 = 20;
/// Team B's jobs, submitted one at a time.
const TRICKLE: usize = 20;

/// What the fair-share phase measured.
pub struct FairRun {
    /// Team B's queue waits (accepted → started), sorted.
    pub waits: Vec<Duration>,
    /// A's jobs still queued when B's last job finished.
    pub a_left: usize,
    /// A's jobs finished per second while B's ran.
    pub a_per_sec: f64,
    /// How long B's jobs took in all.
    pub b_total: Duration,
}

/// A new team with a publisher key, made by the operator client `op`.
async fn team(op: &Api, name: &str) -> Result<Api> {
    let post = |path: String, body: Value| {
        let url = format!("{}{path}", op.base);
        async move {
            let r = op.http.post(&url).json(&body).send().await?;
            if !r.status().is_success() {
                bail!("POST {url}: {} {}", r.status(), r.text().await?);
            }
            Ok::<Value, anyhow::Error>(r.json().await?)
        }
    };
    post("/v1/teams".into(), json!({ "name": name })).await?;
    let key = post(
        format!("/v1/teams/{name}/keys"),
        json!({ "role": "publisher", "name": "bench" }),
    )
    .await?;
    Api::new(op.base.clone()).with_key(key["key"].as_str().context("no key in the answer")?)
}

fn millis_between(job: &Value, from: &str, to: &str) -> Result<Duration> {
    let at = |k: &str| -> Result<chrono::DateTime<chrono::Utc>> {
        job[k]
            .as_str()
            .with_context(|| format!("job without {k}: {job}"))?
            .parse()
            .with_context(|| format!("{k} of {job}"))
    };
    Ok((at(to)? - at(from)?).to_std().unwrap_or_default())
}

/// Runs the phase: A submits `flood` sleepers from `clients` clients, then
/// B submits [`TRICKLE`] one at a time, each waited for; then A's backlog
/// drains.
pub async fn run(stack: &Stack, flood: usize, clients: usize) -> Result<FairRun> {
    let sleeper = std::fs::read(fixtures::output("hostile")).context("the hostile fixture")?;
    let (a, b) = (
        team(&stack.api, "flood").await?,
        team(&stack.api, "trickle").await?,
    );
    a.register("sleeper-a", sleeper.clone()).await?;
    b.register("sleeper-b", sleeper).await?;
    let query = format!("param.mode=sleep&param.ms={SLEEP_MS}");
    futures::stream::iter(0..flood)
        .map(|_| a.submit_with("sleeper-a", &query, "a"))
        .buffer_unordered(clients.max(1))
        .try_collect::<Vec<_>>()
        .await?;
    let (a_before, _) = a.count("succeeded").await?;
    let started = Instant::now();
    let mut waits = Vec::with_capacity(TRICKLE);
    for _ in 0..TRICKLE {
        let id = b.submit_with("sleeper-b", &query, "b").await?;
        let job = wait_job(stack, &id, Duration::from_millis(2)).await?;
        waits.push(millis_between(&job, "created_at", "started_at")?);
    }
    let b_total = started.elapsed();
    let (a_after, _) = a.count("succeeded").await?;
    let (a_left, _) = a.count("queued").await?;
    waits.sort();
    let run = FairRun {
        waits,
        a_left,
        a_per_sec: (a_after - a_before) as f64 / b_total.as_secs_f64(),
        b_total,
    };
    println!(
        "fair share: team A queued {flood} × {SLEEP_MS} ms sleepers, then team B ran {TRICKLE} one at a time \
         in {:.1} s: B's queue wait p50 {:.1} ms  p99 {:.1} ms; A still had {} queued; A ran {:.0} jobs/s meanwhile",
        run.b_total.as_secs_f64(),
        percentile_ms(&run.waits, 0.5),
        percentile_ms(&run.waits, 0.99),
        run.a_left,
        run.a_per_sec
    );
    drain(stack, &a).await?;
    Ok(run)
}

/// Waits until team `a` has nothing queued or running.
async fn drain(stack: &Stack, a: &Api) -> Result<()> {
    loop {
        stack.check()?;
        if a.count("queued").await?.0 == 0 && a.count("running").await?.0 == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
