//! [`TenantStore`] once for every SQL backend: teams, keys, ownership.

use super::row::{Cols, corrupt_at, to_json};
use super::{SqlBackend, SqlMetaStore, SqlRow, SqlValue, Statement, status};
use crate::meta::MetaError;
use crate::tenants::{TeamBacklog, TenantStore};
use agensium_domain::{
    Job, JobId, JobStatus, KeyId, KeyRecord, Ownership, ProcessorName, Quota, Team, TeamName,
    Visibility, from_millis,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

const TEAM_COLUMNS: &str = "t.name, t.disabled, t.quota, t.created_at";
const KEY_COLUMNS: &str = "k.id, k.team, k.role, k.name, k.hash, k.created_at, k.expires_at, \
    k.last_used_at, k.revoked_at";
const OWNER_COLUMNS: &str = "p.name, p.team, p.visibility, p.created_at, p.latest";

fn millis(t: DateTime<Utc>) -> SqlValue {
    t.timestamp_millis().into()
}

fn team_from(r: &Cols, at: usize) -> Result<Team, MetaError> {
    Ok(Team {
        name: r.parse(at)?,
        disabled: r.int::<i64>(at + 1)? != 0,
        quota: r.json(at + 2)?,
        created_at: from_millis(r.int(at + 3)?),
    })
}

fn key_from(r: &Cols) -> Result<KeyRecord, MetaError> {
    Ok(KeyRecord {
        id: r.parse(0)?,
        team: r.parse(1)?,
        role: r.parse(2)?,
        name: r.text(3)?,
        hash: r.parse(4)?,
        created_at: from_millis(r.int(5)?),
        expires_at: r.opt_int(6)?.map(from_millis),
        last_used_at: r.opt_int(7)?.map(from_millis),
        revoked_at: r.opt_int(8)?.map(from_millis),
    })
}

fn owner_from(r: SqlRow) -> Result<Ownership, MetaError> {
    let r = Cols(r);
    Ok(Ownership {
        name: r.parse(0)?,
        team: r.parse(1)?,
        visibility: r.parse(2)?,
        created_at: from_millis(r.int(3)?),
        latest: r.opt_text(4)?,
    })
}

impl<B: SqlBackend> SqlMetaStore<B> {
    /// The one value of a `SELECT COUNT(*)`.
    async fn count(&self, st: Statement) -> Result<u64, MetaError> {
        let row = self
            .db
            .query(st)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| corrupt_at("COUNT(*) returned no row"))?;
        Cols(row).int(0)
    }

    async fn teams(&self, st: Statement) -> Result<Vec<Team>, MetaError> {
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(|r| team_from(&Cols(r), 0))
            .collect()
    }

    async fn owners(&self, st: Statement) -> Result<Vec<Ownership>, MetaError> {
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(owner_from)
            .collect()
    }
}

#[async_trait]
impl<B: SqlBackend> TenantStore for SqlMetaStore<B> {
    async fn create_team(&self, team: &Team) -> Result<bool, MetaError> {
        let st = Statement::new(
            format!(
                "{} INTO teams (name, disabled, quota, created_at) VALUES (?, ?, ?, ?)",
                B::INSERT_IGNORE
            ),
            vec![
                team.name.as_str().into(),
                i64::from(team.disabled).into(),
                to_json(&team.quota)?.into(),
                millis(team.created_at),
            ],
        );
        self.run(st).await
    }

    async fn get_team(&self, name: &TeamName) -> Result<Option<Team>, MetaError> {
        let st = Statement::new(
            format!("SELECT {TEAM_COLUMNS} FROM teams t WHERE t.name = ?"),
            vec![name.as_str().into()],
        );
        Ok(self.teams(st).await?.pop())
    }

    async fn list_teams(&self) -> Result<Vec<Team>, MetaError> {
        let st = Statement::new(
            format!("SELECT {TEAM_COLUMNS} FROM teams t ORDER BY t.name"),
            vec![],
        );
        self.teams(st).await
    }

