//! The rail port: tickets that hand queued jobs to workers.

use crate::error::{BackendError, BoxError};
use agensium_domain::{JobId, TeamName, WorkerId};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::time::Duration;

/// Errors of a rail.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    /// The backend failed.
    #[error("rail unavailable: {0}")]
    Backend(#[source] BackendError),
}

impl RailError {
    /// Wraps a backend error (or a message), keeping it as the source.
    pub fn backend(e: impl Into<BoxError>) -> Self {
        Self::Backend(BackendError::new(e))
    }
}

/// A delivered ticket: a lease on one job until acked or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The job to run.
    pub job_id: JobId,
    /// How many times this ticket has been delivered, this delivery included.
    pub deliveries: u32,
    /// Adapter-specific handle used to ack or release the ticket.
    pub receipt: String,
}

/// What the rail announces about a job, to every process listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// The job was cancelled: the worker running it stops it.
    Cancel,
    /// The job reached its final state: requests waiting for it answer.
    Finished,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 2] = [Signal::Cancel, Signal::Finished];

    /// A short name, e.g. for a channel.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancel => "cancel",
            Self::Finished => "finished",
        }
    }
}

/// The ticket rail. A ticket only says "look at job X"; the job row in the
/// [`crate::MetaStore`] stays the truth, so a ticket delivered twice is
/// harmless and a lost rail can be rebuilt from the job rows.
///
/// Each team has its own **lane**; takers serve the lanes that have
/// tickets in turn, so a team that floods the rail delays its own tickets,
/// not other teams'. Within a lane, tickets come first in, first out.
///
/// Invariants every adapter keeps (checked by `agensium_testkit::conformance::rail`):
/// * every pushed ticket is delivered to one taker at a time;
/// * lanes with tickets are served in turn;
/// * a taken ticket stays leased until `ack` (gone) or `release` (delivered
///   again, with `deliveries` + 1);
/// * `take` waits at most `wait` and returns `None` when nothing came.
#[async_trait]
pub trait Rail: Send + Sync + 'static {
    /// Puts a ticket for `job` on the lane of `team`.
    async fn push(&self, job: JobId, team: &TeamName) -> Result<(), RailError>;

    /// Puts several tickets on their teams' lanes, in order (one round trip
    /// on a networked rail): how the API coalesces submissions under load.
    /// On an error some of them may be on the rail; pushing one twice is
    /// harmless (the job row is the truth).
    async fn push_many(&self, tickets: &[(JobId, TeamName)]) -> Result<(), RailError> {
        for (job, team) in tickets {
            self.push(*job, team).await?;
        }
        Ok(())
    }

    /// Takes the next ticket for `consumer`, waiting up to `wait`.
    async fn take(&self, consumer: &WorkerId, wait: Duration) -> Result<Option<Ticket>, RailError>;

    /// Removes a ticket for good, once its job's final state is recorded.
    async fn ack(&self, ticket: &Ticket) -> Result<(), RailError>;

    /// Extends the lease of a ticket whose job is still running, so that it
    /// is not reclaimed by another worker.
    async fn renew(&self, ticket: &Ticket) -> Result<(), RailError>;

    /// Hands a ticket back so that another worker takes it at once.
    async fn release(&self, ticket: &Ticket) -> Result<(), RailError>;

    /// Tells every process subscribed to `signal` (see [`Rail::subscribe`])
    /// that it happened to `job`. Best effort, the fast path: whoever
    /// listens also rereads the job row, which stays the truth.
    async fn announce(&self, signal: Signal, job: JobId) -> Result<(), RailError>;

    /// The jobs `signal` is announced for by any process from now on. The
    /// stream ends when the rail's connection is lost: subscribe again.
    async fn subscribe(&self, signal: Signal) -> Result<BoxStream<'static, JobId>, RailError>;

    /// Tickets on the rail not yet acked: waiting, or taken and running.
    /// Zero means no queued job can be waiting for a ticket it has.
    async fn backlog(&self) -> Result<u64, RailError>;

    /// Returns true — to exactly one caller among all processes — when the
    /// rail is new or lost its data (a Redis restart or `FLUSHALL`) since
    /// that was last claimed. The caller must then put every queued job back
    /// on the rail (see [`crate::reconcile`]).
    async fn claim_rebuild(&self) -> Result<bool, RailError>;
}
