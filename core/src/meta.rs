//! The metadata-store port: the source of truth for processors and jobs.

use crate::model::{
    Digest, Job, JobError, JobId, JobStatus, Pairs, ProcessorName, ProcessorVersion,
};
use async_trait::async_trait;

/// Errors of a metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The backend failed (connection lost, I/O, …).
    #[error("metadata store unavailable: {0}")]
    Backend(String),
    /// A stored row could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl MetaError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::fmt::Display) -> Self {
        Self::Backend(e.to_string())
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

/// The final state of one attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The processor succeeded.
    Succeeded {
        /// Bytes written to the output.
        output_bytes: u64,
        /// Media type reported by the processor.
        content_type: Option<String>,
        /// Statistics reported by the processor.
        stats: Pairs,
    },
    /// The job failed for good.
    Failed(JobError),
}

/// Processors, versions and jobs.
///
/// Invariants every adapter keeps (checked by
/// [`crate::conformance::meta_store`]):
/// * a version, once registered, never changes its digest;
/// * a job in a final state never changes again;
/// * `start_job` only starts `queued` or `running` jobs, and counts attempts.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
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

    /// Stores a new job.
    async fn insert_job(&self, job: &Job) -> Result<(), MetaError>;

    /// Looks a job up.
    async fn get_job(&self, id: JobId) -> Result<Option<Job>, MetaError>;

    /// Marks a `queued` or `running` job as running a new attempt: status
    /// `running`, `attempts + 1`, `started_at = now`. Returns the updated job,
    /// or `None` when the job is missing or already final.
    async fn start_job(&self, id: JobId) -> Result<Option<Job>, MetaError>;

    /// Records the final state of a `running` job. Returns false (and changes
    /// nothing) when the job was not running.
    async fn finish_job(&self, id: JobId, finish: &Finish) -> Result<bool, MetaError>;

    /// Jobs, newest first, optionally of one status; `before` pages on from
    /// the last id of the previous page.
    async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        before: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError>;

    /// Puts `running` jobs back to `queued` and returns the ids of every
    /// queued job, oldest first: what a restarted single process must put
    /// back on the rail.
    async fn recover_unfinished(&self) -> Result<Vec<JobId>, MetaError>;
}
