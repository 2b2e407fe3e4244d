//! The metadata-store port: the source of truth for processors and jobs.

use crate::error::{BackendError, BoxError};
use agensium_domain::{
    Digest, Job, JobError, JobId, JobRef, JobStatus, Pairs, ProcessorName, ProcessorVersion,
    TeamName, Usage, WorkerId,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Errors of a metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The backend failed (connection lost, I/O, …): try again later.
    #[error("metadata store unavailable: {0}")]
    Backend(#[source] BackendError),
    /// A stored row could not be decoded: the data is wrong, and trying
    /// again will not help.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl MetaError {
    /// Wraps a backend error (or a message), keeping it as the source.
    pub fn backend(e: impl Into<BoxError>) -> Self {
        Self::Backend(BackendError::new(e))
    }
}

/// What registering a processor version did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutVersion {
    /// A new version was registered.
    Created,
    /// The version already existed with the same digest; nothing changed.
    Unchanged,
    /// The version already exists with another digest; nothing changed.
    Conflict(Digest),
}

/// A body of a job that may be kept inline in its row rather than in the
/// object store: small ones are (see `agensium_domain::InlineLimit`), so a
/// small job makes no object-store request at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobBody {
    /// What was submitted.
    Input,
    /// What the attempt that succeeded wrote.
    Output,
    /// The log of the attempt that finished the job.
    Log,
}

/// A job to store with [`MetaStore::insert_jobs`], with its input when that
/// is kept inline (`None`: it is in the object store under the job's input
/// key).
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// The row, status `queued`.
    pub job: &'a Job,
    /// The inline input.
    pub input: Option<&'a Bytes>,
}

/// A job [`MetaStore::start_job`] started: its row, and its input when the
/// input is kept inline (`None`: it is in the object store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedJob {
    /// The row as it is now (status `running`, attempts counted).
    pub job: Job,
    /// The inline input.
    pub input: Option<Bytes>,
}

/// Which jobs a listing shows; every `None` is "any".
#[derive(Debug, Clone, Copy, Default)]
pub struct JobFilter<'a> {
    /// One team's jobs.
    pub team: Option<&'a agensium_domain::TeamName>,
    /// Jobs in one status.
    pub status: Option<JobStatus>,
    /// Jobs of one processor.
    pub processor: Option<&'a ProcessorName>,
}

/// The final state of one attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The processor succeeded.
    Succeeded {
        /// Bytes written to the output.
        output_bytes: u64,
        /// The output itself when it is kept inline (`None`: it is in the
        /// object store under the attempt's output key).
        inline_output: Option<Bytes>,
        /// Media type reported by the processor.
        content_type: Option<String>,
        /// Statistics reported by the processor.
        stats: Pairs,
    },
    /// The job failed for good.
    Failed(JobError),
}

/// The metadata store: every port of the one store that is the truth,
/// each a trait of its own concern: [`JobStore`] (jobs and their leases),
/// [`Catalog`] (processor versions), [`crate::TenantStore`] (teams, keys,
/// ownership), [`crate::ArtifactLedger`] (precompiled artifacts) and
/// [`crate::CallbackStore`] (webhook deliveries). Every type that is all
/// of them is a `MetaStore`.
pub trait MetaStore:
    JobStore + Catalog + crate::TenantStore + crate::ArtifactLedger + crate::CallbackStore
{
}

impl<T> MetaStore for T where
    T: JobStore + Catalog + crate::TenantStore + crate::ArtifactLedger + crate::CallbackStore
{
}

/// Processor versions: what a job pins.
///
/// Invariant every adapter keeps (checked by
/// `agensium_testkit::conformance::catalog`): a version, once registered,
/// never changes its digest.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Registers a processor version unless the version exists already.
    async fn put_version(&self, v: &ProcessorVersion) -> Result<PutVersion, MetaError>;

    /// Looks one version up.
    async fn get_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError>;

    /// All versions of one processor (`Some(name)`) or of all processors,
    /// ordered by name then registration time.
    async fn list_versions(
        &self,
        name: Option<&ProcessorName>,
    ) -> Result<Vec<ProcessorVersion>, MetaError>;

    /// Yanks a version: no new job resolves to it, and `latest` moves to
    /// the newest version left. Idempotent. The version as it is now
    /// (`None` when it does not exist).
    async fn yank_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError>;

    /// Up to `limit` versions of `name`, newest first by precedence
    /// (`agensium_domain::precedence_key`), those below `before` only.
    async fn version_page(
        &self,
        name: &ProcessorName,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ProcessorVersion>, MetaError>;
}

