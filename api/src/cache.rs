//! What every request reads and rarely changes, kept for a moment: API
//! keys with their team, processors' ownership, versions. A change made
//! through this process clears it at once (the router's `forget_on_change`); one made
//! through another API process applies within the time to live
//! (`AGENSIUM_CACHE_TTL_MS`). Job rows are never cached.

use agensium_domain::{KeyId, KeyRecord, Ownership, ProcessorName, ProcessorVersion, Team};
use agensium_ports::cached::TtlCache;
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
