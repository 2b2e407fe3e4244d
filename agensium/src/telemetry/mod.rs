//! What a process tells its operator besides `/metrics`: log lines on
//! stderr, as text (the default) or one JSON object per line
//! (`--log-format json`, `AGENSIUM_LOG_FORMAT=json`), and OpenTelemetry
//! traces over OTLP/HTTP, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, honouring the standard
//! `OTEL_*` variables ([`traces`]). Both are chosen before the settings
//! are read (reading them may log), from the command line and the
//! environment alone.

mod format;
mod traces;

pub use format::LogFormat;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What `RUST_LOG` defaults to.
const DEFAULT_LOG: &str = "info,tower_http=info,wasmtime=warn,cranelift=warn";

/// The process's telemetry; dropping it flushes the spans not yet sent.
pub struct Telemetry {
    traces: Option<traces::Traces>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(t) = self.traces.take() {
            t.shutdown();
        }
    }
}

/// Installs the log format and, when configured, the trace exporter for a
/// process started with `args` (its subcommand names its service).
pub fn init(args: &[String]) -> Result<Telemetry> {
    let format = LogFormat::chosen(args)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_LOG.into());
    let traces = traces::Traces::from_env(&service_name(args))?;
    let spans = traces.as_ref().map(traces::Traces::layer);
    tracing_subscriber::registry()
        .with(format.layer().with_filter(filter))
        .with(spans)
        .try_init()
        .context("installing the log subscriber")?;
    Ok(Telemetry { traces })
}

/// `agensium-<subcommand>` (`agensium-api`, `agensium-worker`, …): the
/// default `service.name` (`OTEL_SERVICE_NAME` wins).
fn service_name(args: &[String]) -> String {
    let role = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or("agensium", String::as_str);
    format!("agensium-{role}")
}
