//! Teams' running quotas as workers see them: read from the metadata store,
//! trusted for a few seconds (a changed quota applies within that).

use agensium_domain::TeamName;
use agensium_ports::cached::TtlCache;
use agensium_ports::{MetaError, MetaStore};
use std::time::Duration;

/// How long a team's quota is trusted.
const TTL: Duration = Duration::from_secs(5);

/// `max_running` per team, cached.
pub(super) struct TeamQuotas {
    cache: TtlCache<TeamName, Option<u32>>,
}

impl Default for TeamQuotas {
    fn default() -> Self {
        Self {
            cache: TtlCache::new(TTL),
        }
    }
}

impl TeamQuotas {
    /// The team's `max_running`, if it has one.
    pub(super) async fn max_running(
        &self,
        meta: &dyn MetaStore,
        team: &TeamName,
    ) -> Result<Option<u32>, MetaError> {
        if let Some(max) = self.cache.get(team) {
            return Ok(max);
        }
        let max = meta.get_team(team).await?.and_then(|t| t.quota.max_running);
        self.cache.insert(team.clone(), max);
        Ok(max)
    }
}
