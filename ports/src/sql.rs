//! The relational metadata stores' one implementation of [`MetaStore`].
//!
//! SQLite and MySQL speak the same SQL for everything Agensium asks of
//! them (positional `?` parameters, backquoted identifiers), so the
//! statements, the column list, the row mapping and the compare-and-set
//! `WHERE` clause of every job transition live here once, and each adapter
//! implements only [`SqlBackend`]: run a statement, run a query, and name
//! its dialect's one difference ([`SqlBackend::INSERT_IGNORE`]).

mod artifacts;
mod callbacks;
mod retention;
mod row;
mod tenants;
mod transition;
mod versions;

use crate::meta::{
    Catalog, Finish, JobBody, JobFilter, JobStore, MetaError, NewJob, PutVersion, StartedJob,
};
use agensium_domain::{
    Job, JobId, JobRef, JobStatus, ProcessorName, ProcessorVersion, TeamName, Transition, Usage,
    WorkerId, now_to_the_millisecond,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The `SET` part that makes a job's webhook due as it ends (one `?`: now),
/// so announcing the end costs no statement of its own.
const CALLBACK_DUE: &str = "callback_next_at = CASE WHEN callback_url IS NULL THEN NULL ELSE ? END";

pub use row::{JOB_COLUMNS, VERSION_COLUMNS, job_from_row, job_values, version_from_row};
pub use transition::update;

/// A value bound to, or read from, a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
    /// Bytes (a `BLOB`).
    Blob(Bytes),
}

