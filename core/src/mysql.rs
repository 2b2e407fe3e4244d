//! Metadata store on MySQL / MariaDB (mysql_async): the production truth.

use crate::meta::{Finish, MetaError, MetaStore, PutVersion};
use crate::model::{
    Job, JobError, JobId, JobStatus, ProcessorName, ProcessorVersion, Usage, from_millis,
    now_millis,
};
use async_trait::async_trait;
use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Row, Value};
use std::time::Duration;

mod schema;
use schema::migrate;

const JOB_COLUMNS: &str = "id, processor, version, digest, status, params, error_code, \
    error_message, attempts, input_bytes, output_bytes, content_type, stats, created_at, \
    started_at, finished_at, worker, `usage`, limits, attempt_base";

/// [`MetaStore`] on MySQL 8 or MariaDB 10.6+, through a connection pool.
/// Every query is parameterised.
#[derive(Clone)]
pub struct MySqlMetaStore {
    pool: Pool,
}

fn db(e: mysql_async::Error) -> MetaError {
    MetaError::backend(e)
}

impl MySqlMetaStore {
    /// Connects to `url` (`mysql://user:pass@host:port/database`), checks
    /// the connection and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        let opts = Opts::from_url(url)
            .map_err(|e| MetaError::Backend(format!("invalid MySQL URL: {e}")))?;
        let where_ = format!(
            "{}:{}/{}",
            opts.ip_or_hostname(),
            opts.tcp_port(),
            opts.db_name().unwrap_or("")
        );
        if opts.db_name().is_none() {
            return Err(MetaError::Backend(format!(
                "MySQL URL {where_} names no database"
            )));
        }
        // Connections go where the URL says: mysql_async would otherwise
        // move a 127.0.0.1 connection to the server's Unix socket, past any
        // proxy or network policy on the TCP path.
        let opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .client_found_rows(true)
            .pool_opts(
                PoolOpts::default().with_constraints(PoolConstraints::new(1, 32).expect("1 <= 32")),
            );
        let store = Self {
            pool: Pool::new(opts),
        };
        let mut conn = tokio::time::timeout(Duration::from_secs(10), store.pool.get_conn())
            .await
            .map_err(|_| MetaError::Backend(format!("connecting to MySQL at {where_}: timed out")))?
            .map_err(|e| MetaError::Backend(format!("connecting to MySQL at {where_}: {e}")))?;
        migrate(&mut conn)
            .await
            .map_err(|e| MetaError::Backend(format!("migrating MySQL at {where_}: {e}")))?;
        Ok(store)
    }

    async fn conn(&self) -> Result<Conn, MetaError> {
        self.pool.get_conn().await.map_err(db)
    }

    /// Runs an UPDATE and returns the number of rows it matched.
    async fn update(&self, sql: &str, params: impl Into<Params> + Send) -> Result<u64, MetaError> {
        let mut c = self.conn().await?;
        c.exec_drop(sql, params).await.map_err(db)?;
        Ok(c.affected_rows())
    }

    async fn ids(
        &self,
        sql: &str,
        params: impl Into<Params> + Send,
    ) -> Result<Vec<JobId>, MetaError> {
        let rows: Vec<String> = self.conn().await?.exec(sql, params).await.map_err(db)?;
        rows.into_iter()
            .map(|s| s.parse().map_err(MetaError::backend))
            .collect()
    }
}

fn take<T: FromValue>(row: &mut Row, i: usize) -> Result<T, MetaError> {
    row.take_opt::<T, usize>(i)
        .ok_or_else(|| MetaError::Corrupt(format!("missing column {i}")))?
        .map_err(|e| MetaError::Corrupt(e.to_string()))
}

fn parse<T: std::str::FromStr>(s: String) -> Result<T, MetaError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e: T::Err| MetaError::Corrupt(e.to_string()))
}

fn json<T: serde::de::DeserializeOwned>(s: String) -> Result<T, MetaError> {
    serde_json::from_str(&s).map_err(|e| MetaError::Corrupt(e.to_string()))
}

