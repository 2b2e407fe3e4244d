//! The worker: job slots that take tickets, drive each job through its
//! lifecycle ([`job`](self)), and ack or hand back the ticket as the
//! [`Disposition`] says.

use agensium_domain::{Ceilings, JobId, Limits, WorkerId};
use agensium_engine::{Loader, Runtime};
use agensium_ports::{Backends, Ticket};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::warn;

mod disposition;
mod job;
pub mod metrics;
mod watch;

use agensium_usecases::trace_context;
use agensium_usecases::work::{Shift, Started};
use tracing::Instrument;

pub use disposition::{Ack, Cause, Disposition};

/// Longest a take waits for a ticket (and shutdown for a take).
const TAKE_WAIT: Duration = Duration::from_secs(1);
/// Attempts to hand a job's row back before leaving it to its lease.
const REQUEUE_TRIES: u32 = 6;
/// How long a slot waits before handing back a ticket whose team is at its
/// running quota (it then takes the next ticket, of whichever team's turn).
const THROTTLED_PAUSE: Duration = Duration::from_millis(100);

/// Settings of a worker process.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This process's name: slot `i` is the worker `<process>-<i>`.
    pub process: String,
    /// Job slots: jobs run at once.
    pub slots: usize,
    /// Limits of a job whose processor version declares none.
    pub limits: Limits,
    /// Caps of every declared limit.
    pub ceilings: Ceilings,
    /// Attempts before a job that keeps failing on infrastructure errors is
    /// failed with `max_attempts`.
    pub max_attempts: u32,
    /// How long a job's lease lasts without renewal; a worker renews it
    /// every third of this while the job runs. A dead worker's jobs are taken
    /// over once it lapses.
    pub lease: Duration,
    /// Where compiled processors are cached on this machine.
    pub cache_dir: std::path::PathBuf,
    /// After shutdown is asked, how long running jobs may go on before they
    /// are stopped and handed back to the rail.
    pub shutdown_grace: Duration,
    /// Outputs and logs up to this size are kept inline with the job row.
    pub inline: agensium_domain::InlineLimit,
}

/// `<host>-<pid>-<random>`: unique across machines, containers (where every
/// process may be pid 1) and restarts.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}-{}-{:04x}", std::process::id(), salt & 0xffff)
}

/// Runs `config.slots` job slots until `shutdown` is cancelled; a slot
/// finishes its current job before it stops.
pub async fn run(
    backends: Backends,
    runtime: Arc<Runtime>,
    config: WorkerConfig,
    shutdown: CancellationToken,
) {
    let loader = Loader::new(
        runtime.clone(),
        backends.objects.clone(),
        backends.meta.clone(),
        config.cache_dir.clone(),
    );
    // After `shutdown`, running jobs get `grace` to finish; then they are
    // stopped and handed back at once, not after their lease lapses.
    let handback = CancellationToken::new();
    let grace = config.shutdown_grace;
    let (stop, hb) = (shutdown.clone(), handback.clone());
    let grace_timer = tokio::spawn(async move {
        stop.cancelled().await;
        tokio::time::sleep(grace).await;
        hb.cancel();
    });
    metrics::slots(config.slots);
    let shift = Arc::new(Shift::new(backends, config.lease, config.inline));
    let worker = Arc::new(Worker {
        shift,
        runtime,
        loader,
        config,
        handback,
        running: Mutex::default(),
    });
    let listener = {
        let (w, stop) = (worker.clone(), shutdown.clone());
        tokio::spawn(async move { w.listen_for_cancels(stop).await })
    };
    let slots = (0..worker.config.slots).map(|slot| {
        let (w, stop) = (worker.clone(), shutdown.clone());
        tokio::spawn(async move { w.slot(slot, stop).await })
    });
    futures::future::join_all(slots).await;
    grace_timer.abort();
    listener.abort();
}

struct Worker {
    shift: Arc<Shift>,
    runtime: Arc<Runtime>,
    loader: Loader,
    config: WorkerConfig,
    handback: CancellationToken,
    /// Cancellation tokens of the jobs running here.
    running: Mutex<HashMap<JobId, CancellationToken>>,
}

