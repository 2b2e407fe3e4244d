//! In-process rail: the embedded default.

use crate::rail::{Rail, RailError, Ticket};
use agensium_domain::{JobId, WorkerId};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Notify, broadcast};

#[derive(Default)]
struct State {
    ready: VecDeque<(JobId, u32)>,
    leased: HashMap<String, (JobId, u32)>,
    next_receipt: u64,
}

/// A rail inside one process. It does not survive a restart; the job rows
/// do, and startup recovery puts unfinished jobs back on it.
pub struct MemoryRail {
    state: Mutex<State>,
    notify: Notify,
    cancels: broadcast::Sender<JobId>,
}

impl Default for MemoryRail {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            cancels: broadcast::channel(1024).0,
        }
    }
}

impl MemoryRail {
    /// An empty rail.
    pub fn new() -> Self {
        Self::default()
    }

    fn try_take(&self) -> Option<Ticket> {
        let mut s = self.state.lock().expect("rail lock");
        let (job_id, prior) = s.ready.pop_front()?;
        s.next_receipt += 1;
        let receipt = s.next_receipt.to_string();
        s.leased.insert(receipt.clone(), (job_id, prior + 1));
        Some(Ticket {
            job_id,
            deliveries: prior + 1,
            receipt,
        })
    }
}

#[async_trait]
impl Rail for MemoryRail {
    async fn push(&self, job: JobId) -> Result<(), RailError> {
        self.state
            .lock()
            .expect("rail lock")
            .ready
            .push_back((job, 0));
        self.notify.notify_one();
        Ok(())
    }

    async fn take(
        &self,
        _consumer: &WorkerId,
        wait: Duration,
    ) -> Result<Option<Ticket>, RailError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before checking, so a push in between is not missed.
            let notified = self.notify.notified();
            if let Some(t) = self.try_take() {
                return Ok(Some(t));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(self.try_take());
            }
        }
    }

    async fn ack(&self, ticket: &Ticket) -> Result<(), RailError> {
        self.state
            .lock()
            .expect("rail lock")
            .leased
            .remove(&ticket.receipt);
        Ok(())
    }

    async fn renew(&self, _ticket: &Ticket) -> Result<(), RailError> {
        // In-process leases never expire: the process holding them is this one.
        Ok(())
    }

    async fn announce_cancel(&self, job: JobId) -> Result<(), RailError> {
        // No subscriber is no error: nothing runs the job here.
        let _ = self.cancels.send(job);
        Ok(())
    }

    async fn cancellations(&self) -> Result<BoxStream<'static, JobId>, RailError> {
        let rx = self.cancels.subscribe();
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(id) => return Some((id, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })))
    }

    async fn backlog(&self) -> Result<u64, RailError> {
        let s = self.state.lock().expect("rail lock");
        Ok((s.ready.len() + s.leased.len()) as u64)
    }

    async fn claim_rebuild(&self) -> Result<bool, RailError> {
        // Lives and dies with the process; startup recovery refills it.
        Ok(false)
    }

    async fn release(&self, ticket: &Ticket) -> Result<(), RailError> {
        let mut s = self.state.lock().expect("rail lock");
        if let Some(entry) = s.leased.remove(&ticket.receipt) {
            s.ready.push_front(entry);
            drop(s);
            self.notify.notify_one();
        }
        Ok(())
    }
}
