//! OpenTelemetry traces over OTLP/HTTP: on only when an OTLP endpoint is
//! configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or `…_TRACES_ENDPOINT`). The
//! SDK reads the rest of the standard variables itself: `OTEL_SERVICE_NAME`
//! and `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (and `_ARG`),
//! `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS` and `_TIMEOUT`;
//! `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, or
//! `http/json`) is read here. W3C trace context is the propagator.

use anyhow::{Context, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, global};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

/// Spans exported, whatever `RUST_LOG` says of log lines: ours at info.
const SPANS: &[&str] = &[
    "agensium",
    "agensium_api",
    "agensium_worker",
    "agensium_usecases",
    "agensium_engine",
];

/// A configured exporter and its provider.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// The exporter the environment configures, if any; the W3C
    /// propagator is installed either way (an incoming `traceparent` is
    /// kept only when spans are exported).
    pub fn from_env(service: &str) -> Result<Option<Self>> {
        global::set_text_map_propagator(TraceContextPropagator::new());
        if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            return Ok(None);
        }
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(protocol())
            .build()
            .context("building the OTLP span exporter")?;
        let provider = SdkTracerProvider::builder()
            .with_resource(resource(service))
            .with_batch_exporter(exporter)
            .build();
        global::set_tracer_provider(provider.clone());
        Ok(Some(Self { provider }))
    }

    /// The layer that turns our spans into OpenTelemetry spans.
    pub fn layer<S>(&self) -> Box<dyn Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let ours = SPANS.iter().fold(Targets::new(), |t, target| {
            t.with_target(*target, tracing::Level::INFO)
        });
        // No per-poll timing (our spans instrument futures polled per
        // chunk), no thread or source-location attributes.
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("agensium"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_filter(ours)
            .boxed()
    }

    /// Sends what is left and stops (at most the SDK's 5 s).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("stopping the trace exporter: {e}");
        }
    }
}

fn set(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.trim().is_empty())
}

/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`:
/// `http/json`, else protobuf (the specification's default).
fn protocol() -> Protocol {
    let p = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_default();
    if p.trim() == "http/json" {
        Protocol::HttpJson
    } else {
        Protocol::HttpBinary
    }
}

/// The SDK's resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`),
/// named `service` when those name none.
fn resource(service: &str) -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&Key::from_static_str("service.name"))
        .is_some_and(|v| v.as_str() != "unknown_service");
    if named {
        detected
    } else {
        Resource::builder()
            .with_service_name(service.to_owned())
            .build()
    }
}
