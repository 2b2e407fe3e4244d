//! One job's lifecycle on a slot: start it under a lease, run it on the
//! engine, record the outcome, clean up; and say what becomes of its ticket.

use super::disposition::{Ack, Cause};
use super::watch::Registered;
use super::{Worker, metrics};
use agensium_domain::{ErrorCode, Job, JobError, JobId, Limits, Usage, WorkerId};
use agensium_engine::{JobLog, LoadError, Metering, Outcome, OutputChunks, Processor, Run};
use agensium_ports::{Finish, StartedJob, Ticket};
use agensium_usecases::work::Finished;
use bytes::Bytes;
use std::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, info, info_span};

/// What one attempt produced, before it is recorded.
struct Attempt {
    finish: Finish,
    usage: Option<Usage>,
    /// When `process` returned, when it ran.
    returned: Option<Instant>,
}

impl Worker {
    /// Drives a started job to a final state, or says why not.
    pub(super) async fn process(
        &self,
        me: &WorkerId,
        ticket: &Ticket,
        started: StartedJob,
        taken: Instant,
    ) -> Result<Ack, Cause> {
        let id = ticket.job_id;
        let StartedJob { job, input } = started;
        if job.attempts - job.attempt_base > self.config.max_attempts {
            self.shift.give_up(me, &job, self.gave_up(id)).await?;
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
        let load = info_span!("load processor", digest = %job.digest);
        match self
            .loader
            .get(&job.digest, Metering::of(&limits))
            .instrument(load)
            .await
        {
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

    /// Records the attempt's outcome and counts it.
    async fn record(
        &self,
        job: &Job,
        me: &WorkerId,
        attempt: Attempt,
        log: &JobLog,
        taken: Instant,
    ) -> Result<Ack, Cause> {
        let Attempt {
            finish,
            usage,
            returned,
        } = attempt;
        let log = Bytes::from(log.contents());
        let shift = &self.shift;
        let recorded = shift.finish(me, job, &finish, usage.as_ref(), log);
        if recorded.instrument(info_span!("finish")).await? == Finished::Superseded {
            return Ok(Ack::Superseded);
        }
        if let Some(returned) = returned {
            metrics::finishing(returned.elapsed());
        }
        metrics::finished(taken.elapsed(), &finish);
        match &finish {
            Finish::Succeeded { output_bytes, .. } => {
                info!(job = %job.id, output_bytes, "job succeeded");
            }
            Finish::Failed(e) => info!(job = %job.id, code = %e.code, "job failed"),
        }
        Ok(Ack::Finished)
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
        let id = job.id;
        let output = self.shift.output(job);
        let read = info_span!("read input", bytes = job.input_bytes);
        let input = self.shift.input(job, input).instrument(read).await?;
        // Stored by a task of its own, beside the guest.
        let write = info_span!("write output");
        let upload = |chunks: OutputChunks| {
            let store = async move {
                let body = futures::stream::unfold(chunks, |mut rx| async move {
                    rx.recv().await.map(|c| (c, rx))
                });
                output.store(Box::pin(body)).await
            };
            tokio::spawn(store.instrument(write))
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
        let span = info_span!("run processor", fuel = Empty, peak_memory_bytes = Empty);
        let running = self.runtime.run_draining(processor, run, upload);
        let (out, uploaded) = running.instrument(span.clone()).await;
        span.record("peak_memory_bytes", out.peak_memory);
        if let Some(fuel) = out.fuel_consumed {
            span.record("fuel", fuel);
        }
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

fn usage(out: &Outcome) -> Usage {
    Usage {
        peak_memory_bytes: out.peak_memory,
        wall_time_ms: u64::try_from(out.wall_time.as_millis()).unwrap_or(u64::MAX),
        epoch_ticks: out.epoch_ticks,
        output_bytes: out.output_bytes,
        fuel_consumed: out.fuel_consumed,
    }
}
