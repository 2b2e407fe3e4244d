//! Startup of the embedded single-process system: API + workers on SQLite,
//! a local directory and an in-process rail.

use crate::app::{ApiLimits, AppState, router};
use agensium_core::{Backends, LocalDirStore, MemoryRail, SqliteMetaStore};
use agensium_host::worker::{self, WorkerConfig};
use agensium_host::{Limits, Runtime};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Settings of `agensium serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address the API listens on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where the SQLite database and the objects live.
    pub data_dir: PathBuf,
    /// Jobs run at once by the in-process workers (0: accept jobs, run none).
    pub workers: usize,
    /// Limits of every job.
    pub limits: Limits,
    /// Size limits of the API.
    pub api: ApiLimits,
}

impl ServeConfig {
    /// Defaults for a data directory, listening on a random loopback port.
    pub fn for_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            workers: 2,
            limits: Limits::default(),
            api: ApiLimits::default(),
        }
    }
}

/// A running system. Dropping it does not stop it; call [`Server::stop`].
pub struct Server {
    /// The address the API is bound to.
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    workers: JoinHandle<()>,
}

impl Server {
    /// The API's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops taking requests and tickets, lets running jobs finish, and
    /// returns when everything has stopped.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after its token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.http.await.context("API task")?.context("API server")?;
        self.workers.await.context("worker task")?;
        Ok(())
    }
}

/// Opens the embedded backends in `data_dir`, puts unfinished jobs back on
/// the rail, binds the API and starts the workers.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<Server> {
    let dir = &cfg.data_dir;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    let db = dir.join("agensium.db");
    let meta = SqliteMetaStore::open(&db)
        .await
        .with_context(|| format!("opening the SQLite metadata store {}", db.display()))?;
    let objects = LocalDirStore::open(dir.join("objects"))
        .await
        .with_context(|| {
            format!(
                "opening the object directory {}",
                dir.join("objects").display()
            )
        })?;
    let backends = Backends {
        meta: Arc::new(meta),
        objects: Arc::new(objects),
        rail: Arc::new(MemoryRail::new()),
    };
    let recovered = backends
        .meta
        .recover_unfinished()
        .await
        .context("recovering unfinished jobs")?;
    for id in &recovered {
        backends.rail.push(*id).await?;
    }
    if !recovered.is_empty() {
        tracing::info!(
            jobs = recovered.len(),
            "unfinished jobs put back on the rail"
        );
    }
    let runtime = Arc::new(Runtime::new().context("starting the wasmtime engine")?);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding the API to {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();

    let app = router(AppState {
        backends: backends.clone(),
        runtime: runtime.clone(),
        limits: cfg.api,
    });
    let stop = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    let wcfg = WorkerConfig {
        concurrency: cfg.workers,
        limits: cfg.limits,
        ..WorkerConfig::default()
    };
    let workers = tokio::spawn(worker::run(backends, runtime, wcfg, shutdown.clone()));
    tracing::info!(%addr, data_dir = %dir.display(), workers = cfg.workers, "agensium serving");
    Ok(Server {
        addr,
        shutdown,
        http,
        workers,
    })
}
