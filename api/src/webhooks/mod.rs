//! Webhooks: when a job submitted with a `callback_url` ends, its job
//! document is POSTed there, signed with the team's secret, and retried
//! with backoff until a receiver answers 2xx or the attempts run out.
//!
//! The job row is the truth here too: the statement that ends a job makes
//! its delivery due (`callback_next_at`), so a delivery survives any crash.
//! Every API process runs a dispatcher ([`Webhooks::run`]); it wakes on the
//! rail's job ends (and once a second), claims due attempts with a
//! compare-and-set (one process per attempt), and records each outcome on
//! the job, where `GET /v1/jobs/{id}` shows it. Delivery is at least once:
//! receivers deduplicate on `Agensium-Delivery`.
//!
//! Callbacks are refused on loopback, private, link-local and other
//! non-public addresses unless the operator allows them ([`egress`]):
//! literal addresses at submission, resolved names at every connection.

mod deliver;
pub mod egress;

use crate::error::ApiError;
use crate::fair::FairShare;
use crate::finishes::Finishes;
use agensium_domain::TeamName;
use agensium_domain::{CallbackUrl, now_to_the_millisecond};
use agensium_ports::MetaStore;
use agensium_ports::callbacks::DueCallback;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Deliver to loopback, private and link-local addresses too (a test
    /// rig, or receivers inside the operator's own network).
    pub allow_private: bool,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Time one attempt may take, connecting included.
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_attempts: 10,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// How often a dispatcher looks for due deliveries when no job ends.
const POLL: Duration = Duration::from_secs(1);
/// Least time between two looks, however many jobs end.
const LINGER: Duration = Duration::from_millis(50);
/// Deliveries one process makes at once.
const IN_FLIGHT: usize = 32;
/// Deliveries of one team a process makes at once: a team whose
/// receivers are slow delays its own deliveries, not other teams'.
const IN_FLIGHT_PER_TEAM: usize = 8;

/// Delivery slots, shared among teams.
type Slots = FairShare<TeamName>;

/// The pause after failed attempt number `attempt` (1-based): 1 s, 2 s,
/// 4 s, … at most [`MAX_BACKOFF`].
pub fn backoff(attempt: u32) -> Duration {
    let secs = 1u64 << attempt.saturating_sub(1).min(20);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

/// The dispatcher of one API process, and its HTTP client.
pub struct Webhooks {
    settings: WebhookSettings,
    client: reqwest::Client,
}

impl Webhooks {
    /// A dispatcher with its own HTTP client (TLS, no proxy, no redirects,
    /// names resolved to public addresses only unless allowed).
    pub fn new(settings: WebhookSettings) -> Result<Arc<Self>, reqwest::Error> {
        let client = egress::client(&settings)?;
        Ok(Arc::new(Self { settings, client }))
    }

    /// 400 `callback_refused` when `url` names a non-public address and
    /// the operator does not allow those (names are checked as they are
    /// resolved, at delivery).
    pub fn check_literal(&self, url: &CallbackUrl) -> Result<(), ApiError> {
        match url.literal_ip() {
            Some(ip) if !self.settings.allow_private && !agensium_domain::is_public_ip(ip) => {
                Err(ApiError::bad_request(
                    "callback_refused",
                    format!(
                        "callback_url names {ip}, a loopback, private or otherwise non-public \
                         address; the operator has not allowed those"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Delivers due webhooks until `stop`.
    pub async fn run(
        self: Arc<Self>,
        meta: Arc<dyn MetaStore>,
        finishes: Arc<Finishes>,
        stop: CancellationToken,
    ) {
        let mut ends = finishes.subscribe();
        let slots = FairShare::new(IN_FLIGHT, IN_FLIGHT_PER_TEAM);
        loop {
            self.dispatch_due(&meta, &slots).await;
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ends.recv() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            tokio::time::sleep(LINGER).await;
            // Ends announced meanwhile are covered by the next look.
            while ends.try_recv().is_ok() {}
        }
    }

    /// Claims and starts every due delivery there is room for.
    async fn dispatch_due(self: &Arc<Self>, meta: &Arc<dyn MetaStore>, slots: &Arc<Slots>) {
        let room = u32::try_from(slots.free()).unwrap_or(0);
        if room == 0 {
            return;
        }
        let due = match meta
            .due_callbacks(now_to_the_millisecond(), room, &slots.at_share())
            .await
        {
            Ok(due) => due,
            Err(e) => {
                warn!(error = %e, "reading due webhooks failed; trying again shortly");
                return;
            }
        };
        for d in due {
            // A team that reached its share in this batch waits its turn.
            let Some(permit) = slots.try_acquire(&d.job.team) else {
                continue;
            };
            if let Some(attempt) = self.claim(meta, &d).await {
                let (this, meta) = (self.clone(), meta.clone());
                tokio::spawn(async move {
                    this.attempt(meta.as_ref(), d, attempt).await;
                    drop(permit);
                });
            }
        }
    }

    /// Claims `d`'s attempt; its number, or `None` when another took it.
    async fn claim(&self, meta: &Arc<dyn MetaStore>, d: &DueCallback) -> Option<u32> {
        // A claimer that dies lets the attempt fall due again after this.
        let until = now_to_the_millisecond()
            + chrono::Duration::from_std(self.settings.timeout * 2 + Duration::from_secs(30))
                .unwrap_or_default();
        match meta.claim_callback(d, until).await {
            Ok(true) => Some(d.job.callback.as_ref().map_or(0, |c| c.attempts) + 1),
            Ok(false) => None,
            Err(e) => {
                warn!(job = %d.job.id, error = %e, "claiming a webhook delivery failed");
                None
            }
        }
    }
}