/// Jobs: the truth of every job's state, and the leases of those running.
///
/// Invariants every adapter keeps (checked by
/// `agensium_testkit::conformance::meta_store`):
/// * a job in a final state never changes again;
/// * `start_job` only starts a `queued` job or a `running` job whose lease
///   has expired, so one job runs on one worker at a time; it counts attempts;
/// * only the lease owner can renew, finish or hand back a running job.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new job, with its input when that is kept inline (`None`:
    /// the input is in the object store under the job's input key).
    async fn insert_job(&self, job: &Job, input: Option<&Bytes>) -> Result<(), MetaError> {
        self.insert_jobs(&[NewJob { job, input }]).await
    }

    /// Stores several new jobs at once, all or none (one statement on the
    /// SQL stores): how the API coalesces submissions under load.
    async fn insert_jobs(&self, jobs: &[NewJob<'_>]) -> Result<(), MetaError>;

    /// Stores a new job (`queued`) unless its team has `max_queued` jobs
    /// queued already: the count and the insert are one step, whatever
    /// else inserts for the team at the same time (on every API process).
    /// False, and nothing stored, when the team is at its quota.
    async fn insert_job_within(
        &self,
        job: &Job,
        input: Option<&Bytes>,
        max_queued: u32,
    ) -> Result<bool, MetaError>;

    /// Looks a job up.
    async fn get_job(&self, id: JobId) -> Result<Option<Job>, MetaError>;

    /// Looks a job up with one of its bodies, when that is kept inline
    /// (`None` beside the job: it is in the object store, or there is none).
    async fn get_job_body(
        &self,
        id: JobId,
        body: JobBody,
    ) -> Result<Option<(Job, Option<Bytes>)>, MetaError>;

    /// Starts a new attempt of a `queued` job, or of a `running` job whose
    /// lease expired (its worker died): status `running`, `attempts + 1`,
    /// `started_at = now`, `worker = owner`, lease until `now + lease`.
    /// Returns the updated job (and its inline input), or `None` when the
    /// job is missing, final, or running under a live lease.
    async fn start_job(
        &self,
        id: JobId,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<Option<StartedJob>, MetaError>;

    /// Extends the lease of a job `owner` runs. False when the lease is lost.
    async fn renew_lease(
        &self,
        id: JobId,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<bool, MetaError>;

    /// Records the final state of a job `owner` runs, with the attempt's
    /// log when that is kept inline (`None`: it is in the object store, or
    /// there is none). Returns false (and changes nothing) when the job is
    /// not running under `owner`'s lease.
    async fn finish_job(
        &self,
        id: JobId,
        owner: &WorkerId,
        finish: &Finish,
        usage: Option<&Usage>,
        log: Option<&Bytes>,
    ) -> Result<bool, MetaError>;

    /// Hands a job `owner` runs back to `queued` (graceful shutdown, or an
    /// infrastructure error). False when `owner` does not hold it.
    async fn requeue_job(&self, id: JobId, owner: &WorkerId) -> Result<bool, MetaError>;

    /// Says a job `owner` started has passed its team's running quota and
    /// runs from now: its `started_at` becomes now, so no other job of the
    /// team appears to run beside it; the order the quota counts by (when
    /// it was claimed) is kept. Returns the new start time, or `None` when
    /// `owner` does not hold it.
    async fn admit_job(
        &self,
        id: JobId,
        owner: &WorkerId,
    ) -> Result<Option<DateTime<Utc>>, MetaError>;

    /// Gives back a job `owner` just started, uncounted: `queued` again,
    /// `attempts - 1`, lease dropped (its team is at its running quota).
    /// False when `owner` does not hold it.
    async fn yield_job(&self, id: JobId, owner: &WorkerId) -> Result<bool, MetaError>;

    /// Cancels a `queued` or `running` job: status `cancelled`, error code
    /// `cancelled`, lease dropped. False (nothing changed) when the job is
    /// missing or already final. A worker running it notices and stops.
    async fn cancel_job(&self, id: JobId) -> Result<bool, MetaError>;

    /// Puts a `failed` or `cancelled` job back to `queued` for a new round
    /// of attempts (same pinned digest, same input): error, output, usage,
    /// worker, timestamps, inline output and log cleared, `attempt_base =
    /// attempts`. False when the job is missing or in another state.
    async fn retry_job(&self, id: JobId) -> Result<bool, MetaError>;

    /// Puts `running` jobs whose lease expired back to `queued`; returns them.
    async fn requeue_expired(&self) -> Result<Vec<JobRef>, MetaError>;

    /// Ids of queued jobs, oldest first, after `after` (for paging): what a
    /// reconciler puts back on a rail that lost its tickets.
    async fn queued_jobs(&self, after: Option<JobId>, limit: u32)
    -> Result<Vec<JobRef>, MetaError>;

    /// Jobs, newest first, as `filter` says; `before` pages on from the
    /// last id of the previous page.
    async fn list_jobs(
        &self,
        filter: &JobFilter<'_>,
        before: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError>;

    /// Puts every `running` job back to `queued` and returns the ids of every
    /// queued job, oldest first: what a restarted *single* process (whose
    /// workers are all gone) puts back on its rail.
    async fn recover_unfinished(&self) -> Result<Vec<JobRef>, MetaError>;

    /// Deletes the rows of those of `ids` that are final, leaving for each
    /// a tombstone (its id and team, `at`) that [`JobStore::expired_job`]
    /// reads; how many rows went. A queued or running job is never
    /// deleted. Idempotent.
    async fn expire_jobs(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<u64, MetaError>;

    /// The team of job `id` when it expired (its row is gone).
    async fn expired_job(&self, id: JobId) -> Result<Option<TeamName>, MetaError>;

    /// Takes or renews the lease `name` for `holder` until `until`, unless
    /// another holder's lease on it runs past `now`: true when `holder`
    /// holds it now. What keeps a fleet-wide chore (the retention sweep)
    /// to one process at a time.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError>;
}
