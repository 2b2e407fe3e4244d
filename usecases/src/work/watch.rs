//! Keeping a running job: its lease, its ticket, and whether it is still
//! this slot's to run.

use super::Shift;
use agensium_domain::{JobId, JobStatus, WorkerId};
use agensium_ports::{MetaError, RailError, Signal, Ticket};
use futures::stream::BoxStream;

impl Shift {
    /// Renews the job's lease for `me`: false when it was lost.
    pub async fn renew_lease(&self, me: &WorkerId, id: JobId) -> Result<bool, MetaError> {
        self.backends.meta.renew_lease(id, me, self.lease).await
    }

    /// Keeps the ticket from being handed to another worker.
    pub async fn renew_ticket(&self, ticket: &Ticket) -> Result<(), RailError> {
        self.backends.rail.renew(ticket).await
    }

    /// True while job `id` runs under `me` (not cancelled, lease not lost).
    pub async fn still_ours(&self, id: JobId, me: &WorkerId) -> Result<bool, MetaError> {
        let job = self.backends.meta.get_job(id).await?;
        Ok(job.is_some_and(|j| j.status == JobStatus::Running && j.worker.as_ref() == Some(me)))
    }

    /// Ids of jobs whose cancellation is announced from now on.
    pub async fn cancellations(&self) -> Result<BoxStream<'static, JobId>, RailError> {
        self.backends.rail.subscribe(Signal::Cancel).await
    }
}
