//! In-process rail: the embedded default.

use crate::rail::{Rail, RailError, Signal, Ticket};
use agensium_domain::{JobId, TeamName, WorkerId};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Notify, broadcast};

/// A ticket: its job and how many times it was delivered before.
type Entry = (JobId, u32);

#[derive(Default)]
struct State {
    /// Lanes that have tickets, in turn: the front one is served next.
    turn: VecDeque<TeamName>,
    /// Each team's tickets, first in first out; no empty lane is kept.
    lanes: HashMap<TeamName, VecDeque<Entry>>,
    leased: HashMap<String, (Entry, TeamName)>,
    next_receipt: u64,
}

impl State {
    /// Puts an entry on its lane (at the front for a released one); a lane
    /// that was empty joins the turn (at the front for a released one).
    fn put(&mut self, team: TeamName, entry: Entry, front: bool) {
        let lane = self.lanes.entry(team.clone()).or_default();
        let new = lane.is_empty();
        if front {
            lane.push_front(entry);
        } else {
            lane.push_back(entry);
        }
        match (new, front) {
            (true, true) => self.turn.push_front(team),
            (true, false) => self.turn.push_back(team),
            (false, _) => {}
        }
    }

    /// The next lane's first entry; the lane goes to the back of the turn.
    fn next(&mut self) -> Option<(Entry, TeamName)> {
        let team = self.turn.pop_front()?;
        let lane = self.lanes.get_mut(&team)?;
        let entry = lane.pop_front()?;
        if lane.is_empty() {
            self.lanes.remove(&team);
        } else {
            self.turn.push_back(team.clone());
        }
        Some((entry, team))
    }
}

/// A rail inside one process. It does not survive a restart; the job rows
/// do, and startup recovery puts unfinished jobs back on it.
pub struct MemoryRail {
    state: Mutex<State>,
    notify: Notify,
    /// One channel per [`Signal`], in the order of [`Signal::ALL`].
    signals: [broadcast::Sender<JobId>; 2],
}

impl Default for MemoryRail {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            signals: Signal::ALL.map(|_| broadcast::channel(1024).0),
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
        let ((job_id, prior), team) = s.next()?;
        s.next_receipt += 1;
        let receipt = s.next_receipt.to_string();
        s.leased
            .insert(receipt.clone(), ((job_id, prior + 1), team));
        Some(Ticket {
            job_id,
            deliveries: prior + 1,
            receipt,
        })
    }
}

#[async_trait]
impl Rail for MemoryRail {
    async fn push(&self, job: JobId, team: &TeamName) -> Result<(), RailError> {
        self.state
            .lock()
            .expect("rail lock")
            .put(team.clone(), (job, 0), false);
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

    async fn announce(&self, signal: Signal, job: JobId) -> Result<(), RailError> {
        // No subscriber is no error: nobody here cares about the job.
        let _ = self.signals[signal as usize].send(job);
        Ok(())
    }

    async fn subscribe(&self, signal: Signal) -> Result<BoxStream<'static, JobId>, RailError> {
        let rx = self.signals[signal as usize].subscribe();
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
        let waiting: usize = s.lanes.values().map(VecDeque::len).sum();
        Ok((waiting + s.leased.len()) as u64)
    }

    async fn claim_rebuild(&self) -> Result<bool, RailError> {
        // Lives and dies with the process; startup recovery refills it.
        Ok(false)
    }

    async fn release(&self, ticket: &Ticket) -> Result<(), RailError> {
        let mut s = self.state.lock().expect("rail lock");
        if let Some((entry, team)) = s.leased.remove(&ticket.receipt) {
            s.put(team, entry, true);
            drop(s);
            self.notify.notify_one();
        }
        Ok(())
    }
}
