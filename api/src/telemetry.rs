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
