//! Metadata store on SQLite: the embedded default.

use crate::meta::{Finish, MetaError, MetaStore, PutVersion};
use crate::model::{
    Job, JobError, JobId, JobStatus, ProcessorName, ProcessorVersion, Usage, from_millis,
    now_millis,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod schema;
use schema::migrate;

/// [`MetaStore`] on a SQLite file (or in memory). Calls run on tokio's
/// blocking pool; one connection, serialised by a mutex, in WAL mode.
#[derive(Clone)]
pub struct SqliteMetaStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, MetaError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path)
                .map_err(|e| MetaError::Backend(format!("opening {}: {e}", path.display())))?;
            Self::init(conn)
        })
        .await
        .map_err(MetaError::backend)?
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self, MetaError> {
        Self::init(Connection::open_in_memory().map_err(MetaError::backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self, MetaError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(MetaError::backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(MetaError::backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(MetaError::backend)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<R, F>(&self, f: F) -> Result<R, MetaError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, MetaError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| MetaError::backend("poisoned lock"))?;
            f(&mut guard)
        })
        .await
        .map_err(MetaError::backend)?
    }
}

fn db(e: rusqlite::Error) -> MetaError {
    MetaError::backend(e)
}

fn corrupt(e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(MetaError::Corrupt(e.to_string())),
    )
}

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<ProcessorVersion> {
    Ok(ProcessorVersion {
        name: r.get::<_, String>(0)?.parse().map_err(corrupt)?,
        version: r.get(1)?,
        digest: r.get::<_, String>(2)?.parse().map_err(corrupt)?,
        size: r.get(3)?,
        created_at: from_millis(r.get(4)?),
        limits: serde_json::from_str(&r.get::<_, String>(5)?).map_err(corrupt)?,
    })
}

const JOB_COLUMNS: &str = "id, processor, version, digest, status, params, error_code, \
    error_message, attempts, input_bytes, output_bytes, content_type, stats, created_at, \
    started_at, finished_at, worker, usage, limits, attempt_base";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let error = match (
        r.get::<_, Option<String>>(6)?,
        r.get::<_, Option<String>>(7)?,
    ) {
        (Some(code), message) => Some(JobError {
            code,
            message: message.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Job {
        id: r.get::<_, String>(0)?.parse().map_err(corrupt)?,
        processor: r.get::<_, String>(1)?.parse().map_err(corrupt)?,
        version: r.get(2)?,
        digest: r.get::<_, String>(3)?.parse().map_err(corrupt)?,
        status: r.get::<_, String>(4)?.parse().map_err(corrupt)?,
        params: serde_json::from_str(&r.get::<_, String>(5)?).map_err(corrupt)?,
        error,
        attempts: r.get(8)?,
        input_bytes: r.get(9)?,
        output_bytes: r.get(10)?,
        content_type: r.get(11)?,
        stats: serde_json::from_str(&r.get::<_, String>(12)?).map_err(corrupt)?,
        created_at: from_millis(r.get(13)?),
        started_at: r.get::<_, Option<i64>>(14)?.map(from_millis),
        finished_at: r.get::<_, Option<i64>>(15)?.map(from_millis),
        worker: r.get(16)?,
        usage: match r.get::<_, Option<String>>(17)? {
            Some(u) => Some(serde_json::from_str(&u).map_err(corrupt)?),
            None => None,
        },
        limits: serde_json::from_str(&r.get::<_, String>(18)?).map_err(corrupt)?,
        attempt_base: r.get(19)?,
    })
}

fn get_job(conn: &Connection, id: &str) -> Result<Option<Job>, MetaError> {
    conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
        [id],
        job_from_row,
    )
    .optional()
    .map_err(db)
}

