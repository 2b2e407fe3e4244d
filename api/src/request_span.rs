//! The span of each HTTP request: an OpenTelemetry server span that
//! continues the caller's `traceparent` when it sends a valid one (the
//! propagator ignores anything else).

use axum::extract::Request;
use tracing::Span;

/// The request's span (TraceLayer's `make_span_with`).
pub fn make(req: &Request) -> Span {
    let method = req.method();
    let span = tracing::info_span!(
        "request",
        otel.name = %method,
        otel.kind = "server",
        http.request.method = %method,
        url.path = %req.uri().path(),
        trace_id = tracing::field::Empty,
    );
    let headers = opentelemetry_http::HeaderExtractor(req.headers());
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&headers));
    // Refused only without a tracer, or for a span filtered out.
    let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, cx);
    agensium_usecases::trace_context::record_trace_id(&span);
    span
}
