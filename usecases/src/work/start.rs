//! Starting a ticket's job: under this slot's lease, within its team's
//! running quota.

use super::Shift;
use agensium_domain::WorkerId;
use agensium_ports::{MetaError, StartedJob, Ticket};

/// What became of starting a ticket's job.
pub enum Started {
    /// Started under this slot's lease: run it.
    Run(Box<StartedJob>),
    /// Missing, final, or running under another live lease.
    Stale,
    /// Given back: its team is at its running quota.
    Throttled,
}

impl Shift {
    /// Starts the job of `ticket` under a lease, unless it is stale or its
    /// team already runs as many jobs as its quota allows (then the start
    /// is given back, uncounted).
    pub async fn start(&self, me: &WorkerId, ticket: &Ticket) -> Result<Started, MetaError> {
        let meta = &self.backends.meta;
        let Some(mut started) = meta.start_job(ticket.job_id, me, self.lease).await? else {
            return Ok(Started::Stale);
        };
        let job = &started.job;
        let Some(max) = self.quotas.max_running(meta.as_ref(), &job.team).await? else {
            return Ok(Started::Run(Box::new(started)));
        };
        if meta.running_ahead(job).await? < u64::from(max) {
            // Its start time becomes now: the jobs ahead of it that just
            // ended ended before it.
            let Some(at) = meta.admit_job(job.id, me).await? else {
                return Ok(Started::Stale);
            };
            started.job.started_at = Some(at);
            return Ok(Started::Run(Box::new(started)));
        }
        if meta.yield_job(job.id, me).await? {
            Ok(Started::Throttled)
        } else {
            Ok(Started::Stale)
        }
    }

    /// Puts the job's row back to `queued` (the ticket goes back after it,
    /// or the next taker finds the row still leased to `me` and drops the
    /// ticket); false when `me` no longer holds it.
    pub async fn requeue(&self, me: &WorkerId, ticket: &Ticket) -> Result<bool, MetaError> {
        self.backends.meta.requeue_job(ticket.job_id, me).await
    }
}
