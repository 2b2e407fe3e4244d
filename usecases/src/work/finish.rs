//! Ending an attempt: its final state, its log, and what earlier or
//! superseded attempts left behind.

use super::{Fault, Shift};
use agensium_domain::{Job, JobError, JobId, JobStatus, Usage, WorkerId};
use agensium_ports::object_store::once;
use agensium_ports::segments::Segments;
use agensium_ports::{Finish, Signal};
use bytes::Bytes;
use tracing::{info, warn};

/// What became of finishing an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The job's final state is this attempt's.
    Recorded,
    /// This attempt lost the job while it ran (cancelled, or its lease
    /// lapsed and another worker took it over); its output was deleted.
    Superseded,
}

impl Shift {
    /// Records the final state with the log (compare-and-set on the lease;
    /// a log too large to keep inline is stored first); the loser of a
    /// race deletes its output. Requests waiting for the job hear of it.
    pub async fn finish(
        &self,
        me: &WorkerId,
        job: &Job,
        finish: &Finish,
        usage: Option<&Usage>,
        log: Bytes,
    ) -> Result<Finished, Fault> {
        let id = job.id;
        let inline_log = if self.inline.keeps(log.len()) {
            Some(log)
        } else {
            self.store_log(job, log).await?;
            None
        };
        // Earlier attempts can no longer finish the job (the row has named
        // this slot since this attempt started; a later attempt still
        // can): what they left behind goes before the result is visible.
        if job.attempts > 1 {
            self.drop_outputs(id, |a| a < job.attempts).await;
        }
        let meta = &self.backends.meta;
        if !meta
            .finish_job(id, me, finish, usage, inline_log.as_ref())
            .await?
        {
            self.superseded(job, finish, inline_log).await?;
            return Ok(Finished::Superseded);
        }
        if let Err(e) = self.backends.rail.announce(Signal::Finished, id).await {
            warn!(job = %id, error = %e, "announcing the job's end failed");
        }
        Ok(Finished::Recorded)
    }

    /// Fails the job with `error` (its attempts are used up). Earlier
    /// attempts may have uploaded output before they were lost: the dead
    /// letter keeps none of it, and it goes before the failure is visible,
    /// so a client that sees the job failed sees no output of it.
    pub async fn give_up(&self, me: &WorkerId, job: &Job, error: JobError) -> Result<(), Fault> {
        self.drop_outputs(job.id, |a| a < job.attempts).await;
        let failed = Finish::Failed(error);
        self.backends
            .meta
            .finish_job(job.id, me, &failed, None, None)
            .await?;
        Ok(())
    }

    async fn store_log(&self, job: &Job, log: Bytes) -> Result<(), Fault> {
        let key = job.id.log_key(job.attempts);
        self.backends.objects.put(&key, once(log)).await?;
        Ok(())
    }

    /// After a lost compare-and-set: the attempt's stored output goes, and
    /// its log goes where a large one would (the row did not take it).
    async fn superseded(
        &self,
        job: &Job,
        finish: &Finish,
        log: Option<Bytes>,
    ) -> Result<(), Fault> {
        let id = job.id;
        let stored = matches!(
            finish,
            Finish::Succeeded {
                inline_output: None,
                ..
            }
        );
        let output = Segments::output_of(self.backends.objects.clone(), id, job.attempts);
        if stored && let Err(e) = output.delete_all().await {
            warn!(job = %id, error = %e, "deleting a superseded attempt's output failed");
        }
        if let Some(log) = log
            && let Err(e) = self.store_log(job, log).await
        {
            warn!(job = %id, error = %e, "storing a superseded attempt's log failed");
        }
        match self.backends.meta.get_job(id).await? {
            Some(j) if j.status == JobStatus::Cancelled => info!(job = %id, "job cancelled"),
            _ => warn!(job = %id, "lease lost while running; another worker owns the job now"),
        }
        Ok(())
    }

    /// Deletes the outputs of the attempts of job `id` that `doomed`
    /// names: a worker that died after uploading, or whose own cleanup met
    /// the store down, cannot clean up after itself. (A late attempt still
    /// running deletes its own when it fails to finish the job.)
    async fn drop_outputs(&self, id: JobId, doomed: impl Fn(u32) -> bool) {
        let objects = &self.backends.objects;
        let keys = match objects.list(&id.outputs_prefix()).await {
            Ok(keys) => keys,
            Err(e) => {
                warn!(job = %id, error = %e, "listing earlier attempts' outputs failed");
                return;
            }
        };
        let doomed = keys
            .into_iter()
            .filter(|k| id.output_attempt(k).is_some_and(&doomed));
        for key in doomed {
            info!(job = %id, %key, "deleting the output of a superseded attempt");
            if let Err(e) = objects.delete(&key).await {
                warn!(job = %id, %key, error = %e, "deleting a superseded output failed");
            }
        }
    }
}
