//! What every handler shares: [`AppState`] (the backends, the runtime of
//! golden checks, admission, limits, caches and bounds), apart from the
//! router that serves the handlers and from the handlers that use it.

use crate::admission::Admission;
use crate::rate::SubmitLimiter;
use agensium_engine::Runtime;
use agensium_ports::Backends;
use std::sync::Arc;

/// Size limits of the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Largest job input accepted (413 beyond).
    pub max_upload_bytes: u64,
    /// Largest processor component accepted (413 beyond).
    pub max_component_bytes: u64,
    /// Highest limits a version may declare at upload (400 beyond).
    pub ceilings: agensium_domain::Ceilings,
    /// The operator's limits of a job whose version declares none (golden
    /// checks run under them, capped).
    pub job_defaults: agensium_domain::Limits,
    /// Inputs up to this size are kept inline with the job row.
    pub inline: agensium_domain::InlineLimit,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The three backends.
    pub backends: Backends,
    /// Loads admitted components and runs golden checks.
    pub runtime: Arc<Runtime>,
    /// Compiles uploads in bounded child processes.
    pub admission: Arc<Admission>,
    /// Size limits.
    pub limits: ApiLimits,
    /// Per-key rate limit on submissions.
    pub limiter: SubmitLimiter,
    /// Per-key bound on answers held open (waits, follows, events).
    pub holds: Arc<crate::holds::Holds>,
    /// Per-key and per-team shares of the requests in flight.
    pub shares: Arc<crate::shares::Shares>,
    /// How long another process may still trust a key (or its team) after
    /// it changed: the metadata store's cache's life
    /// ([`agensium_ports::CachedMeta`]).
    pub keys_trusted_for: std::time::Duration,
    /// Whether the backends answer (`/readyz`).
    pub readiness: Arc<agensium_usecases::readiness::Readiness>,
    /// Writes accepted jobs' rows and tickets, coalesced under load.
    pub accept: agensium_usecases::accept::Acceptor,
    /// Job ends announced on the rail, for requests that wait for one.
    pub finishes: Arc<crate::finishes::Finishes>,
    /// Checks callbacks at submission; its dispatcher delivers them.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}
