//! One delivery attempt: the job document, signed, POSTed; the outcome
//! recorded on the job.

use super::{Webhooks, backoff, egress};
use crate::views::JobView;
use agensium_domain::{DeliveryState, JobStatus, is_public_ip, now_to_the_millisecond};
use agensium_ports::MetaStore;
use agensium_ports::callbacks::{AttemptRecord, DueCallback};
use tracing::{info, warn};

/// Deliveries by outcome (`delivered`, `retried`, `failed`).
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "agensium_webhook_deliveries_total";

/// What one attempt came to.
enum Outcome {
    /// The receiver answered 2xx.
    Delivered(String),
    /// Worth another attempt: a non-2xx answer, a timeout, no connection.
    Retry(String),
    /// Never worth another: the address is refused.
    Refused(String),
}

/// The `Agensium-Event` of a job that ended in `status`.
fn event(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Succeeded => "job.succeeded",
        JobStatus::Cancelled => "job.cancelled",
        _ => "job.failed",
    }
}

impl Webhooks {
    /// Makes attempt number `attempt` of `d`'s delivery and records it.
    pub(super) async fn attempt(&self, meta: &dyn MetaStore, d: DueCallback, attempt: u32) {
        let (id, team) = (d.job.id, d.job.team.clone());
        let Some(url) = d.job.callback.as_ref().map(|c| c.url.clone()) else {
            return;
        };
        let secret = match meta.webhook_secret(&team).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.record(
                    meta,
                    id,
                    attempt,
                    Outcome::Refused("the team no longer exists".into()),
                )
                .await;
                return;
            }
            Err(e) => {
                // The claim lapses and the attempt falls due again.
                warn!(job = %id, error = %e, "reading the team's webhook secret failed");
                return;
            }
        };
        let event = event(d.job.status);
        let mut view = JobView::from(d.job);
        if let Some(c) = view.callback.as_mut() {
            c.attempts = attempt;
        }
        let body = match serde_json::to_vec(&view) {
            Ok(b) => b,
            Err(e) => {
                warn!(job = %id, error = %e, "encoding a job document failed");
                return;
            }
        };
        let outcome = match url.literal_ip() {
            Some(ip) if !self.settings.allow_private && !is_public_ip(ip) => {
                Outcome::Refused(format!("refused: {ip} is not a public address"))
            }
            _ => {
                let t = chrono::Utc::now().timestamp();
                let req = self
                    .client
                    .post(url.url().clone())
                    .header("content-type", "application/json")
                    .header("agensium-event", event)
                    .header("agensium-delivery", format!("{id}-{attempt}"))
                    .header("agensium-timestamp", t.to_string())
                    .header("agensium-signature", secret.sign(t, &body))
                    .body(body);
                classify(req.send().await)
            }
        };
        self.record(meta, id, attempt, outcome).await;
    }

    async fn record(
        &self,
        meta: &dyn MetaStore,
        id: agensium_domain::JobId,
        attempt: u32,
        outcome: Outcome,
    ) {
        let at = now_to_the_millisecond();
        let (state, text, next) = match outcome {
            Outcome::Delivered(t) => (DeliveryState::Delivered, t, None),
            Outcome::Refused(t) => (DeliveryState::Failed, t, None),
            Outcome::Retry(t) if attempt >= self.settings.max_attempts => (
                DeliveryState::Failed,
                format!("{t}; gave up after {attempt} attempts"),
                None,
            ),
            Outcome::Retry(t) => {
                let pause = chrono::Duration::from_std(backoff(attempt)).unwrap_or_default();
                (DeliveryState::Pending, t, Some(at + pause))
            }
        };
        let label = match (state, next) {
            (DeliveryState::Delivered, _) => "delivered",
            (_, Some(_)) => "retried",
            _ => "failed",
        };
        metrics::counter!(WEBHOOK_DELIVERIES_TOTAL, "outcome" => label).increment(1);
        if state == DeliveryState::Delivered {
            info!(job = %id, attempt, outcome = %text, "webhook delivered");
        } else {
            warn!(job = %id, attempt, outcome = %text, retry_at = ?next, "webhook not delivered");
        }
        let record = AttemptRecord {
            state,
            outcome: text,
            at,
            next,
        };
        if let Err(e) = meta.record_callback(id, attempt, &record).await {
            warn!(job = %id, error = %e, "recording a webhook attempt failed; it will be made again");
        }
    }
}

fn classify(res: Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match res {
        Ok(r) if r.status().is_success() => {
            Outcome::Delivered(format!("HTTP {}", r.status().as_u16()))
        }
        Ok(r) => Outcome::Retry(format!("HTTP {}", r.status().as_u16())),
        Err(e) => {
            if let Some(refused) = egress::refusal(&e) {
                Outcome::Refused(refused)
            } else if e.is_timeout() {
                Outcome::Retry("timed out".into())
            } else if e.is_connect() {
                Outcome::Retry("could not connect".into())
            } else {
                Outcome::Retry("the request failed".into())
            }
        }
    }
}
