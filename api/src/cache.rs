//! What every request reads and rarely changes, kept for a moment: API
//! keys with their team, processors' ownership, versions. A change made
//! through this process clears it at once ([`forget_on_change`]); one made
//! through another API process applies within the time to live
//! (`AGENSIUM_CACHE_TTL_MS`). Job rows are never cached.

use crate::app::AppState;
use agensium_domain::{KeyId, KeyRecord, Ownership, ProcessorName, ProcessorVersion, Team};
use agensium_ports::cached::TtlCache;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;

/// The API's read-through copies.
pub struct ApiCache {
    /// A key's record and its team.
    pub keys: TtlCache<KeyId, (KeyRecord, Team)>,
    /// A processor's ownership (team, visibility, latest version).
    pub owners: TtlCache<ProcessorName, Ownership>,
    /// A version by processor and version string.
    pub versions: TtlCache<(ProcessorName, String), ProcessorVersion>,
    /// How long an entry is trusted: a change made through another API
    /// process applies everywhere within this.
    pub ttl: Duration,
}

impl ApiCache {
    /// Empty caches whose entries live `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        Self {
            keys: TtlCache::new(ttl),
            owners: TtlCache::new(ttl),
            versions: TtlCache::new(ttl),
            ttl,
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.keys.clear();
        self.owners.clear();
        self.versions.clear();
    }
}

/// Clears the caches after every request that may change what they hold:
/// any but reads and job submissions (keys, teams, quotas, uploads, yanks,
/// visibility, cancels and retries are rare; submissions are the load).
pub async fn forget_on_change(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let submit = req.method() == Method::POST && req.uri().path().ends_with("/jobs");
    let changes = !(read || submit);
    let resp = next.run(req).await;
    if changes {
        st.cache.clear();
    }
    resp
}