fn version_from_row(mut r: Row) -> Result<ProcessorVersion, MetaError> {
    Ok(ProcessorVersion {
        name: parse(take(&mut r, 0)?)?,
        version: take(&mut r, 1)?,
        digest: parse(take(&mut r, 2)?)?,
        size: take(&mut r, 3)?,
        created_at: from_millis(take(&mut r, 4)?),
        limits: json(take(&mut r, 5)?)?,
    })
}

fn job_from_row(mut r: Row) -> Result<Job, MetaError> {
    let code: Option<String> = take(&mut r, 6)?;
    let message: Option<String> = take(&mut r, 7)?;
    Ok(Job {
        id: parse(take(&mut r, 0)?)?,
        processor: parse(take(&mut r, 1)?)?,
        version: take(&mut r, 2)?,
        digest: parse(take(&mut r, 3)?)?,
        status: parse(take(&mut r, 4)?)?,
        params: json(take(&mut r, 5)?)?,
        error: code.map(|code| JobError {
            code,
            message: message.unwrap_or_default(),
        }),
        attempts: take(&mut r, 8)?,
        input_bytes: take(&mut r, 9)?,
        output_bytes: take(&mut r, 10)?,
        content_type: take(&mut r, 11)?,
        stats: json(take(&mut r, 12)?)?,
        created_at: from_millis(take(&mut r, 13)?),
        started_at: take::<Option<i64>>(&mut r, 14)?.map(from_millis),
        finished_at: take::<Option<i64>>(&mut r, 15)?.map(from_millis),
        worker: take(&mut r, 16)?,
        usage: take::<Option<String>>(&mut r, 17)?.map(json).transpose()?,
        limits: json(take(&mut r, 18)?)?,
        attempt_base: take(&mut r, 19)?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, MetaError> {
    serde_json::to_string(v).map_err(MetaError::backend)
}

fn millis_from_now(lease: Duration) -> i64 {
    now_millis().timestamp_millis() + lease.as_millis() as i64
}

#[async_trait]
impl MetaStore for MySqlMetaStore {
    async fn put_version(&self, v: &ProcessorVersion) -> Result<PutVersion, MetaError> {
        let mut c = self.conn().await?;
        c.exec_drop(
            "INSERT IGNORE INTO processor_versions (name, version, digest, size, created_at, limits) \
             VALUES (?, ?, ?, ?, ?, ?)",
            (
                v.name.as_str(),
                &v.version,
                v.digest.as_str(),
                v.size,
                v.created_at.timestamp_millis(),
                to_json(&v.limits)?,
            ),
        )
        .await
        .map_err(db)?;
        if c.affected_rows() == 1 {
            return Ok(PutVersion::Created);
        }
        let existing: Option<String> = c
            .exec_first(
                "SELECT digest FROM processor_versions WHERE name = ? AND version = ?",
                (v.name.as_str(), &v.version),
            )
            .await
            .map_err(db)?;
        match existing {
            Some(d) if d == v.digest.as_str() => Ok(PutVersion::Unchanged),
            Some(d) => Ok(PutVersion::Conflict(parse(d)?)),
            None => Err(MetaError::Backend("version vanished during insert".into())),
        }
    }

    async fn get_version(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<Option<ProcessorVersion>, MetaError> {
        let row: Option<Row> = self
            .conn()
            .await?
            .exec_first(
                "SELECT name, version, digest, size, created_at, limits FROM processor_versions \
                 WHERE name = ? AND version = ?",
                (name.as_str(), version),
            )
            .await
            .map_err(db)?;
        row.map(version_from_row).transpose()
    }

    async fn list_versions(
        &self,
        name: Option<&ProcessorName>,
    ) -> Result<Vec<ProcessorVersion>, MetaError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .exec(
                "SELECT name, version, digest, size, created_at, limits FROM processor_versions \
                 WHERE ? IS NULL OR name = ? ORDER BY name, created_at, version",
                (name.map(|n| n.as_str()), name.map(|n| n.as_str())),
            )
            .await
            .map_err(db)?;
        rows.into_iter().map(version_from_row).collect()
    }

    async fn insert_job(&self, j: &Job) -> Result<(), MetaError> {
        let values: Vec<Value> = vec![
            j.id.to_string().into(),
            j.processor.as_str().into(),
            j.version.clone().into(),
            j.digest.as_str().into(),
            j.status.as_str().into(),
            to_json(&j.params)?.into(),
            j.error.as_ref().map(|e| e.code.clone()).into(),
            j.error.as_ref().map(|e| e.message.clone()).into(),
            j.attempts.into(),
            j.input_bytes.into(),
            j.output_bytes.into(),
            j.content_type.clone().into(),
            to_json(&j.stats)?.into(),
            j.created_at.timestamp_millis().into(),
            j.started_at.map(|t| t.timestamp_millis()).into(),
            j.finished_at.map(|t| t.timestamp_millis()).into(),
            j.worker.clone().into(),
            j.usage.as_ref().map(to_json).transpose()?.into(),
            to_json(&j.limits)?.into(),
            j.attempt_base.into(),
        ];
        let sql = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({})",
            vec!["?"; values.len()].join(", ")
        );
        self.conn()
            .await?
            .exec_drop(sql, Params::Positional(values))
            .await
            .map_err(db)
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, MetaError> {
        let row: Option<Row> = self
            .conn()
            .await?
            .exec_first(
                format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"),
                (id.to_string(),),
            )
            .await
            .map_err(db)?;
        row.map(job_from_row).transpose()
    }

    async fn start_job(
        &self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, MetaError> {
        let now = now_millis().timestamp_millis();
        let n = self
            .update(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, \
                 worker = ?, lease_until = ? WHERE id = ? AND (status = 'queued' \
                 OR (status = 'running' AND lease_until < ?))",
                (now, owner, millis_from_now(lease), id.to_string(), now),
            )
            .await?;
        if n == 0 {
            Ok(None)
        } else {
            self.get_job(id).await
        }
    }

    async fn renew_lease(
        &self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, MetaError> {
        let n = self
            .update(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND status = 'running' AND worker = ?",
                (millis_from_now(lease), id.to_string(), owner),
            )
            .await?;
        Ok(n == 1)
    }

    async fn finish_job(
        &self,
        id: JobId,
        owner: &str,
        finish: &Finish,
        usage: Option<&Usage>,
    ) -> Result<bool, MetaError> {
        let now = now_millis().timestamp_millis();
        let usage = usage.map(to_json).transpose()?;
        let n = match finish {
            Finish::Succeeded {
                output_bytes,
                content_type,
                stats,
            } => {
                self.update(
                    "UPDATE jobs SET status = 'succeeded', output_bytes = ?, content_type = ?, \
                     stats = ?, finished_at = ?, lease_until = NULL, `usage` = ? \
                     WHERE id = ? AND status = 'running' AND worker = ?",
                    (
                        *output_bytes,
                        content_type.clone(),
                        to_json(stats)?,
                        now,
                        usage,
                        id.to_string(),
                        owner,
                    ),
                )
                .await?
            }
            Finish::Failed(e) => {
                self.update(
                    "UPDATE jobs SET status = 'failed', error_code = ?, error_message = ?, \
                     finished_at = ?, lease_until = NULL, `usage` = ? \
                     WHERE id = ? AND status = 'running' AND worker = ?",
                    (&e.code, &e.message, now, usage, id.to_string(), owner),
                )
                .await?
            }
        };
        Ok(n == 1)
    }

    async fn requeue_job(&self, id: JobId, owner: &str) -> Result<bool, MetaError> {
        let n = self
            .update(
                "UPDATE jobs SET status = 'queued', lease_until = NULL \
                 WHERE id = ? AND status = 'running' AND worker = ?",
                (id.to_string(), owner),
            )
            .await?;
        Ok(n == 1)
    }

    async fn cancel_job(&self, id: JobId) -> Result<bool, MetaError> {
        let n = self
            .update(
                "UPDATE jobs SET status = 'cancelled', error_code = 'cancelled', \
                 error_message = 'cancelled on request', finished_at = ?, lease_until = NULL \
                 WHERE id = ? AND status IN ('queued', 'running')",
                (now_millis().timestamp_millis(), id.to_string()),
            )
            .await?;
        Ok(n == 1)
    }

    async fn retry_job(&self, id: JobId) -> Result<bool, MetaError> {
        let n = self
            .update(
                "UPDATE jobs SET status = 'queued', error_code = NULL, error_message = NULL, \
                 output_bytes = NULL, content_type = NULL, stats = '[]', started_at = NULL, \
                 finished_at = NULL, worker = NULL, lease_until = NULL, `usage` = NULL, \
                 attempt_base = attempts \
                 WHERE id = ? AND status IN ('failed', 'cancelled')",
                (id.to_string(),),
            )
            .await?;
        Ok(n == 1)
    }

    async fn requeue_expired(&self) -> Result<Vec<JobId>, MetaError> {
        let now = now_millis().timestamp_millis();
        let candidates = self
            .ids(
                "SELECT id FROM jobs WHERE status = 'running' AND lease_until < ? ORDER BY id",
                (now,),
            )
            .await?;
        let mut requeued = Vec::new();
        for id in candidates {
            // Re-checked per row: a worker may have renewed or finished meanwhile.
            let n = self
                .update(
                    "UPDATE jobs SET status = 'queued', lease_until = NULL \
                     WHERE id = ? AND status = 'running' AND lease_until < ?",
                    (id.to_string(), now),
                )
                .await?;
            if n == 1 {
                requeued.push(id);
            }
        }
        Ok(requeued)
    }

    async fn queued_jobs(&self, after: Option<JobId>, limit: u32) -> Result<Vec<JobId>, MetaError> {
        let after = after.map(|a| a.to_string());
        self.ids(
            "SELECT id FROM jobs WHERE status = 'queued' AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?",
            (after.clone(), after, limit),
        )
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
        let rows: Vec<Row> = self
            .conn()
            .await?
            .exec(
                format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE (? IS NULL OR status = ?) \
                     AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?"
                ),
                (status, status, before.clone(), before, limit),
            )
            .await
            .map_err(db)?;
        rows.into_iter().map(job_from_row).collect()
    }

    async fn recover_unfinished(&self) -> Result<Vec<JobId>, MetaError> {
        self.update(
            "UPDATE jobs SET status = 'queued', lease_until = NULL WHERE status = 'running'",
            (),
        )
        .await?;
        self.ids(
            "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id",
            (),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testenv;

    #[tokio::test]
    async fn conformance() {
        let Some(url) = testenv::fresh_mysql_database().await else {
            return;
        };
        let store = MySqlMetaStore::connect(&url).await.unwrap();
        crate::conformance::meta_store::run(&store).await;
    }

    #[tokio::test]
    async fn concurrent_startup_migrates_once() {
        let Some(url) = testenv::fresh_mysql_database().await else {
            return;
        };
        let starts = (0..4).map(|_| MySqlMetaStore::connect(&url));
        for s in futures::future::join_all(starts).await {
            s.unwrap();
        }
        let store = MySqlMetaStore::connect(&url).await.unwrap();
        let n: Option<i64> = store
            .conn()
            .await
            .unwrap()
            .query_first("SELECT COUNT(*) FROM schema_migrations")
            .await
            .unwrap();
        assert_eq!(n, Some(schema::MIGRATIONS.len() as i64));
    }

    #[tokio::test]
    async fn unreachable_server_is_a_clear_error() {
        let Err(e) = MySqlMetaStore::connect("mysql://root@127.0.0.1:1/x").await else {
            panic!("connected to nothing")
        };
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    }
}
