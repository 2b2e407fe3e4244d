//! The HTTP edge: how connections are accepted and served, with the
//! bounds a public endpoint needs against slow or greedy clients.
//!
//! * at most `max_connections` connections at once: past that, the accept
//!   loop waits (new connections queue in the kernel's backlog) instead of
//!   running out of file descriptors or memory;
//! * `reserved_connections` more, accepted only when the others are all
//!   taken and marked [`ReservedConnection`]: on them the API serves
//!   `/healthz`, `/metrics` and operators only, so a caller holding every
//!   connection cannot hide the process from its probes or its operators;
//! * each key and each team has a share of the requests in flight
//!   (`in_flight_per_key`, `in_flight_per_team`, counted by the API at
//!   authentication: `429 over_share` past it);
//! * a connection must send its request headers within `header_timeout`,
//!   or it is closed (slow loris);
//! * a request body must make progress: a body that sends nothing for
//!   `body_idle_timeout` fails (its handler answers an error and the
//!   upload is cleaned up), so a stalled upload cannot hold a slot forever;
//!   and once that much time has passed, a body must have averaged at
//!   least `min_body_rate` bytes a second (a trickle fails the same way);
//! * graceful shutdown: on stop, idle connections close and requests in
//!   flight finish.

use agensium_api::shares::ReservedConnection;
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::middleware::Next;
use futures::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The bounds of the HTTP edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections accepted past `max_connections`, for health checks,
    /// metrics and operators only.
    pub reserved_connections: usize,
    /// Requests one key has in flight at once (operators: unbounded).
    pub in_flight_per_key: usize,
    /// Requests one team's keys together have in flight at once.
    pub in_flight_per_team: usize,
    /// Time a connection has to send its request headers.
    pub header_timeout: Duration,
    /// Longest pause allowed within a request body.
    pub body_idle_timeout: Duration,
    /// Slowest average body accepted once `body_idle_timeout` has passed,
    /// in bytes a second (0: any).
    pub min_body_rate: u64,
}

/// Serves `app` on `listener` within `edge` until `stop`, then drains.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    edge: EdgeSettings,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (rate, grace) = (edge.min_body_rate, edge.body_idle_timeout);
    let app = app
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| next.run(req.map(|body| at_least(body, rate, grace))),
        ))
        .layer(RequestBodyTimeoutLayer::new(edge.body_idle_timeout));
    let slots = Slots::new(&edge);
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            s = slots.take() => s,
            () = stop.cancelled() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, or the peer gave up: not fatal.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        // Answers written in pieces (a streamed result, events) must not
        // wait for the client's delayed ACK (Nagle): ~40 ms each.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY failed");
        }
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(edge.header_timeout);
        let reserved = slot.reserved;
        let svc = tower::util::MapRequestLayer::new(move |mut req: Request<_>| {
            if reserved {
                req.extensions_mut().insert(ReservedConnection);
            }
            req
        })
        .layer(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The edge's connection slots: the ordinary ones, then the reserve.
struct Slots {
    ordinary: Arc<Semaphore>,
    reserve: Arc<Semaphore>,
}

/// A connection's slot, given back when the connection ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    /// Taken from the reserve.
    reserved: bool,
}

impl Slots {
    fn new(edge: &EdgeSettings) -> Self {
        Self {
            ordinary: Arc::new(Semaphore::new(edge.max_connections.max(1))),
            reserve: Arc::new(Semaphore::new(edge.reserved_connections)),
        }
    }

    /// An ordinary slot if one is free, else a reserved one, else the
    /// first of either to come free.
    async fn take(&self) -> Slot {
        let slot = |permit, reserved| Slot {
            _permit: permit,
            reserved,
        };
        if let Ok(p) = self.ordinary.clone().try_acquire_owned() {
            return slot(p, false);
        }
        if let Ok(p) = self.reserve.clone().try_acquire_owned() {
            return slot(p, true);
        }
        tokio::select! {
            Ok(p) = self.ordinary.clone().acquire_owned() => slot(p, false),
            Ok(p) = self.reserve.clone().acquire_owned() => slot(p, true),
        }
    }
}

/// `body`, failing once `grace` has passed if it has averaged fewer than
/// `rate` bytes a second since it started (checked as each chunk comes;
/// a body that sends nothing meets the idle timeout instead).
fn at_least(body: Body, rate: u64, grace: Duration) -> Body {
    if rate == 0 || body.size_hint().exact() == Some(0) {
        return body;
    }
    let (start, mut seen) = (Instant::now(), 0u64);
    let checked = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        let took = start.elapsed();
        if took > grace && (seen as f64) < rate as f64 * took.as_secs_f64() {
            return Err(axum::Error::new(std::io::Error::other(format!(
                "the request body came slower than {rate} bytes a second"
            ))));
        }
        Ok(chunk)
    });
    Body::from_stream(checked)
}
