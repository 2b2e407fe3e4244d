//! The worker loop: take a ticket, run the job, record the outcome, ack.

use crate::{JobLog, Limits, Outcome, RunRequest, Runtime, ValidateError};
use agensium_core::object_store::{collect, once};
use agensium_core::{
    Backends, Digest, Finish, JobError, JobId, MetaError, ProcessorVersion, RailError, StoreError,
    Ticket,
};
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Largest processor binary a worker loads.
pub const MAX_COMPONENT_BYTES: usize = 256 << 20;

/// Settings of a worker process.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Name used as the rail consumer (one per slot, suffixed).
    pub name: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Limits applied to every job.
    pub limits: Limits,
    /// Attempts before a job that keeps failing on infrastructure errors is
    /// failed with `max_attempts`.
    pub max_attempts: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            name: format!("worker-{}", std::process::id()),
            concurrency: 2,
            limits: Limits::default(),
            max_attempts: 5,
        }
    }
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
    #[error("output upload task failed: {0}")]
    Join(String),
}

/// Why a processor could not be loaded.
enum LoadError {
    Infra(Infra),
    Final(JobError),
}

impl From<ValidateError> for LoadError {
    fn from(e: ValidateError) -> Self {
        Self::Final(JobError::new("invalid_processor", e.to_string()))
    }
}

/// Runs `config.concurrency` job slots until `shutdown` is cancelled; a slot
/// finishes its current job before it stops.
pub async fn run(
    backends: Backends,
    runtime: Arc<Runtime>,
    config: WorkerConfig,
    shutdown: CancellationToken,
) {
    let worker = Arc::new(Worker {
        backends,
        runtime,
        config,
    });
    let slots = (0..worker.config.concurrency).map(|slot| {
        let (w, stop) = (worker.clone(), shutdown.clone());
        tokio::spawn(async move { w.slot(slot, stop).await })
    });
    futures::future::join_all(slots).await;
}

struct Worker {
    backends: Backends,
    runtime: Arc<Runtime>,
    config: WorkerConfig,
}

impl Worker {
    async fn slot(&self, slot: usize, shutdown: CancellationToken) {
        let consumer = format!("{}-{slot}", self.config.name);
        let mut rail_errors = 0u32;
        loop {
            let taken = tokio::select! {
                _ = shutdown.cancelled() => break,
                t = self.backends.rail.take(&consumer, Duration::from_secs(1)) => t,
            };
            match taken {
                Ok(Some(ticket)) => {
                    rail_errors = 0;
                    self.handle(ticket).await;
                }
                Ok(None) => rail_errors = 0,
                Err(e) => {
                    rail_errors += 1;
                    warn!(error = %e, "taking a ticket failed");
                    tokio::time::sleep(backoff(rail_errors)).await;
                }
            }
        }
    }

    async fn handle(&self, ticket: Ticket) {
        let id = ticket.job_id;
        match self.process(id).await {
            Ok(()) => {
                if let Err(e) = self.backends.rail.ack(&ticket).await {
                    warn!(job = %id, error = %e, "ack failed; the ticket will be redelivered");
                }
            }
            Err(e) => {
                warn!(job = %id, error = %e, "infrastructure error; handing the job back");
                tokio::time::sleep(backoff(ticket.deliveries)).await;
                if let Err(e) = self.backends.rail.release(&ticket).await {
                    warn!(job = %id, error = %e, "release failed");
                }
            }
        }
    }

    /// Drives one job to a final state. `Err` means the job is not finished.
    async fn process(&self, id: JobId) -> Result<(), Infra> {
        let b = &self.backends;
        let Some(job) = b.meta.start_job(id).await? else {
            return Ok(()); // missing or already final: the ticket is stale
        };
        if job.attempts > self.config.max_attempts {
            let e = JobError::new(
                "max_attempts",
                format!("gave up after {} attempts", self.config.max_attempts),
            );
            b.meta.finish_job(id, &Finish::Failed(e)).await?;
            return Ok(());
        }
        info!(job = %id, processor = %job.processor, version = %job.version, attempt = job.attempts, "job started");
        let log = JobLog::new(self.config.limits.log_bytes);
        let finish = match self.load(&job.digest).await {
            Err(LoadError::Infra(e)) => return Err(e),
            Err(LoadError::Final(e)) => {
                log.line("agensium", &format!("{}: {}", e.code, e.message));
                Finish::Failed(e)
            }
            Ok(processor) => {
                self.run_job(id, &processor, job.params, log.clone())
                    .await?
            }
        };
        b.objects.put(&id.log_key(), once(log.contents())).await?;
        b.meta.finish_job(id, &finish).await?;
        match &finish {
            Finish::Succeeded { output_bytes, .. } => {
                info!(job = %id, output_bytes, "job succeeded")
            }
            Finish::Failed(e) => info!(job = %id, code = %e.code, "job failed"),
        }
        Ok(())
    }

    async fn run_job(
        &self,
        id: JobId,
        processor: &crate::Processor,
        params: agensium_core::Pairs,
        log: JobLog,
    ) -> Result<Finish, Infra> {
        let objects = &self.backends.objects;
        let input = objects.get(&id.input_key()).await?;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
        let sink = objects.clone();
        let upload =
            tokio::spawn(async move {
                let body = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|c| (c, rx))
                });
                sink.put(&id.output_key(), Box::pin(body)).await
            });
        let req = RunRequest {
            params,
            input,
            output: tx,
            limits: self.config.limits,
            log,
        };
        let Outcome { result, .. } = self.runtime.run(processor, req).await;
        let uploaded = upload.await.map_err(|e| Infra::Join(e.to_string()))?;
        Ok(match result {
            Ok((content_type, stats)) => Finish::Succeeded {
                output_bytes: uploaded?,
                content_type,
                stats,
            },
            Err(e) => Finish::Failed(e),
        })
    }

    async fn load(&self, digest: &Digest) -> Result<crate::Processor, LoadError> {
        let objects = self.backends.objects.clone();
        self.runtime
            .processor(digest, || async move {
                let key = ProcessorVersion::object_key(digest);
                let body = objects.get(&key).await.map_err(|e| match e {
                    StoreError::NotFound(_) => LoadError::Final(JobError::new(
                        "processor_missing",
                        format!("processor binary {digest} is not in the object store"),
                    )),
                    e => LoadError::Infra(e.into()),
                })?;
                let bytes = collect(body, MAX_COMPONENT_BYTES)
                    .await
                    .map_err(|e| LoadError::Infra(StoreError::backend(e).into()))?;
                if Digest::of(&bytes) != *digest {
                    return Err(LoadError::Final(JobError::new(
                        "processor_corrupt",
                        format!("stored processor binary does not match {digest}"),
                    )));
                }
                Ok(bytes)
            })
            .await
    }
}

/// Exponential backoff, 250 ms doubling up to 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(30))
}
