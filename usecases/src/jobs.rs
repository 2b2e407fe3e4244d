//! What may be done to a job once it exists: find it, cancel it, retry it;
//! and the queued-jobs quota a submission or retry must fit.

use crate::{Refusal, Result};
use agensium_domain::{
    Action, Caller, Job, JobId, JobStatus, Resource, Team, TransitionError, authorize,
};
use agensium_ports::segments::Segments;
use agensium_ports::{Backends, JobBody, MetaStore, Signal, StoreError};
use bytes::Bytes;
use std::time::Duration;

/// How long a caller over its queued-jobs quota is asked to wait.
pub const QUOTA_RETRY_AFTER: Duration = Duration::from_secs(5);

fn not_found(what: &str) -> Refusal {
    Refusal::not_found("job_not_found", format!("no job {what}"))
}

/// The job `raw` names, when `caller` may see it (its team's, or any for
/// an operator): [`Refusal::NotFound`] otherwise, the same answer as for a
/// job that does not exist; [`Refusal::Gone`] `expired` for one of its
/// team's that retention swept.
pub async fn find(meta: &dyn MetaStore, caller: &Caller, raw: &str) -> Result<Job> {
    let id = job_id(raw)?;
    let Some(job) = meta.get_job(id).await? else {
        return Err(missing(meta, caller, id, raw).await);
    };
    visible(caller, &job, raw)?;
    Ok(job)
}

/// Why job `id` is not there: expired (when `caller` may see its team),
/// else not found.
async fn missing(meta: &dyn MetaStore, caller: &Caller, id: JobId, raw: &str) -> Refusal {
    match meta.expired_job(id).await {
        Ok(Some(team)) if authorize(caller, Action::Read, Resource::Team(&team)).is_ok() => {
            Refusal::gone(
                "expired",
                format!("job {id} expired: its team keeps finished jobs for a limited time"),
            )
        }
        Ok(_) => not_found(raw),
        Err(e) => e.into(),
    }
}

/// [`find`] with one of the job's bodies, when that is kept inline.
pub async fn find_with(
    meta: &dyn MetaStore,
    caller: &Caller,
    raw: &str,
    body: JobBody,
) -> Result<(Job, Option<Bytes>)> {
    let id = job_id(raw)?;
    let Some((job, bytes)) = meta.get_job_body(id, body).await? else {
        return Err(missing(meta, caller, id, raw).await);
    };
    visible(caller, &job, raw)?;
    Ok((job, bytes))
}

fn job_id(raw: &str) -> Result<JobId> {
    raw.parse()
        .map_err(|e: agensium_domain::InvalidInput| Refusal::not_found("job_not_found", e.0))
}

fn visible(caller: &Caller, job: &Job, raw: &str) -> Result<()> {
    authorize(caller, Action::Read, Resource::Team(&job.team))
        .map_err(|d| Refusal::denied(d, || not_found(raw)))
}

/// Who may change a job's course: its team's submitters, operators.
fn may_control(caller: &Caller, job: &Job) -> Result<()> {
    authorize(caller, Action::Control, Resource::Team(&job.team))
        .map_err(|d| Refusal::denied(d, || not_found(&job.id.to_string())))
}

/// Cancels the job `raw` names: a queued one never starts, a running one is
/// stopped by its worker (within a fraction of a second). The job as the
/// cancel left it; [`Refusal::Conflict`] `job_finished` when it was final.
pub async fn cancel(b: &Backends, caller: &Caller, raw: &str) -> Result<Job> {
    let job = find(b.meta.as_ref(), caller, raw).await?;
    may_control(caller, &job)?;
    if !cancel_one(b, job.id).await? {
        let now = find(b.meta.as_ref(), caller, raw).await?;
        return Err(Refusal::conflict(
            "job_finished",
            refusal(&now, now.status.cancel()),
        ));
    }
    tracing::info!(job = %job.id, was = %job.status, by = %caller.key_id, "job cancelled");
    find(b.meta.as_ref(), caller, raw).await
}

/// Cancels job `id` if it is queued or running, and announces it: the fast
/// path to the worker running it (which also watches the row) and to the
/// requests waiting for the job's end. False when it was already final.
pub async fn cancel_one(b: &Backends, id: JobId) -> Result<bool> {
    if !b.meta.cancel_job(id).await? {
        return Ok(false);
    }
    for signal in Signal::ALL {
        if let Err(e) = b.rail.announce(signal, id).await {
            tracing::warn!(job = %id, error = %e, ?signal, "announcing the cancellation failed");
        }
    }
    Ok(true)
}

