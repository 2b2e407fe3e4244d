//! W3C trace context across processes. A submission stores the context
//! of its producer span with the job ([`current`]); each attempt's process
//! span continues that trace ([`continue_from`]), so one trace holds the
//! request, the enqueue and every attempt. Without a tracer (OpenTelemetry
//! off) spans have no context: nothing is stored, nothing continued.

use agensium_domain::{Job, JobId, TeamName, TraceParent};
use opentelemetry::trace::{TraceContextExt, TraceId};
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const HEADER: &str = "traceparent";
/// `messaging.system` of the rail's spans.
const SYSTEM: &str = "agensium.rail";

/// The `traceparent` of the current span, when it has a trace.
pub fn current() -> Option<TraceParent> {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove(HEADER)?.parse().ok()
}

/// The producer span of putting job `id` of `team` on the rail (OTel
/// messaging conventions); the job stores its context.
pub fn sending(id: JobId, team: &TeamName) -> tracing::Span {
    tracing::info_span!(
        "send",
        otel.name = "send rail",
        otel.kind = "producer",
        messaging.system = SYSTEM,
        messaging.operation.type = "send",
        messaging.destination.name = %team,
        messaging.message.id = %id,
    )
}

/// The consumer span of one attempt of `job`, continuing the trace its
/// submission stored (a retry or a reclaimed ticket is one more).
pub fn processing(job: &Job) -> tracing::Span {
    let span = tracing::info_span!(
        "process",
        otel.name = "process rail",
        otel.kind = "consumer",
        messaging.system = SYSTEM,
        messaging.operation.type = "process",
        messaging.destination.name = %job.team,
        messaging.message.id = %job.id,
        job = %job.id,
        processor = %job.processor,
        version = %job.version,
        team = %job.team,
        attempt = job.attempts,
        trace_id = tracing::field::Empty,
    );
    continue_from(&span, job.trace_parent.as_ref());
    span
}

/// Makes `span` (not yet entered) a child of the span `parent` names, and
/// records its trace id in the span's `trace_id` field (for log lines).
pub fn continue_from(span: &tracing::Span, parent: Option<&TraceParent>) {
    if let Some(parent) = parent {
        let carrier = HashMap::from([(HEADER.to_owned(), parent.as_str().to_owned())]);
        let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
        // Refused only without a tracer or on a span filtered out: no trace.
        let _ = span.set_parent(cx);
    }
    record_trace_id(span);
}

/// Records `span`'s trace id in its `trace_id` field, when it has one.
pub fn record_trace_id(span: &tracing::Span) {
    let id = span.context().span().span_context().trace_id();
    if id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(id));
    }
}
