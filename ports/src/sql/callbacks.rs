//! [`CallbackStore`] once for every SQL backend: deliveries live on the job
//! row (`callback_*` columns), secrets on the team row.

use super::row::Cols;
use super::{JOB_COLUMNS, SqlBackend, SqlMetaStore, Statement, job_from_row};
use crate::callbacks::{AttemptRecord, CallbackStore, DueCallback};
use crate::meta::MetaError;
use agensium_domain::{
    JobId, MAX_CALLBACK_OUTCOME, TeamName, WebhookSecret, truncate_at_char_boundary,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

fn corrupt(e: agensium_domain::InvalidInput) -> MetaError {
    MetaError::Corrupt(e.0)
}

#[async_trait]
impl<B: SqlBackend> CallbackStore for SqlMetaStore<B> {
    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        skip: &[TeamName],
    ) -> Result<Vec<DueCallback>, MetaError> {
        let not_in = if skip.is_empty() {
            String::new()
        } else {
            format!(" AND team NOT IN ({})", vec!["?"; skip.len()].join(", "))
        };
        let mut values = vec![now.timestamp_millis().into()];
        values.extend(skip.iter().map(|t| t.to_string().into()));
        values.push(limit.into());
        let st = Statement::new(
            format!(
                "SELECT {JOB_COLUMNS}, callback_next_at FROM jobs WHERE callback_next_at <= ?\
                 {not_in} ORDER BY callback_next_at LIMIT ?"
            ),
            values,
        );
        self.db
            .query(st)
            .await?
            .into_iter()
            .map(|mut row| {
                let due = row.pop().map(|v| Cols(vec![v]).int(0)).transpose()?;
                Ok(DueCallback {
                    job: job_from_row(row)?,
                    due: due.unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn claim_callback(
        &self,
        due: &DueCallback,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        let st = Statement::new(
            "UPDATE jobs SET callback_next_at = ?, callback_attempts = callback_attempts + 1 \
             WHERE id = ? AND callback_next_at = ?",
            vec![
                until.timestamp_millis().into(),
                due.job.id.to_string().into(),
                due.due.into(),
            ],
        );
        Ok(self.db.execute(st).await? == 1)
    }

    async fn record_callback(
        &self,
        id: JobId,
        attempt: u32,
        record: &AttemptRecord,
    ) -> Result<bool, MetaError> {
        let mut outcome = record.outcome.clone();
        truncate_at_char_boundary(&mut outcome, MAX_CALLBACK_OUTCOME);
        let st = Statement::new(
            "UPDATE jobs SET callback_state = ?, callback_last = ?, callback_at = ?, \
             callback_next_at = ? WHERE id = ? AND callback_attempts = ? \
             AND callback_state = 'pending'",
            vec![
                record.state.as_str().into(),
                outcome.into(),
                record.at.timestamp_millis().into(),
                record.next.map(|t| t.timestamp_millis()).into(),
                id.to_string().into(),
                attempt.into(),
            ],
        );
        Ok(self.db.execute(st).await? == 1)
    }

    async fn webhook_secret(&self, team: &TeamName) -> Result<Option<WebhookSecret>, MetaError> {
        let read = || {
            Statement::new(
                "SELECT webhook_secret FROM teams WHERE name = ?",
                vec![team.as_str().into()],
            )
        };
        let Some(row) = self.db.query(read()).await?.pop() else {
            return Ok(None);
        };
        if let Some(s) = Cols(row).opt_text(0)? {
            return s.parse().map(Some).map_err(corrupt);
        }
        let fresh = WebhookSecret::generate().map_err(MetaError::backend)?;
        // Whoever writes first wins; everyone then reads the same secret.
        self.db
            .execute(Statement::new(
                "UPDATE teams SET webhook_secret = ? WHERE name = ? AND webhook_secret IS NULL",
                vec![fresh.expose().into(), team.as_str().into()],
            ))
            .await?;
        let Some(row) = self.db.query(read()).await?.pop() else {
            return Ok(None);
        };
        match Cols(row).opt_text(0)? {
            Some(s) => s.parse().map(Some).map_err(corrupt),
            None => Err(MetaError::Corrupt("the webhook secret was not kept".into())),
        }
    }

    async fn set_webhook_secret(
        &self,
        team: &TeamName,
        secret: &WebhookSecret,
    ) -> Result<bool, MetaError> {
        let st = Statement::new(
            "UPDATE teams SET webhook_secret = ? WHERE name = ?",
            vec![secret.expose().into(), team.as_str().into()],
        );
        Ok(self.db.execute(st).await? == 1)
    }
}
