//! One job's lifecycle on a slot: start it under a lease, run it on the
//! engine, record the outcome, clean up; and say what becomes of its ticket.

use super::disposition::{Ack, Cause};
use super::watch::Registered;
use super::{Worker, metrics};
use agensium_domain::{ErrorCode, Job, JobError, JobId, JobStatus, Limits, Usage, WorkerId};
use agensium_engine::{JobLog, LoadError, Metering, Outcome, OutputChunks, Processor, Run};
use agensium_ports::object_store::{Small, once, read_small};
use agensium_ports::segments::Segments;
use agensium_ports::{ByteStream, Finish, Signal, StartedJob, StoreError, Ticket};
use bytes::Bytes;
use std::time::Instant;
use tracing::{info, warn};

/// What became of starting a ticket's job.
pub(super) enum Started {
    /// Started under this slot's lease: run it.
    Run(Box<StartedJob>),
    /// Missing, final, or running under another live lease.
    Stale,
    /// Given back: its team is at its running quota.
    Throttled,
}

/// What one attempt produced, before it is recorded.
struct Attempt {
    finish: Finish,
    usage: Option<Usage>,
    /// When `process` returned, when it ran.
    returned: Option<Instant>,
}

impl Worker {
    /// Starts the job of `ticket` under a lease, unless it is stale or its
    /// team already runs as many jobs as its quota allows (then the start
    /// is given back, uncounted).
    pub(super) async fn start(&self, me: &WorkerId, ticket: &Ticket) -> Result<Started, Cause> {
        let meta = &self.backends.meta;
        let Some(mut started) = meta.start_job(ticket.job_id, me, self.config.lease).await? else {
            return Ok(Started::Stale);
        };
        let job = &started.job;
        let Some(max) = self.quotas.max_running(meta.as_ref(), &job.team).await? else {
            return Ok(Started::Run(Box::new(started)));
        };
        if meta.running_ahead(job).await? < u64::from(max) {
            // Its start time becomes now: the jobs ahead of it that just
            // ended ended before it.
            let Some(at) = meta.admit_job(job.id, me).await? else {
                return Ok(Started::Stale);
            };
            started.job.started_at = Some(at);
            return Ok(Started::Run(Box::new(started)));
        }
        if meta.yield_job(job.id, me).await? {
            Ok(Started::Throttled)
        } else {
            Ok(Started::Stale)
        }
    }

    /// Drives a started job to a final state, or says why not.
    pub(super) async fn process(
        &self,
        me: &WorkerId,
        ticket: &Ticket,
        started: StartedJob,
        taken: Instant,
    ) -> Result<Ack, Cause> {
        let (b, id) = (&self.backends, ticket.job_id);
        let StartedJob { job, input } = started;
        if job.attempts - job.attempt_base > self.config.max_attempts {
            // Earlier attempts may have uploaded output before they were
            // lost: the dead letter keeps none of it. They can no longer
            // finish the job (the row names this slot), so their output
            // goes before the failure is visible: a client that sees the
            // job failed sees no output of it.
            self.drop_outputs(id, |a| a < job.attempts).await;
            let e = self.gave_up(id);
            b.meta
                .finish_job(id, me, &Finish::Failed(e), None, None)
                .await?;
            return Ok(Ack::GaveUp);
        }
        info!(job = %id, processor = %job.processor, version = %job.version, attempt = job.attempts, "job started");
        let heartbeat = self.heartbeat(me, ticket);
        let limits = Limits::resolve(&self.config.limits, &self.config.ceilings, &job.limits);
        let log = JobLog::new(limits.log_bytes);
        let attempt = self.attempt(&job, input, me, limits, &log, taken).await?;
        heartbeat.abort();
        self.record(&job, me, attempt, &log, taken).await
    }

    fn gave_up(&self, id: JobId) -> JobError {
        JobError::new(
            ErrorCode::MaxAttempts,
            format!(
                "gave up after {} attempts that failed on infrastructure errors or lost \
                 workers (see the logs of earlier attempts); POST /v1/jobs/{id}/retry runs it again",
                self.config.max_attempts
            ),
        )
    }

