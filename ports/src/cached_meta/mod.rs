//! [`CachedMeta`]: a [`MetaStore`] in front of another, keeping for a
//! moment what every request reads and rarely changes (API keys with their
//! team, processors' ownership, versions). A change made through it clears
//! its copies at once; one made through another process applies within the
//! time to live. Job rows are never kept.

mod catalog;
mod passthrough;
mod tenants;

use crate::MetaStore;
use crate::cached::TtlCache;
use agensium_domain::{KeyId, KeyRecord, Ownership, ProcessorName, ProcessorVersion, Team};
use std::sync::Arc;
use std::time::Duration;

/// A caching decorator over a metadata store.
pub struct CachedMeta {
    inner: Arc<dyn MetaStore>,
    keys: TtlCache<KeyId, (KeyRecord, Team)>,
    owners: TtlCache<ProcessorName, Ownership>,
    versions: TtlCache<(ProcessorName, String), ProcessorVersion>,
    ttl: Duration,
}

impl CachedMeta {
    /// `inner`, with copies trusted for `ttl` (zero: nothing is kept).
    pub fn new(inner: Arc<dyn MetaStore>, ttl: Duration) -> Self {
        Self {
            inner,
            keys: TtlCache::new(ttl),
            owners: TtlCache::new(ttl),
            versions: TtlCache::new(ttl),
            ttl,
        }
    }

    /// How long a copy is trusted: a change made through another process
    /// (a revoked key, a disabled team) applies everywhere within this.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Forgets every copy: after any change through this store (changes
    /// are rare; reads are the load).
    fn forget(&self) {
        self.keys.clear();
        self.owners.clear();
        self.versions.clear();
    }
}