/// Runs a `failed` (or `cancelled`) job of `team`'s again with its pinned
/// digest, params and input, under the same id; its ticket goes on the
/// rail. The job as the retry left it (`queued`). Refused: 409 in any
/// other state, 410 when its input is gone, 429 over the queued quota.
pub async fn retry(b: &Backends, caller: &Caller, team: &Team, raw: &str) -> Result<Job> {
    let (job, inline_input) = find_with(b.meta.as_ref(), caller, raw, JobBody::Input).await?;
    may_control(caller, &job)?;
    check_queued_quota(b.meta.as_ref(), team).await?;
    if let Err(e) = job.status.retry() {
        return Err(Refusal::conflict(
            "job_not_retryable",
            refusal(&job, Err(e)),
        ));
    }
    if inline_input.is_none() {
        input_stored(b, job.id).await?;
    }
    if !b.meta.retry_job(job.id).await? {
        let now = find(b.meta.as_ref(), caller, raw).await?;
        return Err(Refusal::conflict(
            "job_not_retryable",
            refusal(&now, now.status.retry()),
        ));
    }
    // The answer is the job as the retry left it: read before its ticket
    // is on the rail, where a worker could start it first.
    let queued = find(b.meta.as_ref(), caller, raw).await?;
    if let Err(e) = b.rail.push(job.id, &job.team).await {
        // The row is queued: the reconciler puts it back on the rail.
        tracing::warn!(job = %job.id, error = %e, "rail push failed; the job stays queued");
    }
    tracing::info!(job = %job.id, was = %job.status, by = %caller.key_id, "job retried");
    Ok(queued)
}

/// Whether `job` has a result to read: [`Refusal::Conflict`]
/// `job_not_finished` while it runs, `job_failed` (with its error) when it
/// failed or was cancelled.
pub fn has_result(job: &Job) -> Result<()> {
    match job.status {
        JobStatus::Succeeded => Ok(()),
        JobStatus::Queued | JobStatus::Running => Err(Refusal::conflict(
            "job_not_finished",
            format!(
                "job {} is {}; the result is available once it succeeded",
                job.id, job.status
            ),
        )),
        JobStatus::Failed | JobStatus::Cancelled => {
            let why = job
                .error
                .as_ref()
                .map(|e| format!(": {}: {}", e.code, e.message))
                .unwrap_or_default();
            Err(Refusal::conflict(
                "job_failed",
                format!("job {} is {} and has no result{why}", job.id, job.status),
            ))
        }
    }
}

/// [`Refusal::Gone`] `input_gone` unless job `id`'s stored input is there.
async fn input_stored(b: &Backends, id: JobId) -> Result<()> {
    match Segments::input_of(b.objects.clone(), id).first_size().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) | Err(StoreError::NotFound(_)) => Err(Refusal::Gone {
            code: "input_gone",
            message: format!("the input of job {id} is no longer stored"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// [`Refusal::TooMany`] `quota_exceeded` when `team` has as many jobs
/// queued as its `max_queued` allows. A cheap first check; the insert
/// counts again in the same step (`MetaStore::insert_job_within`).
pub async fn check_queued_quota(meta: &dyn MetaStore, team: &Team) -> Result<()> {
    let Some(max) = team.quota.max_queued else {
        return Ok(());
    };
    let queued = meta.count_jobs(&team.name, JobStatus::Queued).await?;
    if queued >= u64::from(max) {
        return Err(queue_full(team, Some(queued)));
    }
    Ok(())
}

/// [`Refusal::TooMany`] `quota_exceeded`: `team` has its `max_queued` jobs
/// queued (or `queued`).
pub fn queue_full(team: &Team, queued: Option<u64>) -> Refusal {
    let max = team.quota.max_queued.unwrap_or(0);
    let queued = queued.unwrap_or(u64::from(max));
    Refusal::TooMany {
        code: "quota_exceeded",
        message: format!(
            "team {} has {queued} jobs queued, its quota is {max}; submit again when some have started",
            team.name
        ),
        retry_after: QUOTA_RETRY_AFTER,
    }
}

/// Why the state machine refused a transition, for a 409.
fn refusal(job: &Job, t: std::result::Result<JobStatus, TransitionError>) -> String {
    match t {
        Err(e) => format!("job {}: {e}", job.id),
        Ok(_) => format!(
            "job {} changed meanwhile (now {}); try again",
            job.id, job.status
        ),
    }
}
