//! Process startup: the API, the workers, or both (`serve`), on embedded or
//! shared backends.

use crate::app::{ApiLimits, AppState, router};
use agensium_core::{BackendConfig, reconcile};
use agensium_host::worker::{self, WorkerConfig};
use agensium_host::{Limits, Runtime};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often a worker process reconciles the rail with the job rows.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// What a process runs and on which backends.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address of the API; `None` runs no API (a worker process).
    pub listen: Option<SocketAddr>,
    /// Address of a `/healthz`-only listener (worker processes).
    pub health_listen: Option<SocketAddr>,
    /// Jobs run at once by this process's workers (0: none).
    pub workers: usize,
    /// The backends.
    pub backends: BackendConfig,
    /// Limits of every job.
    pub limits: Limits,
    /// Size limits of the API, and the ceilings of job limits (which the
    /// workers of this process apply too).
    pub api: ApiLimits,
    /// How long running jobs may go on after shutdown is asked before they
    /// are handed back to the rail.
    pub shutdown_grace: Duration,
    /// Attempts a job gets (lost workers, infrastructure errors) before it
    /// fails with `max_attempts`.
    pub max_attempts: u32,
    /// This is the only process on these backends: at start, jobs left
    /// `running` are requeued at once instead of after their lease lapses.
    pub single_process: bool,
}

impl ServeConfig {
    /// `serve` on embedded backends in `data_dir`, API on a random loopback
    /// port, two workers.
    pub fn for_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            health_listen: None,
            workers: 2,
            backends: BackendConfig::embedded(data_dir),
            limits: Limits::default(),
            api: ApiLimits::default(),
            shutdown_grace: Duration::from_secs(30),
            max_attempts: 5,
            single_process: true,
        }
    }
}

/// A running process. Dropping it does not stop it; call [`Server::stop`].
pub struct Server {
    /// The API's address, when this process serves the API.
    pub addr: Option<SocketAddr>,
    /// The health listener's address, when configured.
    pub health_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Server {
    /// The API's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.addr.or(self.health_addr).expect("a listener")
        )
    }

    /// A token that stops the process when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops taking requests and tickets, lets running jobs finish, and
    /// returns when everything has stopped.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the process stops (after its token is cancelled, or when
    /// a part of it fails).
    pub async fn wait(self) -> anyhow::Result<()> {
        for (what, task) in self.tasks {
            task.await
                .with_context(|| format!("{what} task"))?
                .with_context(|| what)?;
        }
        Ok(())
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} to {addr}"))
}

/// Connects the backends and starts what `cfg` asks for.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<Server> {
    if !cfg.single_process && !cfg.backends.is_shared() {
        tracing::warn!(
            "running as one of several processes on embedded backends: set AGENSIUM_DATABASE_URL (mysql://), \
             AGENSIUM_REDIS_URL and AGENSIUM_S3_BUCKET so processes share them"
        );
    }
    let backends = cfg.backends.connect().await?;
    if cfg.single_process {
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
    }
    let runtime = Arc::new(Runtime::new().context("starting the wasmtime engine")?);
    crate::telemetry::install();
    let shutdown = CancellationToken::new();
    let mut tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> = Vec::new();

    let mut addr = None;
    if let Some(listen) = cfg.listen {
        let listener = bind(listen, "API").await?;
        addr = Some(listener.local_addr()?);
        let app = router(AppState {
            backends: backends.clone(),
            runtime: runtime.clone(),
            limits: cfg.api,
        });
        let stop = shutdown.clone();
        tasks.push((
            "API server",
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await?;
                Ok(())
            }),
        ));
    }
    let mut health_addr = None;
    if let Some(listen) = cfg.health_listen {
        let listener = bind(listen, "health listener").await?;
        health_addr = Some(listener.local_addr()?);
        let app = crate::app::health_router();
        let stop = shutdown.clone();
        tasks.push((
            "health listener",
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await?;
                Ok(())
            }),
        ));
    }
    if cfg.workers > 0 {
        let (meta, rail, stop) = (
            backends.meta.clone(),
            backends.rail.clone(),
            shutdown.clone(),
        );
        tasks.push((
            "reconciler",
            tokio::spawn(async move {
                reconcile::run(meta.as_ref(), rail.as_ref(), RECONCILE_EVERY, stop).await;
                Ok(())
            }),
        ));
        let wcfg = WorkerConfig {
            concurrency: cfg.workers,
            limits: cfg.limits,
            lease: cfg.backends.lease,
            cache_dir: cfg.backends.data_dir.join("cache"),
            ceilings: cfg.api.ceilings,
            shutdown_grace: cfg.shutdown_grace,
            max_attempts: cfg.max_attempts,
            ..WorkerConfig::default()
        };
        let (b, rt, stop) = (backends.clone(), runtime.clone(), shutdown.clone());
        tasks.push((
            "workers",
            tokio::spawn(async move {
                worker::run(b, rt, wcfg, stop).await;
                Ok(())
            }),
        ));
    }
    tracing::info!(
        api = ?addr,
        health = ?health_addr,
        workers = cfg.workers,
        shared = cfg.backends.is_shared(),
        "agensium started"
    );
    Ok(Server {
        addr,
        health_addr,
        shutdown,
        tasks,
    })
}