#[async_trait]
impl MetaStore for SqliteMetaStore {
    async fn put_version(&self, v: &ProcessorVersion) -> Result<PutVersion, MetaError> {
        let v = v.clone();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT digest FROM processor_versions WHERE name = ?1 AND version = ?2",
                    params![v.name.as_str(), v.version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let outcome = match existing {
                Some(d) if d == v.digest.as_str() => PutVersion::Unchanged,
                Some(d) => PutVersion::Conflict(d.parse().map_err(MetaError::backend)?),
                None => {
                    tx.execute(
                        "INSERT INTO processor_versions \
                         (name, version, digest, size, created_at, limits) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            v.name.as_str(),
                            v.version,
                            v.digest.as_str(),
                            v.size,
                            v.created_at.timestamp_millis(),
                            serde_json::to_string(&v.limits).map_err(MetaError::backend)?
                        ],
                    )
                    .map_err(db)?;
                    PutVersion::Created
                }
            };
            tx.commit().map_err(db)?;
            Ok(outcome)
        })
        .await
    }

    async fn get_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError> {
        let (name, version) = (name.to_string(), version.to_owned());
        self.with(move |conn| {
            conn.query_row(
                "SELECT name, version, digest, size, created_at, limits FROM processor_versions \
                 WHERE name = ?1 AND version = ?2",
                params![name, version],
                version_from_row,
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn list_versions(
        &self,
        name: Option<&ProcessorName>,
    ) -> Result<Vec<ProcessorVersion>, MetaError> {
        let name = name.map(|n| n.to_string());
        self.with(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT name, version, digest, size, created_at, limits FROM processor_versions \
                     WHERE ?1 IS NULL OR name = ?1 ORDER BY name, created_at, version",
                )
                .map_err(db)?;
            let rows = stmt.query_map([name], version_from_row).map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn insert_job(&self, job: &Job) -> Result<(), MetaError> {
        let j = job.clone();
        self.with(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO jobs ({JOB_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                ),
                params![
                    j.id.to_string(),
                    j.processor.as_str(),
                    j.version,
                    j.digest.as_str(),
                    j.status.as_str(),
                    serde_json::to_string(&j.params).map_err(MetaError::backend)?,
                    j.error.as_ref().map(|e| e.code.clone()),
                    j.error.as_ref().map(|e| e.message.clone()),
                    j.attempts,
                    j.input_bytes,
                    j.output_bytes,
                    j.content_type,
                    serde_json::to_string(&j.stats).map_err(MetaError::backend)?,
                    j.created_at.timestamp_millis(),
                    j.started_at.map(|t| t.timestamp_millis()),
                    j.finished_at.map(|t| t.timestamp_millis()),
                    j.worker,
                    j.usage.map(|u| serde_json::to_string(&u)).transpose().map_err(MetaError::backend)?,
                    serde_json::to_string(&j.limits).map_err(MetaError::backend)?,
                    j.attempt_base,
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, MetaError> {
        self.with(move |conn| get_job(conn, &id.to_string())).await
    }

    async fn start_job(
        &self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, MetaError> {
        let owner = owner.to_owned();
        self.with(move |conn| {
            let id = id.to_string();
            let now = now_millis().timestamp_millis();
            let n = conn
                .execute(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?2, \
                     worker = ?3, lease_until = ?4 WHERE id = ?1 AND (status = 'queued' \
                     OR (status = 'running' AND lease_until < ?2))",
                    params![id, now, owner, now + lease.as_millis() as i64],
                )
                .map_err(db)?;
            if n == 0 { Ok(None) } else { get_job(conn, &id) }
        })
        .await
    }

    async fn renew_lease(
        &self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, MetaError> {
        let owner = owner.to_owned();
        self.with(move |conn| {
            let until = now_millis().timestamp_millis() + lease.as_millis() as i64;
            let n = conn
                .execute(
                    "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND status = 'running' AND worker = ?2",
                    params![id.to_string(), owner, until],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn finish_job(
        &self,
        id: JobId,
        owner: &str,
        finish: &Finish,
        usage: Option<&Usage>,
    ) -> Result<bool, MetaError> {
        let (finish, owner) = (finish.clone(), owner.to_owned());
        let usage = usage
            .map(serde_json::to_string)
            .transpose()
            .map_err(MetaError::backend)?;
        self.with(move |conn| {
            let now = now_millis().timestamp_millis();
            let id = id.to_string();
            let n = match finish {
                Finish::Succeeded {
                    output_bytes,
                    content_type,
                    stats,
                } => conn.execute(
                    "UPDATE jobs SET status = 'succeeded', output_bytes = ?3, content_type = ?4, \
                     stats = ?5, finished_at = ?6, lease_until = NULL, usage = ?7 \
                     WHERE id = ?1 AND status = 'running' AND worker = ?2",
                    params![
                        id,
                        owner,
                        output_bytes,
                        content_type,
                        serde_json::to_string(&stats).map_err(MetaError::backend)?,
                        now,
                        usage
                    ],
                ),
                Finish::Failed(e) => conn.execute(
                    "UPDATE jobs SET status = 'failed', error_code = ?3, error_message = ?4, \
                     finished_at = ?5, lease_until = NULL, usage = ?6 \
                     WHERE id = ?1 AND status = 'running' AND worker = ?2",
                    params![id, owner, e.code, e.message, now, usage],
                ),
            }
            .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn requeue_job(&self, id: JobId, owner: &str) -> Result<bool, MetaError> {
        let owner = owner.to_owned();
        self.with(move |conn| {
            let n = conn
                .execute(
                    "UPDATE jobs SET status = 'queued', lease_until = NULL \
                     WHERE id = ?1 AND status = 'running' AND worker = ?2",
                    params![id.to_string(), owner],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn cancel_job(&self, id: JobId) -> Result<bool, MetaError> {
        self.with(move |conn| {
            let n = conn
                .execute(
                    "UPDATE jobs SET status = 'cancelled', error_code = 'cancelled', \
                     error_message = 'cancelled on request', finished_at = ?2, lease_until = NULL \
                     WHERE id = ?1 AND status IN ('queued', 'running')",
                    params![id.to_string(), now_millis().timestamp_millis()],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn retry_job(&self, id: JobId) -> Result<bool, MetaError> {
        self.with(move |conn| {
            let n = conn
                .execute(
                    "UPDATE jobs SET status = 'queued', error_code = NULL, error_message = NULL, \
                 output_bytes = NULL, content_type = NULL, stats = '[]', started_at = NULL, \
                 finished_at = NULL, worker = NULL, lease_until = NULL, usage = NULL, \
                 attempt_base = attempts \
                     WHERE id = ?1 AND status IN ('failed', 'cancelled')",
                    params![id.to_string()],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn requeue_expired(&self) -> Result<Vec<JobId>, MetaError> {
        self.with(|conn| {
            let now = now_millis().timestamp_millis();
            let tx = conn.transaction().map_err(db)?;
            let ids = ids(&tx, "SELECT id FROM jobs WHERE status = 'running' AND lease_until < ?1 ORDER BY id", params![now])?;
            tx.execute(
                "UPDATE jobs SET status = 'queued', lease_until = NULL WHERE status = 'running' AND lease_until < ?1",
                params![now],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(ids)
        })
        .await
    }

    async fn queued_jobs(&self, after: Option<JobId>, limit: u32) -> Result<Vec<JobId>, MetaError> {
        let after = after.map(|a| a.to_string());
        self.with(move |conn| {
            ids(
                conn,
                "SELECT id FROM jobs WHERE status = 'queued' AND (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
                params![after, limit],
            )
        })
        .await
    }

    async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        before: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError> {
        let status = status.map(|s| s.as_str());
        let before = before.map(|b| b.to_string());
        self.with(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR status = ?1) \
                     AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
                ))
                .map_err(db)?;
            let rows = stmt
                .query_map(params![status, before, limit], job_from_row)
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn recover_unfinished(&self) -> Result<Vec<JobId>, MetaError> {
        self.with(|conn| {
            let tx = conn.transaction().map_err(db)?;
            tx.execute(
                "UPDATE jobs SET status = 'queued', lease_until = NULL WHERE status = 'running'",
                [],
            )
            .map_err(db)?;
            let ids = ids(
                &tx,
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id",
                [],
            )?;
            tx.commit().map_err(db)?;
            Ok(ids)
        })
        .await
    }
}

/// Runs a query selecting job ids.
fn ids(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<JobId>, MetaError> {
    let mut stmt = conn.prepare(sql).map_err(db)?;
    let rows = stmt.query_map(p, |r| r.get::<_, String>(0)).map_err(db)?;
    rows.map(|r| r.map_err(db)?.parse::<JobId>().map_err(MetaError::backend))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let store = SqliteMetaStore::in_memory().unwrap();
        crate::conformance::meta_store::run(&store).await;
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let pv = crate::conformance::meta_store::version("reopen", "1.0.0", b"x");
        SqliteMetaStore::open(&path)
            .await
            .unwrap()
            .put_version(&pv)
            .await
            .unwrap();
        let again = SqliteMetaStore::open(&path).await.unwrap();
        assert_eq!(
            again.get_version(&pv.name, "1.0.0").await.unwrap(),
            Some(pv)
        );
    }
}
