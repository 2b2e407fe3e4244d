//! Versions' precedence in SQL: the `sort_key` stored beside each version
//! (its [`precedence_key`]) and the `latest` pointer of each processor,
//! kept as versions are added and yanked.

use super::row::Cols;
use super::{SqlBackend, SqlMetaStore, Statement};
use crate::meta::MetaError;
use agensium_domain::{ProcessorName, precedence_key};

/// The newest version of `p.name` that is not yanked, and its key.
const NEWEST: &str = "SELECT v.{col} FROM processor_versions v \
    WHERE v.name = processors.name AND v.yanked_at IS NULL \
    ORDER BY v.sort_key DESC LIMIT 1";

impl<B: SqlBackend> SqlMetaStore<B> {
    /// Moves the `latest` pointer of `name` to `version` unless it points
    /// at a newer one already (a compare-and-set on the key: of two racing
    /// uploads, the newer version wins whatever the order).
    pub(super) async fn raise_latest(
        &self,
        name: &ProcessorName,
        version: &str,
    ) -> Result<(), MetaError> {
        let key = precedence_key(version);
        let st = Statement::new(
            "UPDATE processors SET latest = ?, latest_key = ? \
             WHERE name = ? AND (latest_key IS NULL OR latest_key < ?)",
            vec![
                version.into(),
                key.clone().into(),
                name.as_str().into(),
                key.into(),
            ],
        );
        self.db.execute(st).await.map(|_| ())
    }

    /// Points `latest` of `name` (every processor when `None`) at its newest
    /// version that is not yanked (none: NULL).
    pub(super) async fn recompute_latest(
        &self,
        name: Option<&ProcessorName>,
    ) -> Result<(), MetaError> {
        let name: super::SqlValue = name.map(ProcessorName::as_str).into();
        let st = Statement::new(
            format!(
                "UPDATE processors SET latest = ({}), latest_key = ({}) WHERE ? IS NULL OR name = ?",
                NEWEST.replace("{col}", "version"),
                NEWEST.replace("{col}", "sort_key"),
            ),
            vec![name.clone(), name],
        );
        self.db.execute(st).await.map(|_| ())
    }

    /// Fills `sort_key` of versions stored before it existed, then every
    /// `latest` pointer. Run at start, after the migrations; cheap when
    /// there is nothing to do.
    pub async fn backfill_precedence(&self) -> Result<(), MetaError> {
        let st = Statement::new(
            "SELECT name, version FROM processor_versions WHERE sort_key = ''",
            vec![],
        );
        let rows = self.db.query(st).await?;
        let mut changed = false;
        for row in rows {
            let r = Cols(row);
            let (name, version) = (r.text(0)?, r.text(1)?);
            let key = precedence_key(&version);
            if key.is_empty() {
                continue;
            }
            let st = Statement::new(
                "UPDATE processor_versions SET sort_key = ? WHERE name = ? AND version = ?",
                vec![key.into(), name.into(), version.into()],
            );
            self.db.execute(st).await?;
            changed = true;
        }
        let missing = Statement::new(
            "SELECT COUNT(*) FROM processors WHERE latest IS NULL",
            vec![],
        );
        let unset: i64 = match self.db.query(missing).await?.pop() {
            Some(row) => Cols(row).int(0)?,
            None => 0,
        };
        if changed || unset > 0 {
            self.recompute_latest(None).await?;
        }
        Ok(())
    }
}
