//! Which jobs just ended, for the answers that wait for one (`GET
//! /v1/jobs/{id}?wait=`, `GET /v1/jobs/{id}/events`): one subscription to
//! the rail's [`Signal::Finished`] per API process, fanned out to every
//! waiting request. Best effort: a waiter also rereads the job row now and
//! then, which stays the truth.

use agensium_domain::JobId;
use agensium_ports::{Rail, Signal};
use futures::StreamExt;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::broadcast;
use tracing::warn;

/// How many announcements a slow waiter may fall behind before it rereads
/// its job instead.
const BACKLOG: usize = 4096;

/// The fan-out of job ends to waiting requests.
pub struct Finishes {
    tx: broadcast::Sender<JobId>,
}

impl Finishes {
    /// Starts listening to the rail; the listener stops once the returned
    /// value is dropped.
    pub fn start(rail: Arc<dyn Rail>) -> Arc<Self> {
        let this = Arc::new(Self {
            tx: broadcast::channel(BACKLOG).0,
        });
        tokio::spawn(listen(rail, Arc::downgrade(&this)));
        this
    }

    /// Job ends from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobId> {
        self.tx.subscribe()
    }
}

async fn listen(rail: Arc<dyn Rail>, owner: Weak<Finishes>) {
    let mut failures = 0u32;
    let mut alive = tokio::time::interval(Duration::from_secs(1));
    loop {
        let Some(tx) = owner.upgrade().map(|f| f.tx.clone()) else {
            return;
        };
        match rail.subscribe(Signal::Finished).await {
            Ok(mut ids) => {
                failures = 0;
                loop {
                    tokio::select! {
                        id = ids.next() => match id {
                            Some(id) => { let _ = tx.send(id); }
                            None => break,
                        },
                        _ = alive.tick() => if owner.strong_count() == 0 { return },
                    }
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                warn!(error = %e, "subscribing to job ends failed; waiting requests reread their jobs meanwhile");
            }
        }
        tokio::time::sleep(Duration::from_millis(200) * failures.min(25)).await;
    }
}