impl Worker {
    async fn slot(&self, slot: usize, shutdown: CancellationToken) {
        let consumer = WorkerId::slot(&self.config.process, slot);
        let mut rail_errors = 0u32;
        // A take is never abandoned half-way: a blocking read dropped on
        // shutdown would still be answered by the rail (Redis delivers the
        // next ticket to the dead read), stranding that ticket until its
        // lease lapsed. Takes wait at most TAKE_WAIT, which bounds how long
        // shutdown waits for them.
        while !shutdown.is_cancelled() {
            match self.shift.take(&consumer, TAKE_WAIT).await {
                Ok(Some(ticket)) if shutdown.is_cancelled() => {
                    // Taken while stopping: straight back for another worker.
                    if let Err(e) = self.shift.release(&ticket).await {
                        warn!(job = %ticket.job_id, error = %e, "release failed");
                    }
                }
                Ok(Some(ticket)) => {
                    rail_errors = 0;
                    self.handle(&consumer, ticket).await;
                }
                Ok(None) => rail_errors = 0,
                Err(e) => {
                    rail_errors += 1;
                    warn!(error = %e, "taking a ticket failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(backoff(rail_errors)) => {}
                    }
                }
            }
        }
    }

    async fn handle(&self, me: &WorkerId, ticket: Ticket) {
        let taken = Instant::now();
        let disposition = match self.shift.start(me, &ticket).await {
            Ok(Started::Run(job)) => {
                let _busy = metrics::Busy::new();
                let span = trace_context::processing(&job.job);
                let processed = self.process(me, &ticket, *job, taken).instrument(span);
                Disposition::from(processed.await)
            }
            Ok(Started::Stale) => Disposition::Ack(Ack::Stale),
            Ok(Started::Throttled) => Disposition::Throttled,
            Err(e) => Disposition::HandBack(e.into()),
        };
        match disposition {
            Disposition::Ack(why) => {
                tracing::debug!(job = %ticket.job_id, ?why, "acking the ticket");
                if let Err(e) = self.shift.ack(&ticket).await {
                    warn!(job = %ticket.job_id, error = %e, "ack failed; the ticket will be redelivered");
                }
            }
            Disposition::HandBack(cause) => self.hand_back(me, &ticket, &cause).await,
            Disposition::Throttled => {
                metrics::throttled();
                // Jittered (50–150%): two starts that gave way to each other
                // (a tie in the same millisecond) do not meet again.
                tokio::time::sleep(THROTTLED_PAUSE.mul_f64(0.5 + fastrand::f64())).await;
                if let Err(e) = self.shift.release(&ticket).await {
                    warn!(job = %ticket.job_id, error = %e, "release failed");
                }
            }
        }
    }

    /// Puts the job's row back to `queued`, then (after a backoff, unless
    /// shutting down) its ticket back on the rail. The row goes first, or
    /// the next taker finds it still leased to us and drops the ticket.
    /// Retried through short outages; past that the lease lapses and the
    /// reconciler requeues the job.
    async fn hand_back(&self, me: &WorkerId, ticket: &Ticket, cause: &Cause) {
        let id = ticket.job_id;
        warn!(job = %id, error = %cause, "handing the job back");
        metrics::handed_back();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.shift.requeue(me, ticket).await {
                Ok(_) => break,
                Err(e) if tries < REQUEUE_TRIES && !self.handback.is_cancelled() => {
                    warn!(job = %id, error = %e, "requeue failed; retrying");
                    tokio::time::sleep(backoff(tries)).await;
                }
                Err(e) => {
                    warn!(job = %id, error = %e, "requeue failed; the lease will lapse");
                    break;
                }
            }
        }
        if !matches!(cause, Cause::ShuttingDown) {
            tokio::time::sleep(backoff(ticket.deliveries)).await;
        }
        if let Err(e) = self.shift.release(ticket).await {
            warn!(job = %id, error = %e, "release failed");
        }
    }
}

/// Exponential backoff with equal jitter: half of `d` fixed, half random,
/// a wait in `[d/2, d]`, where `d` is 250 ms doubling per attempt up to
/// 30 s, so workers hit by the same outage do not retry in lockstep (and
/// none retries at once, as a wait drawn from `[0, d]` could).
fn backoff(attempt: u32) -> Duration {
    let d = Duration::from_millis(250u64.saturating_mul(1 << attempt.min(7)))
        .min(Duration::from_secs(30));
    d.mul_f64(0.5 + fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 0..20 {
            let d = Duration::from_millis(250u64 << attempt.min(7)).min(Duration::from_secs(30));
            let b = backoff(attempt);
            assert!(b >= d / 2 && b <= d, "attempt {attempt}: {b:?} vs {d:?}");
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| backoff(3)).collect();
        assert!(spread.len() > 10, "jittered: {spread:?}");
    }
}