    /// Loads the processor and runs it.
    async fn attempt(
        &self,
        job: &Job,
        input: Option<Bytes>,
        me: &WorkerId,
        limits: Limits,
        log: &JobLog,
        taken: Instant,
    ) -> Result<Attempt, Cause> {
        match self.loader.get(&job.digest, Metering::of(&limits)).await {
            Err(LoadError::Store(e)) => Err(e.into()),
            Err(LoadError::Meta(e)) => Err(e.into()),
            Err(e) => {
                let code = match e {
                    LoadError::Missing(_) => ErrorCode::ProcessorMissing,
                    LoadError::Corrupt(_) => ErrorCode::ProcessorCorrupt,
                    _ => ErrorCode::InvalidProcessor,
                };
                let e = JobError::new(code, e.to_string());
                log.line("agensium", &e.to_string());
                let finish = Finish::Failed(e);
                Ok(Attempt {
                    finish,
                    usage: None,
                    returned: None,
                })
            }
            Ok((processor, source, took)) => {
                log.line(
                    "agensium",
                    &format!("processor loaded from {source:?} in {took:.1?}"),
                );
                let (finish, usage, entered, returned) = self
                    .run(job, input, me, &processor, limits, log.clone())
                    .await?;
                metrics::setup(entered - taken);
                Ok(Attempt {
                    finish,
                    usage: Some(usage),
                    returned: Some(returned),
                })
            }
        }
    }

    /// Records the final state with the log (compare-and-set on the lease;
    /// a log too large to keep inline is stored first); the loser of a
    /// race deletes its output.
    async fn record(
        &self,
        job: &Job,
        me: &WorkerId,
        attempt: Attempt,
        log: &JobLog,
        taken: Instant,
    ) -> Result<Ack, Cause> {
        let (b, id) = (&self.backends, job.id);
        let log = Bytes::from(log.contents());
        let inline_log = if self.config.inline.keeps(log.len()) {
            Some(log)
        } else {
            b.objects.put(&id.log_key(job.attempts), once(log)).await?;
            None
        };
        let Attempt {
            finish,
            usage,
            returned,
        } = attempt;
        // Earlier attempts can no longer finish the job (the row has named
        // this slot since this attempt started; a later attempt still
        // can): what they left behind goes before the result is visible.
        if job.attempts > 1 {
            self.drop_outputs(id, |a| a < job.attempts).await;
        }
        if !b
            .meta
            .finish_job(id, me, &finish, usage.as_ref(), inline_log.as_ref())
            .await?
        {
            let stored = matches!(
                &finish,
                Finish::Succeeded {
                    inline_output: None,
                    ..
                }
            );
            if stored && let Err(e) = self.output(id, job.attempts).delete_all().await {
                warn!(job = %id, error = %e, "deleting a superseded attempt's output failed");
            }
            // The row did not take the log (the job was cancelled, or lost):
            // it goes where a large one would, so the attempt's log is read.
            if let Some(log) = inline_log
                && let Err(e) = b.objects.put(&id.log_key(job.attempts), once(log)).await
            {
                warn!(job = %id, error = %e, "storing a superseded attempt's log failed");
            }
            match b.meta.get_job(id).await? {
                Some(j) if j.status == JobStatus::Cancelled => info!(job = %id, "job cancelled"),
                _ => warn!(job = %id, "lease lost while running; another worker owns the job now"),
            }
            return Ok(Ack::Superseded);
        }
        if let Some(returned) = returned {
            metrics::finishing(returned.elapsed());
        }
        metrics::finished(taken.elapsed(), &finish);
        match &finish {
            Finish::Succeeded { output_bytes, .. } => {
                info!(job = %id, output_bytes, "job succeeded");
            }
            Finish::Failed(e) => info!(job = %id, code = %e.code, "job failed"),
        }
        // Requests waiting for the job answer now, not at their next reread.
        if let Err(e) = b.rail.announce(Signal::Finished, id).await {
            warn!(job = %id, error = %e, "announcing the job's end failed");
        }
        Ok(Ack::Finished)
    }

    /// Where attempt `attempt` of job `id` stores its output.
    fn output(&self, id: JobId, attempt: u32) -> Segments {
        Segments::output_of(self.backends.objects.clone(), id, attempt)
    }

