//! The reconciler: keeps the rail consistent with the job rows, which are
//! the truth. Every worker process runs it.
//!
//! * When the rail lost its data (Redis restarted or was flushed), one
//!   process wins [`Rail::claim_rebuild`] and puts every queued job back.
//! * Jobs left `running` by a dead worker go back to `queued` once their
//!   lease lapsed, with a fresh ticket.
//! * Queued jobs without a ticket (the API accepted them while the rail was
//!   unreachable) get one once the rail is empty: an empty rail while old
//!   jobs are queued can only mean their tickets were never pushed.
//!
//! Duplicate tickets are harmless: a job starts only through
//! [`MetaStore::start_job`], which lets one worker at a time hold it.

use crate::{MetaError, MetaStore, Rail, RailError};
use agensium_domain::JobId;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Queued jobs put back because the rail had lost its tickets.
    pub rebuilt: usize,
    /// Jobs whose worker's lease lapsed, requeued.
    pub expired: usize,
    /// Queued jobs that had no ticket, given one.
    pub stranded: usize,
}

/// Queued jobs younger than this are never treated as stranded: their
/// ticket may be on its way.
pub const STRANDED_AFTER: Duration = Duration::from_secs(5);

/// Errors of a reconciler pass.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The rail failed.
    #[error(transparent)]
    Rail(#[from] RailError),
}

/// One pass of the reconciler.
pub async fn pass(meta: &dyn MetaStore, rail: &dyn Rail) -> Result<Report, ReconcileError> {
    let mut report = Report::default();
    if rail.claim_rebuild().await? {
        let mut after: Option<JobId> = None;
        loop {
            let page = meta.queued_jobs(after, 1000).await?;
            for job in &page {
                rail.push(job.id, &job.team).await?;
            }
            report.rebuilt += page.len();
            match page.last() {
                Some(last) if page.len() == 1000 => after = Some(last.id),
                _ => break,
            }
        }
    }
    for job in meta.requeue_expired().await? {
        rail.push(job.id, &job.team).await?;
        report.expired += 1;
    }
    if report.rebuilt == 0 && rail.backlog().await? == 0 {
        report.stranded = give_tickets_to_stranded(meta, rail).await?;
    }
    if report != Report::default() {
        tracing::info!(
            rebuilt = report.rebuilt,
            expired = report.expired,
            stranded = report.stranded,
            "reconciler put jobs back on the rail"
        );
    }
    Ok(report)
}

/// Pushes a ticket for every queued job older than [`STRANDED_AFTER`]
/// (job ids are time-ordered). Called only when the rail is empty.
async fn give_tickets_to_stranded(
    meta: &dyn MetaStore,
    rail: &dyn Rail,
) -> Result<usize, ReconcileError> {
    let cutoff = std::time::SystemTime::now() - STRANDED_AFTER;
    let (mut after, mut pushed) = (None, 0);
    loop {
        let page = meta.queued_jobs(after, 1000).await?;
        for job in page.iter().filter(|j| j.id.created() < cutoff) {
            rail.push(job.id, &job.team).await?;
            pushed += 1;
        }
        match page.last() {
            Some(last) if page.len() == 1000 => after = Some(last.id),
            _ => return Ok(pushed),
        }
    }
}

/// Runs [`pass`] every `every` until `shutdown`; errors are logged and
/// retried on the next tick.
pub async fn run(
    meta: &dyn MetaStore,
    rail: &dyn Rail,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        if let Err(e) = pass(meta, rail).await {
            tracing::warn!(error = %e, "reconciler pass failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
