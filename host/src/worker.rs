//! The worker loop: take a ticket, run the job, record the outcome, ack.

use crate::{JobLog, LoadError, Loader, Metering, Outcome, RunRequest, Runtime};
use agensium_domain::{Ceilings, Limits};
use agensium_ports::object_store::once;
use agensium_domain::{ErrorCode, JobError, JobId, Usage, WorkerId};
use agensium_ports::{Backends, Finish, MetaError, RailError, StoreError, Ticket};
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

mod watch;
use watch::Registered;

/// Longest a take waits for a ticket (and shutdown for a take).
const TAKE_WAIT: Duration = Duration::from_secs(1);
/// Attempts to hand a job's row back before leaving it to its lease.
const REQUEUE_TRIES: u32 = 6;

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

/// A failure of the infrastructure (not of the processor): the job is not
/// finished and its ticket goes back on the rail.
#[derive(Debug, thiserror::Error)]
enum Infra {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rail(#[from] RailError),
    #[error("object store failed mid-stream: {0}")]
    Stream(JobError),
    #[error("output upload task failed: {0}")]
    Join(String),
    #[error("the worker is shutting down; the job goes to another worker")]
    ShuttingDown,
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
    let worker = Arc::new(Worker {
        backends,
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
    backends: Backends,
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
            match self.backends.rail.take(&consumer, TAKE_WAIT).await {
                Ok(Some(ticket)) if shutdown.is_cancelled() => {
                    // Taken while stopping: straight back for another worker.
                    if let Err(e) = self.backends.rail.release(&ticket).await {
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

    async fn handle(&self, owner: &WorkerId, ticket: Ticket) {
        let id = ticket.job_id;
        let taken = Instant::now();
        match self.process(owner, &ticket, taken).await {
            Ok(()) => {
                if let Err(e) = self.backends.rail.ack(&ticket).await {
                    warn!(job = %id, error = %e, "ack failed; the ticket will be redelivered");
                }
            }
            Err(e) => {
                warn!(job = %id, error = %e, "handing the job back");
                // The row goes back to `queued` before the ticket goes back,
                // or the next taker finds it still leased to us and drops
                // the ticket. Retried through short outages; past that the
                // lease lapses and the reconciler requeues the job.
                for tries in 1.. {
                    match self.backends.meta.requeue_job(id, owner).await {
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
                if !matches!(e, Infra::ShuttingDown) {
                    tokio::time::sleep(backoff(ticket.deliveries)).await;
                }
                if let Err(e) = self.backends.rail.release(&ticket).await {
                    warn!(job = %id, error = %e, "release failed");
                }
            }
        }
    }

    /// Drives one job to a final state. `Err` means the job is not finished.
    async fn process(&self, owner: &WorkerId, ticket: &Ticket, taken: Instant) -> Result<(), Infra> {
        let (b, id, lease) = (&self.backends, ticket.job_id, self.config.lease);
        let Some(job) = b.meta.start_job(id, owner, lease).await? else {
            return Ok(()); // missing, final, or running elsewhere: the ticket is stale
        };
        if job.attempts - job.attempt_base > self.config.max_attempts {
            let e = JobError::new(
                ErrorCode::MaxAttempts,
                format!(
                    "gave up after {} attempts that failed on infrastructure errors or lost \
                     workers (see the logs of earlier attempts); POST /v1/jobs/{id}/retry runs it again",
                    self.config.max_attempts
                ),
            );
            b.meta
                .finish_job(id, owner, &Finish::Failed(e), None)
                .await?;
            return Ok(());
        }
        info!(job = %id, processor = %job.processor, version = %job.version, attempt = job.attempts, "job started");
        let heartbeat = self.heartbeat(owner, ticket);
        let limits = Limits::resolve(&self.config.limits, &self.config.ceilings, &job.limits);
        let log = JobLog::new(limits.log_bytes);
        let mut usage = None;
        let mut returned = None;
        let finish = match self.loader.get(&job.digest, Metering::of(&limits)).await {
            Err(LoadError::Store(e)) => return Err(e.into()),
            Err(e) => {
                let code = match e {
                    LoadError::Missing(_) => ErrorCode::ProcessorMissing,
                    LoadError::Corrupt(_) => ErrorCode::ProcessorCorrupt,
                    _ => ErrorCode::InvalidProcessor,
                };
                let e = JobError::new(code, e.to_string());
                log.line("agensium", &format!("{}: {}", e.code, e.message));
                Finish::Failed(e)
            }
            Ok((processor, source, took)) => {
                log.line(
                    "agensium",
                    &format!("processor loaded from {source:?} in {took:.1?}"),
                );
                let (finish, used, entered, left) = self
                    .run_job(&job, owner, &processor, limits, log.clone())
                    .await?;
                metrics::histogram!("agensium_job_setup_seconds")
                    .record((entered - taken).as_secs_f64());
                usage = Some(used);
                returned = Some(left);
                finish
            }
        };
        heartbeat.abort();
        b.objects
            .put(&id.log_key(job.attempts), once(log.contents()))
            .await?;
        if !b
            .meta
            .finish_job(id, owner, &finish, usage.as_ref())
            .await?
        {
            // This attempt lost the job: its output must not linger.
            if let Err(e) = b.objects.delete(&id.output_key(job.attempts)).await {
                warn!(job = %id, error = %e, "deleting a superseded attempt's output failed");
            }
            match b.meta.get_job(id).await? {
                Some(j) if j.status == agensium_domain::JobStatus::Cancelled => {
                    info!(job = %id, "job cancelled")
                }
                _ => warn!(job = %id, "lease lost while running; another worker owns the job now"),
            }
            return Ok(());
        }
        if job.attempts > 1 {
            self.drop_other_attempts(id, job.attempts).await;
        }
        if let Some(returned) = returned {
            metrics::histogram!("agensium_job_finish_seconds")
                .record(returned.elapsed().as_secs_f64());
        }
        metrics::histogram!("agensium_job_seconds").record(taken.elapsed().as_secs_f64());
        match &finish {
            Finish::Succeeded { output_bytes, .. } => {
                metrics::counter!("agensium_jobs_total", "status" => "succeeded").increment(1);
                info!(job = %id, output_bytes, "job succeeded")
            }
            Finish::Failed(e) => {
                metrics::counter!("agensium_jobs_total", "status" => "failed").increment(1);
                info!(job = %id, code = %e.code, "job failed")
            }
        }
        Ok(())
    }

    /// Deletes the outputs of earlier attempts of a job that attempt
    /// `winner` finished: a worker that died after uploading cannot clean
    /// up after itself. (A late attempt still running deletes its own when
    /// it fails to finish the job.)
    async fn drop_other_attempts(&self, id: JobId, winner: u32) {
        let objects = &self.backends.objects;
        let keep = id.output_key(winner);
        match objects.list(&format!("jobs/{id}/output/")).await {
            Ok(keys) => {
                for key in keys.into_iter().filter(|k| *k != keep) {
                    info!(job = %id, %key, "deleting the output of a superseded attempt");
                    if let Err(e) = objects.delete(&key).await {
                        warn!(job = %id, %key, error = %e, "deleting a superseded output failed");
                    }
                }
            }
            Err(e) => warn!(job = %id, error = %e, "listing earlier attempts' outputs failed"),
        }
    }

    async fn run_job(
        &self,
        job: &agensium_domain::Job,
        owner: &WorkerId,
        processor: &crate::Processor,
        limits: Limits,
        log: JobLog,
    ) -> Result<(Finish, Usage, Instant, Instant), Infra> {
        let (id, objects) = (job.id, &self.backends.objects);
        let output_key = id.output_key(job.attempts);
        let input = objects.get(&id.input_key()).await?;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
        let sink = objects.clone();
        let upload =
            tokio::spawn(async move {
                let body = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|c| (c, rx))
                });
                sink.put(&output_key, Box::pin(body)).await
            });
        // Cancelled by the API (watched below) or by the end of the shutdown grace.
        let cancel = self.handback.child_token();
        let _watch = self.watch_cancel(id, owner, cancel.clone());
        let _registered = Registered::new(&self.running, id, cancel.clone());
        let req = RunRequest {
            params: job.params.clone(),
            input,
            output: tx,
            limits,
            log,
            cancel,
        };
        let Outcome {
            result,
            output_bytes,
            peak_memory,
            wall_time,
            epoch_ticks,
            fuel_consumed,
            entered,
            returned,
        } = self.runtime.run(processor, req).await;
        let uploaded = upload.await.map_err(|e| Infra::Join(e.to_string()))?;
        if self.handback.is_cancelled() && result.is_err() {
            return Err(Infra::ShuttingDown);
        }
        let usage = Usage {
            peak_memory_bytes: peak_memory,
            wall_time_ms: wall_time.as_millis() as u64,
            epoch_ticks,
            output_bytes,
            fuel_consumed,
        };
        let finish = match result {
            Ok((content_type, stats)) => Finish::Succeeded {
                output_bytes: uploaded?,
                content_type,
                stats,
            },
            // The store failed under the processor: not its fault. The
            // upload's own error says what failed, when there is one.
            Err(e) if !e.code.is_final() => {
                uploaded?;
                return Err(Infra::Stream(e));
            }
            Err(e) => Finish::Failed(e),
        };
        Ok((finish, usage, entered, returned))
    }
}

/// Exponential backoff with full jitter: a random wait in
/// `[d/2, d]`, where `d` is 250 ms doubling per attempt up to 30 s, so
/// workers hit by the same outage do not retry in lockstep.
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