    /// Deletes the outputs of the attempts of job `id` that `doomed`
    /// names: a worker that died after uploading, or whose own cleanup met
    /// the store down, cannot clean up after itself. (A late attempt still
    /// running deletes its own when it fails to finish the job.)
    async fn drop_outputs(&self, id: JobId, doomed: impl Fn(u32) -> bool) {
        let objects = &self.backends.objects;
        match objects.list(&id.outputs_prefix()).await {
            Ok(keys) => {
                let keys = keys
                    .into_iter()
                    .filter(|k| id.output_attempt(k).is_some_and(&doomed));
                for key in keys {
                    info!(job = %id, %key, "deleting the output of a superseded attempt");
                    if let Err(e) = objects.delete(&key).await {
                        warn!(job = %id, %key, error = %e, "deleting a superseded output failed");
                    }
                }
            }
            Err(e) => warn!(job = %id, error = %e, "listing earlier attempts' outputs failed"),
        }
    }

    /// Runs the processor with the job's input (inline, or streamed from
    /// the object store) and its output kept inline when small, streamed to
    /// the object store otherwise.
    async fn run(
        &self,
        job: &Job,
        input: Option<Bytes>,
        me: &WorkerId,
        processor: &Processor,
        limits: Limits,
        log: JobLog,
    ) -> Result<(Finish, Usage, Instant, Instant), Cause> {
        let (id, objects) = (job.id, &self.backends.objects);
        let output = self.output(id, job.attempts);
        let input = match input {
            Some(bytes) => once(bytes),
            None => {
                Segments::input_of(objects.clone(), id)
                    .read_or_whole(job.input_bytes)
                    .await?
            }
        };
        let inline = self.config.inline;
        // Stored by a task of its own, beside the guest.
        let upload = |chunks: OutputChunks| {
            tokio::spawn(async move {
                let body = futures::stream::unfold(chunks, |mut rx| async move {
                    rx.recv().await.map(|c| (c, rx))
                });
                store_output(output, Box::pin(body), inline).await
            })
        };
        // Cancelled by the API (watched below) or by the end of the shutdown grace.
        let cancel = self.handback.child_token();
        let _watch = self.watch_cancel(id, me, cancel.clone());
        let _registered = Registered::new(&self.running, id, cancel.clone());
        let run = Run {
            params: job.params.clone(),
            input,
            limits,
            log,
            cancel,
        };
        let (out, uploaded) = self.runtime.run_draining(processor, run, upload).await;
        let uploaded = uploaded.map_err(Cause::Join)?;
        if self.handback.is_cancelled() && out.result.is_err() {
            return Err(Cause::ShuttingDown);
        }
        let usage = usage(&out);
        let finish = match out.result {
            Ok((content_type, stats)) => {
                let (output_bytes, inline_output) = uploaded?;
                Finish::Succeeded {
                    output_bytes,
                    inline_output,
                    content_type,
                    stats,
                }
            }
            // The store failed under the processor, or no sandbox instance
            // was free: not its fault. The upload's own error says what
            // failed, when there is one.
            Err(e) if !e.code.is_final() => {
                uploaded?;
                return Err(Cause::Run(e));
            }
            Err(e) => Finish::Failed(e),
        };
        Ok((finish, usage, out.entered, out.returned))
    }
}

/// Keeps a small output (returned) or stores a larger one as segments,
/// readable while they are written: its size, and its bytes when kept.
async fn store_output(
    output: Segments,
    body: ByteStream,
    inline: agensium_domain::InlineLimit,
) -> Result<(u64, Option<Bytes>), StoreError> {
    match read_small(body, inline).await.map_err(StoreError::Body)? {
        Small::Whole(b) => Ok((b.len() as u64, Some(b))),
        Small::Large(body) => Ok((output.put(body).await?, None)),
    }
}

fn usage(out: &Outcome) -> Usage {
    Usage {
        peak_memory_bytes: out.peak_memory,
        wall_time_ms: u64::try_from(out.wall_time.as_millis()).unwrap_or(u64::MAX),
        epoch_ticks: out.epoch_ticks,
        output_bytes: out.output_bytes,
        fuel_consumed: out.fuel_consumed,
    }
}
