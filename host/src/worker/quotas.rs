//! Teams' running quotas as workers see them: read from the metadata store,
//! trusted for a few seconds (a changed quota applies within that).

use agensium_domain::TeamName;
use agensium_ports::{MetaError, MetaStore};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a team's quota is trusted.
const TTL: Duration = Duration::from_secs(5);

/// `max_running` per team, cached.
#[derive(Default)]
pub(super) struct TeamQuotas {
    cache: Mutex<HashMap<TeamName, (Instant, Option<u32>)>>,
}

impl TeamQuotas {
    /// The team's `max_running`, if it has one.
    pub(super) async fn max_running(
        &self,
        meta: &dyn MetaStore,
        team: &TeamName,
    ) -> Result<Option<u32>, MetaError> {
        let cached = self.lock().get(team).copied();
        if let Some((at, max)) = cached
            && at.elapsed() < TTL
        {
            return Ok(max);
        }
        let max = meta.get_team(team).await?.and_then(|t| t.quota.max_running);
        self.lock().insert(team.clone(), (Instant::now(), max));
        Ok(max)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TeamName, (Instant, Option<u32>)>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
