//! [`TenantStore`] through the cache: keys with their team and processors'
//! ownership read from it, every change clearing it.

use super::CachedMeta;
use crate::{MetaError, TeamBacklog, TenantStore};
use agensium_domain::{
    Job, JobId, JobStatus, KeyId, KeyRecord, Ownership, ProcessorName, Quota, Team, TeamName,
    Visibility,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

impl CachedMeta {
    /// `result`, once the copies are forgotten.
    fn changed<T>(&self, result: Result<T, MetaError>) -> Result<T, MetaError> {
        self.forget();
        result
    }
}

#[async_trait]
impl TenantStore for CachedMeta {
    async fn create_team(&self, team: &Team) -> Result<bool, MetaError> {
        self.changed(self.inner.create_team(team).await)
    }

    async fn get_team(&self, name: &TeamName) -> Result<Option<Team>, MetaError> {
        self.inner.get_team(name).await
    }

    async fn list_teams(&self) -> Result<Vec<Team>, MetaError> {
        self.inner.list_teams().await
    }

    async fn set_quota(&self, name: &TeamName, quota: &Quota) -> Result<bool, MetaError> {
        self.changed(self.inner.set_quota(name, quota).await)
    }

    async fn set_disabled(&self, name: &TeamName, disabled: bool) -> Result<bool, MetaError> {
        self.changed(self.inner.set_disabled(name, disabled).await)
    }

    async fn insert_key(&self, key: &KeyRecord) -> Result<(), MetaError> {
        self.changed(self.inner.insert_key(key).await)
    }

    async fn key_and_team(&self, id: &KeyId) -> Result<Option<(KeyRecord, Team)>, MetaError> {
        let load = self.inner.key_and_team(id);
        self.keys.get_or_load(id.clone(), load).await
    }

    async fn list_keys(&self, team: &TeamName) -> Result<Vec<KeyRecord>, MetaError> {
        self.inner.list_keys(team).await
    }

    async fn revoke_key(&self, team: &TeamName, id: &KeyId) -> Result<bool, MetaError> {
        self.changed(self.inner.revoke_key(team, id).await)
    }

    /// The use is recorded, and the kept copy of the key says so too, by
    /// the same rule (or every request within its life would record it
    /// again).
    async fn touch_key(
        &self,
        id: &KeyId,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<(), MetaError> {
        if let Some((mut rec, team)) = self.keys.get(id)
            && rec.last_used_at.is_none_or(|t| t < stale_before)
        {
            rec.last_used_at = Some(at);
            self.keys.insert(id.clone(), (rec, team));
        }
        self.inner.touch_key(id, at, stale_before).await
    }

    async fn has_keys(&self) -> Result<bool, MetaError> {
        self.inner.has_keys().await
    }

    async fn claim_processor(&self, o: &Ownership) -> Result<Ownership, MetaError> {
        self.changed(self.inner.claim_processor(o).await)
    }

    async fn ownership(&self, name: &ProcessorName) -> Result<Option<Ownership>, MetaError> {
        let load = self.inner.ownership(name);
        self.owners.get_or_load(name.clone(), load).await
    }

    async fn visible_processors(
        &self,
        team: Option<&TeamName>,
        after: Option<&ProcessorName>,
        limit: u32,
    ) -> Result<Vec<Ownership>, MetaError> {
        self.inner.visible_processors(team, after, limit).await
    }

    async fn set_visibility(
        &self,
        name: &ProcessorName,
        visibility: Visibility,
    ) -> Result<bool, MetaError> {
        self.changed(self.inner.set_visibility(name, visibility).await)
    }

    async fn running_ahead(&self, job: &Job) -> Result<u64, MetaError> {
        self.inner.running_ahead(job).await
    }

    async fn count_jobs(&self, team: &TeamName, status: JobStatus) -> Result<u64, MetaError> {
        self.inner.count_jobs(team, status).await
    }

    async fn backlog_by_team(&self) -> Result<Vec<TeamBacklog>, MetaError> {
        self.inner.backlog_by_team().await
    }

    async fn finished_jobs(
        &self,
        team: &TeamName,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError> {
        self.inner.finished_jobs(team, from, to, after, limit).await
    }
}
