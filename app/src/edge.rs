//! The HTTP edge: how connections are accepted and served, with the
//! bounds a public endpoint needs against slow or greedy clients.
//!
//! * at most `max_connections` connections at once: past that, the accept
//!   loop waits (new connections queue in the kernel's backlog) instead of
//!   running out of file descriptors or memory;
//! * a connection must send its request headers within `header_timeout`,
//!   or it is closed (slow loris);
//! * a request body must make progress: a body that sends nothing for
//!   `body_idle_timeout` fails (its handler answers an error and the
//!   upload is cleaned up), so a stalled upload cannot hold a slot forever;
//! * graceful shutdown: on stop, idle connections close and requests in
//!   flight finish.

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The bounds of the HTTP edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a connection has to send its request headers.
    pub header_timeout: Duration,
    /// Longest pause allowed within a request body.
    pub body_idle_timeout: Duration,
}

/// Serves `app` on `listener` within `edge` until `stop`, then drains.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    edge: EdgeSettings,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let app = app.layer(RequestBodyTimeoutLayer::new(edge.body_idle_timeout));
    let slots = Arc::new(Semaphore::new(edge.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s?,
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
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
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
