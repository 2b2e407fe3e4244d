//! What becomes of a ticket when a slot is done with its job.

use agensium_domain::JobError;
use agensium_ports::{MetaError, StoreError};
use agensium_usecases::work::Fault;

/// The end of a slot's work on one ticket.
#[derive(Debug)]
pub enum Disposition {
    /// Acknowledge the ticket: the job needs it no more.
    Ack(Ack),
    /// Not the processor's fault: put the job back to `queued` and release
    /// the ticket after a backoff, for this or another worker to retry.
    HandBack(Cause),
    /// The job's team runs as many jobs as its quota allows: the job was
    /// given back uncounted; release the ticket after a short pause, so the
    /// slot serves other teams meanwhile.
    Throttled,
}

/// Why a ticket is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// The job is missing, final, or running under another worker's live
    /// lease: the ticket is stale.
    Stale,
    /// This attempt recorded the job's final state (succeeded or failed).
    Finished,
    /// The job used up its attempts on infrastructure failures; it was
    /// recorded as failed with `max_attempts`.
    GaveUp,
    /// This attempt lost the job while it ran: cancelled, or its lease
    /// lapsed and another worker took it over. Its output was deleted.
    Superseded,
}

/// Why a job is handed back: a failure of the infrastructure.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// A backend failed (outside a run: loading the component, the row,
    /// the log, the rail).
    #[error(transparent)]
    Backend(#[from] Fault),
    /// The run ended on an infrastructure condition, not the processor's
    /// doing: the object store failed mid-stream, or the worker had no free
    /// sandbox instance ([`JobError::code`] is never final).
    #[error("the attempt failed on the infrastructure: {0}")]
    Run(JobError),
    /// The task uploading the output died.
    #[error("the output upload task failed: {0}")]
    Join(#[source] tokio::task::JoinError),
    /// Shutdown's grace period ended while the job ran.
    #[error("the worker is shutting down; the job goes to another worker")]
    ShuttingDown,
}

impl From<MetaError> for Cause {
    fn from(e: MetaError) -> Self {
        Self::Backend(e.into())
    }
}

impl From<StoreError> for Cause {
    fn from(e: StoreError) -> Self {
        Self::Backend(e.into())
    }
}

impl From<Result<Ack, Cause>> for Disposition {
    fn from(r: Result<Ack, Cause>) -> Self {
        match r {
            Ok(ack) => Self::Ack(ack),
            Err(cause) => Self::HandBack(cause),
        }
    }
}
