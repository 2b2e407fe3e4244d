//! The webhook part of the metadata store: which jobs' ends are due to be
//! announced, a claim on one delivery attempt, its recorded outcome, and
//! each team's signing secret.

use crate::meta::MetaError;
use agensium_domain::{DeliveryState, Job, JobId, TeamName, WebhookSecret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A delivery that is due: the job as it ended, and when the attempt was
/// due (the value a claim compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCallback {
    /// The job, final, with its callback.
    pub job: Job,
    /// When the attempt fell due, in milliseconds.
    pub due: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// `Delivered`, `Failed` (for good) or `Pending` (tried again at `next`).
    pub state: DeliveryState,
    /// What the receiver answered or why it could not be reached.
    pub outcome: String,
    /// When the attempt was made.
    pub at: DateTime<Utc>,
    /// When to try again (`Pending` only).
    pub next: Option<DateTime<Utc>>,
}

/// Webhook deliveries and secrets.
///
/// Invariants every adapter keeps (checked by
/// `agensium_testkit::conformance::callbacks`):
/// * a job's delivery falls due as the job ends (succeeded, failed or
///   cancelled), in the statement that ends it, and again when a retried
///   job ends again;
/// * a due attempt is claimed by one caller only;
/// * a record applies only to the attempt it names.
#[async_trait]
pub trait CallbackStore: Send + Sync + 'static {
    /// Deliveries due by `now`, longest due first, at most `limit`, of
    /// jobs of teams other than those in `skip` (teams already using their
    /// share of a dispatcher).
    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        skip: &[agensium_domain::TeamName],
    ) -> Result<Vec<DueCallback>, MetaError>;

    /// Claims the attempt of `due`: counts it and moves the job's next due
    /// time to `until` (when a claimer that died is replaced). False when
    /// another caller claimed it first.
    async fn claim_callback(
        &self,
        due: &DueCallback,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError>;

    /// Records what attempt number `attempt` of job `id` came to. False
    /// (nothing changed) when that is no longer the job's latest attempt.
    async fn record_callback(
        &self,
        id: JobId,
        attempt: u32,
        record: &AttemptRecord,
    ) -> Result<bool, MetaError>;

    /// The team's signing secret, created on first use. `None` when there
    /// is no such team.
    async fn webhook_secret(&self, team: &TeamName) -> Result<Option<WebhookSecret>, MetaError>;

    /// Replaces the team's secret. False when there is no such team.
    async fn set_webhook_secret(
        &self,
        team: &TeamName,
        secret: &WebhookSecret,
    ) -> Result<bool, MetaError>;
}
