//! Retention's statements: expiring final jobs (the row goes, a tombstone
//! stays), reading a tombstone, and the lease that keeps the sweep to one
//! process at a time.

use super::row::Cols;
use super::{SqlBackend, SqlMetaStore, SqlValue, Statement, status};
use crate::meta::MetaError;
use agensium_domain::{JobId, JobStatus, TeamName};
use chrono::{DateTime, Utc};

const FINAL: [JobStatus; 3] = [
    JobStatus::Succeeded,
    JobStatus::Failed,
    JobStatus::Cancelled,
];

impl<B: SqlBackend> SqlMetaStore<B> {
    /// Tombstones first, then the rows: a crash between leaves a row with
    /// its tombstone, which the next sweep deletes (the row wins a read).
    pub(super) async fn expire(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<u64, MetaError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let ids: Vec<SqlValue> = ids.iter().map(|id| id.to_string().into()).collect();
        let finals: Vec<SqlValue> = FINAL.into_iter().map(status).collect();
        let mut values = vec![at.timestamp_millis().into()];
        values.extend(ids.iter().cloned());
        values.extend(finals.iter().cloned());
        self.db
            .execute(Statement::new(
                format!(
                    "{} INTO expired_jobs (id, team, expired_at) SELECT id, team, ? FROM jobs \
                     WHERE id IN ({marks}) AND status IN (?, ?, ?)",
                    B::INSERT_IGNORE
                ),
                values,
            ))
            .await?;
        let mut values = ids;
        values.extend(finals);
        self.db
            .execute(Statement::new(
                format!("DELETE FROM jobs WHERE id IN ({marks}) AND status IN (?, ?, ?)"),
                values,
            ))
            .await
    }

    /// The team of an expired job.
    pub(super) async fn tombstone(&self, id: JobId) -> Result<Option<TeamName>, MetaError> {
        let st = Statement::new(
            "SELECT team FROM expired_jobs WHERE id = ?",
            vec![id.to_string().into()],
        );
        match self.db.query(st).await?.into_iter().next() {
            Some(row) => Ok(Some(Cols(row).parse(0)?)),
            None => Ok(None),
        }
    }

    /// A new lease, or the holder's own renewed, or a lapsed one taken over.
    pub(super) async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let (name, holder): (SqlValue, SqlValue) = (name.into(), holder.into());
        let until: SqlValue = until.timestamp_millis().into();
        let taken = self
            .db
            .execute(Statement::new(
                format!(
                    "{} INTO leases (name, holder, expires_at) VALUES (?, ?, ?)",
                    B::INSERT_IGNORE
                ),
                vec![name.clone(), holder.clone(), until.clone()],
            ))
            .await?;
        if taken == 1 {
            return Ok(true);
        }
        let renewed = self
            .db
            .execute(Statement::new(
                "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?)",
                vec![holder.clone(), until, name, holder, now.timestamp_millis().into()],
            ))
            .await?;
        Ok(renewed == 1)
    }
}