impl From<Bytes> for SqlValue {
    fn from(b: Bytes) -> Self {
        Self::Blob(b)
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<u64> for SqlValue {
    fn from(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u32> for SqlValue {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// A statement with its positional parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// SQL with `?` placeholders.
    pub sql: String,
    /// One value per `?`.
    pub params: Vec<SqlValue>,
}

impl Statement {
    /// A statement and its parameters.
    pub fn new(sql: impl Into<String>, params: Vec<SqlValue>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

/// A row as read: one value per selected column.
pub type SqlRow = Vec<SqlValue>;

/// What a relational adapter implements: the connection, nothing else.
#[async_trait]
pub trait SqlBackend: Send + Sync + 'static {
    /// The dialect's "insert unless the key exists" (`INSERT IGNORE`,
    /// `INSERT OR IGNORE`).
    const INSERT_IGNORE: &'static str;

    /// What a `SELECT` of values (no table) names as its source before a
    /// `WHERE` (`FROM DUAL`, nothing).
    const FROM_NOTHING: &'static str;

    /// Runs a statement; returns how many rows it changed.
    async fn execute(&self, st: Statement) -> Result<u64, MetaError>;

    /// Runs a statement that reads what it then writes (an `INSERT …
    /// SELECT … WHERE (SELECT COUNT(*) …) < ?`) so that no other statement
    /// run under the same `lock` comes between its read and its write.
    /// Backends with one writer run it as it is.
    async fn execute_exclusive(&self, lock: &str, st: Statement) -> Result<u64, MetaError> {
        let _ = lock;
        self.execute(st).await
    }

    /// Runs a query; returns its rows.
    async fn query(&self, st: Statement) -> Result<Vec<SqlRow>, MetaError>;
}

/// [`MetaStore`] on any [`SqlBackend`].
#[derive(Clone)]
pub struct SqlMetaStore<B> {
    db: B,
}

impl<B: SqlBackend> SqlMetaStore<B> {
    /// The store on a connected, migrated backend.
    pub fn new(db: B) -> Self {
        Self { db }
    }

    /// The backend (for adapter-specific tests and tools).
    pub fn backend(&self) -> &B {
        &self.db
    }

    /// Rows of `id, team`.
    async fn refs(&self, st: Statement) -> Result<Vec<JobRef>, MetaError> {
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(|r| {
                let r = row::Cols(r);
                Ok(JobRef {
                    id: r.parse(0)?,
                    team: r.parse(1)?,
                })
            })
            .collect()
    }

    async fn jobs(&self, st: Statement) -> Result<Vec<Job>, MetaError> {
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(job_from_row)
            .collect()
    }

    async fn versions(&self, st: Statement) -> Result<Vec<ProcessorVersion>, MetaError> {
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(version_from_row)
            .collect()
    }

    async fn run(&self, st: Statement) -> Result<bool, MetaError> {
        Ok(self.db.execute(st).await? == 1)
    }
}

fn millis_from_now(d: Duration) -> i64 {
    now_to_the_millisecond().timestamp_millis()
        + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

fn status(s: JobStatus) -> SqlValue {
    s.as_str().into()
}

/// The column of `jobs` that keeps a body inline.
fn body_column(body: JobBody) -> &'static str {
    match body {
        JobBody::Input => "input_data",
        JobBody::Output => "output_data",
        JobBody::Log => "log_data",
    }
}

/// A job row followed by one body column.
fn job_and_body(mut r: SqlRow) -> Result<(Job, Option<Bytes>), MetaError> {
    let body = r
        .pop()
        .ok_or_else(|| row::corrupt_at("missing body column"))?;
    let body = row::Cols(vec![body]).opt_blob(0)?;
    Ok((job_from_row(r)?, body))
}

#[async_trait]
impl<B: SqlBackend> Catalog for SqlMetaStore<B> {
    async fn put_version(&self, v: &ProcessorVersion) -> Result<PutVersion, MetaError> {
        let mut values = row::version_values(v)?;
        values.push(v.precedence_key().into());
        let marks = vec!["?"; values.len()].join(", ");
        let insert = Statement::new(
            format!(
                "{} INTO processor_versions ({VERSION_COLUMNS}, sort_key) VALUES ({marks})",
                B::INSERT_IGNORE
            ),
            values,
        );
        if self.db.execute(insert).await? == 1 {
            self.raise_latest(&v.name, &v.version).await?;
            return Ok(PutVersion::Created);
        }
        match self.get_version(&v.name, &v.version).await? {
            Some(e) if e.digest == v.digest => Ok(PutVersion::Unchanged),
            Some(e) => Ok(PutVersion::Conflict(e.digest)),
            None => Err(MetaError::backend("the version vanished during insert")),
        }
    }

    async fn get_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError> {
        let st = Statement::new(
            format!(
                "SELECT {VERSION_COLUMNS} FROM processor_versions WHERE name = ? AND version = ?"
            ),
            vec![name.as_str().into(), version.into()],
        );
        self.db
            .query(st)
            .await?
            .into_iter()
            .next()
            .map(version_from_row)
            .transpose()
    }

    async fn list_versions(
        &self,
        name: Option<&ProcessorName>,
    ) -> Result<Vec<ProcessorVersion>, MetaError> {
        let name: SqlValue = name.map(ProcessorName::as_str).into();
        let st = Statement::new(
            format!(
                "SELECT {VERSION_COLUMNS} FROM processor_versions \
                 WHERE ? IS NULL OR name = ? ORDER BY name, created_at, version"
            ),
            vec![name.clone(), name],
        );
        self.versions(st).await
    }

    async fn yank_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError> {
        let st = Statement::new(
            "UPDATE processor_versions SET yanked_at = ? \
             WHERE name = ? AND version = ? AND yanked_at IS NULL",
            vec![
                now_to_the_millisecond().timestamp_millis().into(),
                name.as_str().into(),
                version.into(),
            ],
        );
        if self.db.execute(st).await? == 1 {
            self.recompute_latest(Some(name)).await?;
        }
        self.get_version(name, version).await
    }

    async fn version_page(
        &self,
        name: &ProcessorName,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ProcessorVersion>, MetaError> {
        let before: SqlValue = before.map(agensium_domain::precedence_key).into();
        let st = Statement::new(
            format!(
                "SELECT {VERSION_COLUMNS} FROM processor_versions \
                 WHERE name = ? AND (? IS NULL OR sort_key < ?) \
                 ORDER BY sort_key DESC, created_at DESC LIMIT ?"
            ),
            vec![name.as_str().into(), before.clone(), before, limit.into()],
        );
        self.versions(st).await
    }
}

#[async_trait]
impl<B: SqlBackend> JobStore for SqlMetaStore<B> {
    async fn insert_jobs(&self, jobs: &[NewJob<'_>]) -> Result<(), MetaError> {
        let mut values = Vec::new();
        let mut rows = Vec::with_capacity(jobs.len());
        for new in jobs {
            let row = job_values(new.job)?;
            let marks = vec!["?"; row.len() + 1].join(", ");
            rows.push(format!("({marks})"));
            values.extend(row);
            values.push(new.input.cloned().into());
        }
        if rows.is_empty() {
            return Ok(());
        }
        let st = Statement::new(
            format!(
                "INSERT INTO jobs ({JOB_COLUMNS}, input_data) VALUES {}",
                rows.join(", ")
            ),
            values,
        );
        self.db.execute(st).await.map(drop)
    }

    async fn insert_job_within(
        &self,
        job: &Job,
        input: Option<&Bytes>,
        max_queued: u32,
    ) -> Result<bool, MetaError> {
        let mut values = job_values(job)?;
        let marks = vec!["?"; values.len() + 1].join(", ");
        values.push(input.cloned().into());
        values.push(job.team.as_str().into());
        values.push(i64::from(max_queued).into());
        let st = Statement::new(
            format!(
                "INSERT INTO jobs ({JOB_COLUMNS}, input_data) SELECT {marks}{} WHERE \
                 (SELECT COUNT(*) FROM jobs WHERE team = ? AND status = 'queued') < ?",
                B::FROM_NOTHING
            ),
            values,
        );
        // MySQL's lock names are at most 64 characters; a team's is 63.
        let team = agensium_domain::Digest::of(job.team.as_str().as_bytes());
        let lock = format!("agensium_queued_{}", &team.hex()[..32]);
        Ok(self.db.execute_exclusive(&lock, st).await? == 1)
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, MetaError> {
        let st = Statement::new(
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"),
            vec![id.to_string().into()],
        );
        Ok(self.jobs(st).await?.pop())
    }

    async fn get_job_body(
        &self,
        id: JobId,
        body: JobBody,
    ) -> Result<Option<(Job, Option<Bytes>)>, MetaError> {
        let st = Statement::new(
            format!(
                "SELECT {JOB_COLUMNS}, {} FROM jobs WHERE id = ?",
                body_column(body)
            ),
            vec![id.to_string().into()],
        );
        self.db.query(st).await?.pop().map(job_and_body).transpose()
    }

    async fn start_job(
        &self,
        id: JobId,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<Option<StartedJob>, MetaError> {
        let set =
            "attempts = attempts + 1, started_at = ?, claimed_at = ?, worker = ?, lease_until = ?";
        let now = now_to_the_millisecond().timestamp_millis();
        let values = vec![
            now.into(),
            now.into(),
            owner.as_str().into(),
            millis_from_now(lease).into(),
        ];
        if self
            .run(update(Transition::Start, set, values, Some(id), None))
            .await?
        {
            Ok(self
                .get_job_body(id, JobBody::Input)
                .await?
                .map(|(job, input)| StartedJob { job, input }))
        } else {
            Ok(None)
        }
    }

    async fn renew_lease(
        &self,
        id: JobId,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<bool, MetaError> {
        let values = vec![millis_from_now(lease).into()];
        self.run(update(
            Transition::Renew,
            "lease_until = ?",
            values,
            Some(id),
            Some(owner),
        ))
        .await
    }

    async fn finish_job(
        &self,
        id: JobId,
        owner: &WorkerId,
        finish: &Finish,
        usage: Option<&Usage>,
        log: Option<&Bytes>,
    ) -> Result<bool, MetaError> {
        let (t, set, mut values) = match finish {
            Finish::Succeeded {
                output_bytes,
                inline_output,
                content_type,
                stats,
            } => (
                Transition::Succeed,
                "output_bytes = ?, output_data = ?, content_type = ?, stats = ?",
                vec![
                    (*output_bytes).into(),
                    inline_output.clone().into(),
                    content_type.clone().into(),
                    row::to_json(stats)?.into(),
                ],
            ),
            Finish::Failed(e) => (
                Transition::Fail,
                "error_code = ?, error_message = ?",
                vec![e.code.as_str().into(), e.message.clone().into()],
            ),
        };
        let now = now_to_the_millisecond().timestamp_millis();
        values.push(now.into());
        values.push(usage.map(row::to_json).transpose()?.into());
        values.push(log.cloned().into());
        values.push(now.into());
        let set = format!(
            "{set}, finished_at = ?, lease_until = NULL, `usage` = ?, log_data = ?, {CALLBACK_DUE}"
        );
        self.run(update(t, &set, values, Some(id), Some(owner)))
            .await
    }

    async fn requeue_job(&self, id: JobId, owner: &WorkerId) -> Result<bool, MetaError> {
        let st = update(
            Transition::HandBack,
            "lease_until = NULL",
            vec![],
            Some(id),
            Some(owner),
        );
        self.run(st).await
    }

    async fn admit_job(
        &self,
        id: JobId,
        owner: &WorkerId,
    ) -> Result<Option<DateTime<Utc>>, MetaError> {
        let now = now_to_the_millisecond();
        let values = vec![now.timestamp_millis().into()];
        let st = update(
            Transition::Admit,
            "started_at = ?",
            values,
            Some(id),
            Some(owner),
        );
        Ok(self.run(st).await?.then_some(now))
    }

    async fn yield_job(&self, id: JobId, owner: &WorkerId) -> Result<bool, MetaError> {
        let st = update(
            Transition::Yield,
            "attempts = attempts - 1, started_at = NULL, claimed_at = NULL, worker = NULL, \
             lease_until = NULL",
            vec![],
            Some(id),
            Some(owner),
        );
        self.run(st).await
    }

    async fn cancel_job(&self, id: JobId) -> Result<bool, MetaError> {
        let set = format!(
            "error_code = ?, error_message = 'cancelled on request', finished_at = ?, \
             lease_until = NULL, {CALLBACK_DUE}"
        );
        let now = now_to_the_millisecond().timestamp_millis();
        let values = vec![
            agensium_domain::ErrorCode::Cancelled.as_str().into(),
            now.into(),
            now.into(),
        ];
        self.run(update(Transition::Cancel, &set, values, Some(id), None))
            .await
    }

    async fn retry_job(&self, id: JobId) -> Result<bool, MetaError> {
        let set = "error_code = NULL, error_message = NULL, output_bytes = NULL, \
                   output_data = NULL, log_data = NULL, content_type = NULL, stats = '[]', started_at = NULL, claimed_at = NULL, finished_at = NULL, \
                   worker = NULL, lease_until = NULL, `usage` = NULL, attempt_base = attempts, \
                   callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, \
                   callback_attempts = 0, callback_last = NULL, callback_at = NULL, \
                   callback_next_at = NULL";
        self.run(update(Transition::Retry, set, vec![], Some(id), None))
            .await
    }

    async fn requeue_expired(&self) -> Result<Vec<JobRef>, MetaError> {
        let candidates = self
            .refs(Statement::new(
                "SELECT id, team FROM jobs WHERE status = ? AND lease_until < ? ORDER BY id",
                vec![
                    status(JobStatus::Running),
                    now_to_the_millisecond().timestamp_millis().into(),
                ],
            ))
            .await?;
        let mut requeued = Vec::new();
        for job in candidates {
            // Re-checked per row: its worker may have renewed or finished meanwhile.
            let st = update(
                Transition::Expire,
                "lease_until = NULL",
                vec![],
                Some(job.id),
                None,
            );
            if self.run(st).await? {
                requeued.push(job);
            }
        }
        Ok(requeued)
    }

    async fn queued_jobs(
        &self,
        after: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<JobRef>, MetaError> {
        let after: SqlValue = after.map(|a| a.to_string()).into();
        self.refs(Statement::new(
            "SELECT id, team FROM jobs WHERE status = ? AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?",
            vec![
                status(JobStatus::Queued),
                after.clone(),
                after,
                limit.into(),
            ],
        ))
        .await
    }

    async fn list_jobs(
        &self,
        filter: &JobFilter<'_>,
        before: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError> {
        let team: SqlValue = filter.team.map(agensium_domain::TeamName::as_str).into();
        let status: SqlValue = filter.status.map(JobStatus::as_str).into();
        let processor: SqlValue = filter.processor.map(ProcessorName::as_str).into();
        let before: SqlValue = before.map(|b| b.to_string()).into();
        self.jobs(Statement::new(
            format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE (? IS NULL OR team = ?) \
                 AND (? IS NULL OR status = ?) AND (? IS NULL OR processor = ?) \
                 AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?"
            ),
            vec![
                team.clone(),
                team,
                status.clone(),
                status,
                processor.clone(),
                processor,
                before.clone(),
                before,
                limit.into(),
            ],
        ))
        .await
    }

    async fn recover_unfinished(&self) -> Result<Vec<JobRef>, MetaError> {
        // Only a single process calls this, at start: no other writer races it.
        let st = update(
            Transition::Recover,
            "lease_until = NULL",
            vec![],
            None,
            None,
        );
        self.db.execute(st).await?;
        self.refs(Statement::new(
            "SELECT id, team FROM jobs WHERE status = ? ORDER BY id",
            vec![status(JobStatus::Queued)],
        ))
        .await
    }

    async fn expire_jobs(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<u64, MetaError> {
        self.expire(ids, at).await
    }

    async fn expired_job(&self, id: JobId) -> Result<Option<TeamName>, MetaError> {
        self.tombstone(id).await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.lease(name, holder, now, until).await
    }
}
