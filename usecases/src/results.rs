//! What a job's reader gets besides its row: the output an attempt stores,
//! the log of its latest attempt, the row as it is now (for a reader that
//! waits on it).

use crate::{Refusal, Result};
use agensium_domain::{Job, JobId};
use agensium_ports::segments::Segments;
use agensium_ports::{Backends, ByteStream, MetaStore, StoreError};

/// Where attempt `attempt` of job `id` stores its output, to read.
pub fn output(b: &Backends, id: JobId, attempt: u32) -> Segments {
    Segments::output_of(b.objects.clone(), id, attempt)
}

/// The stored log of `job`'s latest attempt (`None`: it ran no attempt, or
/// its log was kept with the row, or it left none).
pub async fn stored_log(b: &Backends, job: &Job) -> Result<Option<ByteStream>> {
    if job.attempts == 0 {
        return Ok(None);
    }
    match b.objects.get(&job.id.log_key(job.attempts)).await {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Job `id` as the store has it now (a reader already found it visible).
pub async fn current(meta: &dyn MetaStore, id: JobId) -> Result<Job> {
    meta.get_job(id)
        .await?
        .ok_or_else(|| Refusal::not_found("job_not_found", format!("no job {id}")))
}
