//! The tenancy port: teams, API keys, processor ownership and the per-team
//! counts quotas need. Part of the metadata store (the truth), so every
//! [`MetaStore`](crate::MetaStore) adapter implements it.

use crate::meta::MetaError;
use agensium_domain::{
    Job, JobId, JobStatus, KeyId, KeyRecord, Ownership, ProcessorName, Quota, Team, TeamName,
    Visibility,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One team's unfinished jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamBacklog {
    /// The team.
    pub team: TeamName,
    /// Its jobs waiting for a worker.
    pub queued: u64,
    /// Its jobs a worker runs.
    pub running: u64,
}

/// Teams, keys and who owns which processor name.
///
/// Invariants every adapter keeps (checked by
/// `agensium_testkit::conformance::tenants`):
/// * a processor name, once claimed, keeps its owner team;
/// * a revoked key stays revoked; revoking is scoped to the key's team;
/// * team and key ids are unique.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Creates a team. False (nothing changed) when the name is taken.
    async fn create_team(&self, team: &Team) -> Result<bool, MetaError>;

    /// Looks a team up.
    async fn get_team(&self, name: &TeamName) -> Result<Option<Team>, MetaError>;

    /// Every team, by name.
    async fn list_teams(&self) -> Result<Vec<Team>, MetaError>;

    /// Replaces a team's quota. False when there is no such team.
    async fn set_quota(&self, name: &TeamName, quota: &Quota) -> Result<bool, MetaError>;

    /// Disables (or enables again) a team. False when there is no such team.
    async fn set_disabled(&self, name: &TeamName, disabled: bool) -> Result<bool, MetaError>;

    /// Stores a new key.
    async fn insert_key(&self, key: &KeyRecord) -> Result<(), MetaError>;

    /// A key with its team, in one round trip: what authenticating a
    /// request needs.
    async fn key_and_team(&self, id: &KeyId) -> Result<Option<(KeyRecord, Team)>, MetaError>;

    /// The keys of a team, oldest first (revoked ones included).
    async fn list_keys(&self, team: &TeamName) -> Result<Vec<KeyRecord>, MetaError>;

    /// Revokes a key of `team`. False when the team has no such live key.
    async fn revoke_key(&self, team: &TeamName, id: &KeyId) -> Result<bool, MetaError>;

    /// Records a use of a key, unless one after `stale_before` is recorded.
    async fn touch_key(
        &self,
        id: &KeyId,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<(), MetaError>;

    /// True when any key exists (a store without keys needs bootstrapping).
    async fn has_keys(&self) -> Result<bool, MetaError>;

    /// Claims a processor name for `o.team` unless it is claimed already;
    /// returns the owner as stored (the earlier claim when there was one).
    async fn claim_processor(&self, o: &Ownership) -> Result<Ownership, MetaError>;

    /// Who owns a processor name.
    async fn ownership(&self, name: &ProcessorName) -> Result<Option<Ownership>, MetaError>;

    /// Up to `limit` processors `team` may see (its own and public ones;
    /// every one for `None`), by name, those after `after` only.
    async fn visible_processors(
        &self,
        team: Option<&TeamName>,
        after: Option<&ProcessorName>,
        limit: u32,
    ) -> Result<Vec<Ownership>, MetaError>;

    /// Changes a processor's visibility. False when there is no such processor.
    async fn set_visibility(
        &self,
        name: &ProcessorName,
        visibility: Visibility,
    ) -> Result<bool, MetaError>;

    /// How many of `job`'s team's other jobs run under a live lease and
    /// started no later than it (start times are milliseconds): the ones
    /// ahead of it for the team's running quota. A tie counts both ways, so
    /// of two starts in the same millisecond at least one gives way, in
    /// whatever order their rows were written and counted.
    async fn running_ahead(&self, job: &Job) -> Result<u64, MetaError>;

    /// How many of `team`'s jobs are in `status`.
    async fn count_jobs(&self, team: &TeamName, status: JobStatus) -> Result<u64, MetaError>;

    /// Every team's jobs queued and running (teams with none left out), in
    /// one read: the backlog per team that the metrics show.
    async fn backlog_by_team(&self) -> Result<Vec<TeamBacklog>, MetaError>;

    /// `team`'s jobs that finished in `[from, to)`, by id, after `after`
    /// (paging): what a usage report adds up.
    async fn finished_jobs(
        &self,
        team: &TeamName,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError>;
}