    async fn set_quota(&self, name: &TeamName, quota: &Quota) -> Result<bool, MetaError> {
        // Matched rows, not changed rows: setting the same quota again is
        // no error. A read after the write says whether the team exists.
        let st = Statement::new(
            "UPDATE teams SET quota = ? WHERE name = ?",
            vec![to_json(quota)?.into(), name.as_str().into()],
        );
        self.db.execute(st).await?;
        Ok(self.get_team(name).await?.is_some())
    }

    async fn set_disabled(&self, name: &TeamName, disabled: bool) -> Result<bool, MetaError> {
        let st = Statement::new(
            "UPDATE teams SET disabled = ? WHERE name = ?",
            vec![i64::from(disabled).into(), name.as_str().into()],
        );
        self.db.execute(st).await?;
        Ok(self.get_team(name).await?.is_some())
    }

    async fn insert_key(&self, key: &KeyRecord) -> Result<(), MetaError> {
        let st = Statement::new(
            "INSERT INTO api_keys (id, team, role, name, hash, created_at, expires_at, \
             last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                key.id.as_str().into(),
                key.team.as_str().into(),
                key.role.as_str().into(),
                key.name.clone().into(),
                key.hash.to_hex().into(),
                millis(key.created_at),
                key.expires_at.map(|t| t.timestamp_millis()).into(),
                key.last_used_at.map(|t| t.timestamp_millis()).into(),
                key.revoked_at.map(|t| t.timestamp_millis()).into(),
            ],
        );
        self.db.execute(st).await.map(drop)
    }

    async fn key_and_team(&self, id: &KeyId) -> Result<Option<(KeyRecord, Team)>, MetaError> {
        let st = Statement::new(
            format!(
                "SELECT {KEY_COLUMNS}, {TEAM_COLUMNS} FROM api_keys k \
                 JOIN teams t ON t.name = k.team WHERE k.id = ?"
            ),
            vec![id.as_str().into()],
        );
        let Some(row) = self.db.query(st).await?.pop() else {
            return Ok(None);
        };
        let r = Cols(row);
        Ok(Some((key_from(&r)?, team_from(&r, 9)?)))
    }

    async fn list_keys(&self, team: &TeamName) -> Result<Vec<KeyRecord>, MetaError> {
        let st = Statement::new(
            format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.team = ? ORDER BY k.created_at, k.id"
            ),
            vec![team.as_str().into()],
        );
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(|r| key_from(&Cols(r)))
            .collect()
    }

    async fn revoke_key(&self, team: &TeamName, id: &KeyId) -> Result<bool, MetaError> {
        let st = Statement::new(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND team = ? AND revoked_at IS NULL",
            vec![
                millis(agensium_domain::now_to_the_millisecond()),
                id.as_str().into(),
                team.as_str().into(),
            ],
        );
        self.run(st).await
    }

    async fn touch_key(
        &self,
        id: &KeyId,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<(), MetaError> {
        let st = Statement::new(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ? \
             AND (last_used_at IS NULL OR last_used_at < ?)",
            vec![millis(at), id.as_str().into(), millis(stale_before)],
        );
        self.db.execute(st).await.map(drop)
    }

    async fn has_keys(&self) -> Result<bool, MetaError> {
        let st = Statement::new("SELECT id FROM api_keys LIMIT 1", vec![]);
        Ok(!self.db.query(st).await?.is_empty())
    }

    async fn claim_processor(&self, o: &Ownership) -> Result<Ownership, MetaError> {
        let st = Statement::new(
            format!(
                "{} INTO processors (name, team, visibility, created_at) VALUES (?, ?, ?, ?)",
                B::INSERT_IGNORE
            ),
            vec![
                o.name.as_str().into(),
                o.team.as_str().into(),
                o.visibility.as_str().into(),
                millis(o.created_at),
            ],
        );
        self.db.execute(st).await?;
        self.ownership(&o.name)
            .await?
            .ok_or_else(|| MetaError::backend("the processor claim vanished"))
    }

    async fn ownership(&self, name: &ProcessorName) -> Result<Option<Ownership>, MetaError> {
        let st = Statement::new(
            format!("SELECT {OWNER_COLUMNS} FROM processors p WHERE p.name = ?"),
            vec![name.as_str().into()],
        );
        Ok(self.owners(st).await?.pop())
    }

    async fn visible_processors(
        &self,
        team: Option<&TeamName>,
        after: Option<&ProcessorName>,
        limit: u32,
    ) -> Result<Vec<Ownership>, MetaError> {
        let team: SqlValue = team.map(TeamName::as_str).into();
        let after: SqlValue = after.map(ProcessorName::as_str).into();
        let st = Statement::new(
            format!(
                "SELECT {OWNER_COLUMNS} FROM processors p \
                 WHERE (? IS NULL OR p.team = ? OR p.visibility = ?) \
                 AND (? IS NULL OR p.name > ?) ORDER BY p.name LIMIT ?"
            ),
            vec![
                team.clone(),
                team,
                Visibility::Public.as_str().into(),
                after.clone(),
                after,
                limit.into(),
            ],
        );
        self.owners(st).await
    }

    async fn set_visibility(
        &self,
        name: &ProcessorName,
        visibility: Visibility,
    ) -> Result<bool, MetaError> {
        let st = Statement::new(
            "UPDATE processors SET visibility = ? WHERE name = ?",
            vec![visibility.as_str().into(), name.as_str().into()],
        );
        self.db.execute(st).await?;
        Ok(self.ownership(name).await?.is_some())
    }

    async fn running_ahead(&self, job: &Job) -> Result<u64, MetaError> {
        // A job just started carries its claim as its start time.
        let started = job
            .started_at
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MAX);
        let st = Statement::new(
            "SELECT COUNT(*) FROM jobs WHERE team = ? AND status = ? AND lease_until >= ? \
             AND COALESCE(claimed_at, started_at) <= ? AND id <> ?",
            vec![
                job.team.as_str().into(),
                status(JobStatus::Running),
                millis(agensium_domain::now_to_the_millisecond()),
                started.into(),
                job.id.to_string().into(),
            ],
        );
        self.count(st).await
    }

    async fn count_jobs(&self, team: &TeamName, s: JobStatus) -> Result<u64, MetaError> {
        let st = Statement::new(
            "SELECT COUNT(*) FROM jobs WHERE team = ? AND status = ?",
            vec![team.as_str().into(), status(s)],
        );
        self.count(st).await
    }

    async fn backlog_by_team(&self) -> Result<Vec<TeamBacklog>, MetaError> {
        let st = Statement::new(
            "SELECT team, status, COUNT(*) FROM jobs WHERE status IN (?, ?) GROUP BY team, status",
            vec![status(JobStatus::Queued), status(JobStatus::Running)],
        );
        let mut out: Vec<TeamBacklog> = Vec::new();
        for row in self.db.query(st).await? {
            let r = Cols(row);
            let (team, s, n): (TeamName, JobStatus, u64) = (r.parse(0)?, r.parse(1)?, r.int(2)?);
            let at = match out.iter().position(|b| b.team == team) {
                Some(i) => i,
                None => {
                    out.push(TeamBacklog {
                        team,
                        queued: 0,
                        running: 0,
                    });
                    out.len() - 1
                }
            };
            match s {
                JobStatus::Queued => out[at].queued = n,
                _ => out[at].running = n,
            }
        }
        Ok(out)
    }

    async fn finished_jobs(
        &self,
        team: &TeamName,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError> {
        let after: SqlValue = after.map(|a| a.to_string()).into();
        self.jobs(Statement::new(
            format!(
                "SELECT {} FROM jobs WHERE team = ? AND finished_at >= ? AND finished_at < ? \
                 AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?",
                super::JOB_COLUMNS
            ),
            vec![
                team.as_str().into(),
                millis(from),
                millis(to),
                after.clone(),
                after,
                limit.into(),
            ],
        ))
        .await
    }
}
