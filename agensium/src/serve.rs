//! Process startup: connect the backends, then start what the role asks for
//! (the API, the job slots with the reconciler, the health listener), and
//! stop it all gracefully.

use crate::connect;
use crate::settings::{Role, Settings};
use agensium_api::admission::Admission;
use agensium_api::finishes::Finishes;
use agensium_api::webhooks::Webhooks;
use agensium_api::{ApiLimits, AppState, SubmitLimiter, router};
use agensium_engine::Runtime;
use agensium_ports::{Backends, CachedMeta, reconcile};
use agensium_usecases::readiness::Readiness;
use agensium_worker::{self as worker, WorkerConfig};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often a process with job slots reconciles the rail with the job rows.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

type Task = (&'static str, JoinHandle<anyhow::Result<()>>);

/// A running process. Dropping it does not stop it; call [`Server::stop`].
pub struct Server {
    /// The API's address, when this process serves the API.
    pub addr: Option<SocketAddr>,
    /// The health listener's address, when configured.
    pub health_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<Task>,
    edge: crate::edge::EdgeSettings,
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

/// Connects the backends and starts what `role` runs, as `settings` say.
pub async fn start(role: Role, settings: Settings) -> anyhow::Result<Server> {
    settings.validate(role)?;
    if role != Role::Serve && !settings.is_shared() {
        tracing::warn!(
            "running as one of several processes on embedded backends: set AGENSIUM_DATABASE_URL (mysql://), \
             AGENSIUM_REDIS_URL and AGENSIUM_S3_BUCKET so processes share them"
        );
    }
    let backends = connect::connect(&settings.backends, settings.lease).await?;
    if role == Role::Serve {
        recover(&backends).await?;
        announce_admin_key(&backends, &settings.backends.data_dir).await?;
    }
    let runtime = Arc::new(
        Runtime::with_instances(settings.instances).context("starting the wasmtime engine")?,
    );
    agensium_api::telemetry::install();
    let mut server = Server {
        addr: None,
        health_addr: None,
        shutdown: CancellationToken::new(),
        tasks: Vec::new(),
        edge: settings.edge,
    };
    if role != Role::Worker {
        let finishes = agensium_api::finishes::Finishes::start(backends.rail.clone());
        let webhooks =
            Webhooks::new(settings.webhooks.clone()).context("starting the webhook client")?;
        server.start_webhooks(&backends, &webhooks, &finishes);
        server.start_backlog_gauges(&backends);
        let retention = (settings.retention, settings.inline);
        server.start_retention(&backends, retention, settings.sweep_every);
        let holds = agensium_api::holds::Holds::new(settings.held_per_key);
        // The API reads keys, ownership and versions through a short-lived
        // cache (the held answers' watch reads the store itself).
        let api_backends = Backends {
            meta: Arc::new(CachedMeta::new(backends.meta.clone(), settings.cache_ttl)),
            ..backends.clone()
        };
        holds.watch(backends.meta.clone(), settings.cache_ttl);
        let app = router(AppState {
            backends: api_backends.clone(),
            runtime: runtime.clone(),
            admission: Arc::new(
                Admission::new(settings.admission.clone()).context("starting admission")?,
            ),
            limits: api_limits(&settings),
            limiter: SubmitLimiter::new(settings.submit_rate, settings.team_submit_rate),
            holds,
            shares: agensium_api::shares::Shares::new(
                settings.edge.max_connections,
                settings.edge.in_flight_per_key,
                settings.edge.in_flight_per_team,
            ),
            keys_trusted_for: settings.cache_ttl,
            readiness: Arc::new(Readiness::new(backends.clone())),
            accept: agensium_usecases::accept::Acceptor::new(&api_backends),
            finishes,
            webhooks,
        });
        server.addr = Some(server.listen("API server", settings.listen, app).await?);
    }
    if let Some(listen) = settings.health_listen.filter(|_| role == Role::Worker) {
        let app = agensium_api::app::health_router(Arc::new(Readiness::new(backends.clone())));
        server.health_addr = Some(server.listen("health listener", listen, app).await?);
    }
    if role != Role::Api && settings.slots > 0 {
        server.start_slots(&backends, runtime, worker_config(&settings));
    }
    tracing::info!(
        ?role,
        api = ?server.addr,
        health = ?server.health_addr,
        slots = settings.slots,
        shared = settings.is_shared(),
        "agensium started"
    );
    Ok(server)
}

/// A single process knows no other exists: jobs left running by its last
/// run are put back on the rail at once, not after their leases lapse.
async fn recover(backends: &Backends) -> anyhow::Result<()> {
    let recovered = backends
        .meta
        .recover_unfinished()
        .await
        .context("recovering unfinished jobs")?;
    for job in &recovered {
        backends.rail.push(job.id, &job.team).await?;
    }
    if !recovered.is_empty() {
        tracing::info!(
            jobs = recovered.len(),
            "unfinished jobs put back on the rail"
        );
    }
    Ok(())
}

/// Zero setup: a store without keys gets the team `default` and an
/// operator key in `<data dir>/admin.key`; either way, say where it is.
async fn announce_admin_key(backends: &Backends, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let path = match crate::bootstrap::first_key(backends.meta.as_ref(), data_dir).await? {
        Some(path) => {
            tracing::info!(
                file = %path.display(),
                "created the team `default` and an operator key; use it with: export AGENSIUM_KEY=$(cat {})",
                path.display()
            );
            return Ok(());
        }
        None => data_dir.join(crate::bootstrap::ADMIN_KEY_FILE),
    };
    if path.exists() {
        tracing::info!(file = %path.display(), "the first operator key is in this file");
    }
    Ok(())
}

fn api_limits(s: &Settings) -> ApiLimits {
    ApiLimits {
        max_upload_bytes: s.max_upload_bytes,
        max_component_bytes: s.max_component_bytes,
        ceilings: s.ceilings,
        job_defaults: s.limits,
        inline: s.inline,
    }
}

fn worker_config(s: &Settings) -> WorkerConfig {
    WorkerConfig {
        process: worker::process_name(),
        slots: s.slots,
        limits: s.limits,
        ceilings: s.ceilings,
        max_attempts: s.max_attempts,
        lease: s.lease,
        cache_dir: s.backends.data_dir.join("cache"),
        shutdown_grace: s.shutdown_grace,
        inline: s.inline,
    }
}

impl Server {
    /// Serves `app` on `addr` until shutdown; returns the bound address.
    async fn listen(
        &mut self,
        what: &'static str,
        addr: SocketAddr,
        app: axum::Router,
    ) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the {what} to {addr}"))?;
        let bound = listener.local_addr()?;
        let stop = self.shutdown.clone();
        let edge = self.edge;
        let task = tokio::spawn(crate::edge::serve(listener, app, edge, stop));
        self.tasks.push((what, task));
        Ok(bound)
    }

    /// The retention sweep of an API process: every `every`, if it holds
    /// the fleet's lease, it expires what is past its team's retention.
    fn start_retention(
        &mut self,
        backends: &Backends,
        retention: (Option<Duration>, agensium_domain::InlineLimit),
        every: Duration,
    ) {
        let (b, stop) = (backends.clone(), self.shutdown.clone());
        let holder = worker::process_name();
        let task = tokio::spawn(async move {
            loop {
                let sweep =
                    agensium_usecases::retention::sweep_if_ours(&b, &holder, retention, every);
                if let Err(e) = sweep.await {
                    tracing::warn!(error = %e, "the retention sweep failed; it runs again later");
                }
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
        self.tasks.push(("retention sweep", task));
    }

    /// The backlog-per-team gauges of an API process, until shutdown.
    fn start_backlog_gauges(&mut self, backends: &Backends) {
        let (meta, stop) = (backends.meta.clone(), self.shutdown.clone());
        let task = tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = agensium_api::telemetry::publish_backlog(meta) => {}
            }
            Ok(())
        });
        self.tasks.push(("backlog gauges", task));
    }

    /// The webhook dispatcher of an API process.
    fn start_webhooks(&mut self, backends: &Backends, hooks: &Arc<Webhooks>, ends: &Arc<Finishes>) {
        let (hooks, meta, ends) = (hooks.clone(), backends.meta.clone(), ends.clone());
        let stop = self.shutdown.clone();
        let task = tokio::spawn(async move {
            hooks.run(meta, ends, stop).await;
            Ok(())
        });
        self.tasks.push(("webhook dispatcher", task));
    }

    /// The job slots and the reconciler that keeps their rail whole.
    fn start_slots(&mut self, backends: &Backends, runtime: Arc<Runtime>, cfg: WorkerConfig) {
        let (meta, rail, stop) = (
            backends.meta.clone(),
            backends.rail.clone(),
            self.shutdown.clone(),
        );
        let reconciler = tokio::spawn(async move {
            reconcile::run(meta.as_ref(), rail.as_ref(), RECONCILE_EVERY, stop).await;
            Ok(())
        });
        self.tasks.push(("reconciler", reconciler));
        let (b, stop) = (backends.clone(), self.shutdown.clone());
        let slots = tokio::spawn(async move {
            worker::run(b, runtime, cfg, stop).await;
            Ok(())
        });
        self.tasks.push(("job slots", slots));
    }
}
