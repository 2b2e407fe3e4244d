//! Whether this process reaches its three backends: what a readiness probe
//! (Kubernetes', a load balancer's) asks. One cheap read each, at once,
//! each within [`PROBE_TIMEOUT`]; the answer is kept for [`KEPT`], so a
//! flood of probes (the endpoint needs no key) costs the backends one
//! round of reads a second at most.

use agensium_domain::JobId;
use agensium_ports::Backends;
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::sync::Mutex;

/// How long one backend may take to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an answer is reused.
const KEPT: Duration = Duration::from_secs(1);

/// A backend this process cannot reach now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The metadata store.
    Meta,
    /// The object store.
    Objects,
    /// The rail.
    Rail,
}

impl Backend {
    /// The name answered.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meta => "metadata store",
            Self::Objects => "object store",
            Self::Rail => "rail",
        }
    }
}

/// The probe of one process's backends, its last answer kept.
pub struct Readiness {
    backends: Backends,
    last: Mutex<Option<(Instant, Vec<Backend>)>>,
}

impl Readiness {
    /// Probes `backends`.
    pub fn new(backends: Backends) -> Self {
        Self {
            backends,
            last: Mutex::new(None),
        }
    }

    /// The backends this process cannot reach (empty: ready). Probes run
    /// one round at a time; callers meanwhile get the round's answer.
    pub async fn unreachable(&self) -> Vec<Backend> {
        let mut last = self.last.lock().await;
        if let Some((at, down)) = last.as_ref()
            && at.elapsed() < KEPT
        {
            return down.clone();
        }
        let down = probe(&self.backends).await;
        *last = Some((Instant::now(), down.clone()));
        down
    }
}

/// One read of each backend, at once. The reads need only what every
/// process's account may do (a worker's too): a job row by id, an object
/// under `jobs/`, the rail's backlog.
async fn probe(b: &Backends) -> Vec<Backend> {
    let nobody = JobId::at(UNIX_EPOCH);
    let key = nobody.input_key();
    let (meta, objects, rail) = tokio::join!(
        within(Backend::Meta, b.meta.get_job(nobody)),
        within(Backend::Objects, b.objects.head(&key)),
        within(Backend::Rail, b.rail.backlog()),
    );
    [meta, objects, rail].into_iter().flatten().collect()
}

/// `Some(which)` unless `read` answers within [`PROBE_TIMEOUT`].
async fn within<T, E: std::fmt::Display>(
    which: Backend,
    read: impl Future<Output = Result<T, E>>,
) -> Option<Backend> {
    match tokio::time::timeout(PROBE_TIMEOUT, read).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => {
            tracing::warn!(backend = which.as_str(), error = %e, "readiness probe failed");
            Some(which)
        }
        Err(_) => {
            tracing::warn!(backend = which.as_str(), "readiness probe timed out");
            Some(which)
        }
    }
}
