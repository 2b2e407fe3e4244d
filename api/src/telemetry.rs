//! Prometheus metrics: one process-wide recorder, rendered at `/metrics`
//! on the API listener and on workers' health listener.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global recorder once (later calls, e.g. several apps in one
/// test process, reuse it). Histograms are rendered as summaries with the
/// 0.5, 0.9, 0.99 and 0.999 quantiles.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_quantiles(&[0.5, 0.9, 0.99, 0.999])
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics are off"))
                .ok()
        })
        .as_ref()
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics() -> String {
    install()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .unwrap_or_default()
}

/// Jobs queued and running per team (`team`, `state` = queued | running),
/// read from the metadata store by every API process.
pub const BACKLOG_JOBS: &str = "agensium_backlog_jobs";
/// Uploads through admission, by `outcome` (`admitted` or the refusal's
/// code).
pub const ADMISSIONS_TOTAL: &str = "agensium_admissions_total";
/// How often the backlog gauges are read.
const BACKLOG_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Counts one upload's way through admission.
pub fn admission(outcome: &'static str) {
    metrics::counter!(ADMISSIONS_TOTAL, "outcome" => outcome).increment(1);
}

/// Keeps [`BACKLOG_JOBS`] current, forever: every team's (0 when it has
/// none), read every [`BACKLOG_EVERY`] (two reads: the teams, and the
/// backlog grouped by team).
pub async fn publish_backlog(meta: std::sync::Arc<dyn agensium_ports::MetaStore>) {
    loop {
        match backlog(meta.as_ref()).await {
            Ok(rows) => rows.iter().for_each(set_backlog),
            Err(e) => tracing::warn!(error = %e, "reading the backlog per team failed"),
        }
        tokio::time::sleep(BACKLOG_EVERY).await;
    }
}

/// Every team's backlog, zero for those with none.
async fn backlog(
    meta: &dyn agensium_ports::MetaStore,
) -> Result<Vec<agensium_ports::TeamBacklog>, agensium_ports::MetaError> {
    let busy = meta.backlog_by_team().await?;
    Ok(meta
        .list_teams()
        .await?
        .into_iter()
        .map(|t| {
            let found = busy.iter().find(|b| b.team == t.name);
            found.cloned().unwrap_or(agensium_ports::TeamBacklog {
                team: t.name,
                queued: 0,
                running: 0,
            })
        })
        .collect())
}

fn set_backlog(b: &agensium_ports::TeamBacklog) {
    let team = b.team.to_string();
    metrics::gauge!(BACKLOG_JOBS, "team" => team.clone(), "state" => "queued").set(b.queued as f64);
    metrics::gauge!(BACKLOG_JOBS, "team" => team, "state" => "running").set(b.running as f64);
}
