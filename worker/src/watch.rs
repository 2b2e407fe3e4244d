//! Watching a running job: its lease heartbeat, and the two ways a
//! cancellation reaches it (the rail's announcements, the job row).

use super::{Worker, backoff};
use agensium_domain::{JobId, WorkerId};
use agensium_ports::Ticket;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often a running job's row is checked for cancellation: the fallback
/// of the rail's cancellation announcements (and the check for a lost lease).
const CANCEL_POLL: Duration = Duration::from_millis(500);

impl Worker {
    /// Stops jobs running here as soon as the rail announces their
    /// cancellation; resubscribes (with backoff) when the rail drops.
    pub(super) async fn listen_for_cancels(&self, shutdown: CancellationToken) {
        let mut failures = 0;
        while !shutdown.is_cancelled() {
            match self.shift.cancellations().await {
                Ok(mut ids) => {
                    failures = 0;
                    while let Some(id) = tokio::select! {
                        _ = shutdown.cancelled() => None,
                        id = ids.next() => id,
                    } {
                        let token = self.running.lock().expect("running jobs").get(&id).cloned();
                        if let Some(token) = token {
                            info!(job = %id, "cancellation announced; stopping the job");
                            token.cancel();
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    warn!(error = %e, "subscribing to cancellations failed; polling job rows meanwhile");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(backoff(failures)) => {}
            }
        }
    }

    /// Polls the job row while it runs and cancels `token` once the job is
    /// no longer running under `owner` (cancelled through the API, or the
    /// lease was lost), so the processor stops within a poll interval.
    pub(super) fn watch_cancel(
        &self,
        id: JobId,
        owner: &WorkerId,
        token: CancellationToken,
    ) -> AbortOnDrop {
        let (shift, owner) = (self.shift.clone(), owner.to_owned());
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(CANCEL_POLL).await;
                match shift.still_ours(id, &owner).await {
                    Ok(true) => {}
                    Ok(false) => {
                        token.cancel();
                        return;
                    }
                    Err(e) => warn!(job = %id, error = %e, "checking for cancellation failed"),
                }
            }
        }))
    }

    /// Renews the job's lease and its ticket every third of the lease until
    /// aborted (dropping the handle does not stop it; `abort` does).
    pub(super) fn heartbeat(&self, owner: &WorkerId, ticket: &Ticket) -> AbortOnDrop {
        let (shift, owner, ticket) = (self.shift.clone(), owner.to_owned(), ticket.clone());
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(shift.lease() / 3).await;
                match shift.renew_lease(&owner, ticket.job_id).await {
                    Ok(true) => {}
                    Ok(false) => warn!(job = %ticket.job_id, "lease lost"),
                    Err(e) => warn!(job = %ticket.job_id, error = %e, "lease renewal failed"),
                }
                if let Err(e) = shift.renew_ticket(&ticket).await {
                    warn!(job = %ticket.job_id, error = %e, "ticket renewal failed");
                }
            }
        }))
    }
}

/// A running job's entry in [`Worker::running`], removed when dropped.
pub(super) struct Registered<'a> {
    map: &'a Mutex<HashMap<JobId, CancellationToken>>,
    id: JobId,
}

impl<'a> Registered<'a> {
    pub(super) fn new(
        map: &'a Mutex<HashMap<JobId, CancellationToken>>,
        id: JobId,
        token: CancellationToken,
    ) -> Self {
        map.lock().expect("running jobs").insert(id, token);
        Self { map, id }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.map.lock().expect("running jobs").remove(&self.id);
    }
}

/// Aborts a task when dropped, so that no early return leaks a heartbeat.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    pub(super) fn abort(&self) {
        self.0.abort();
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
