//! [`ArtifactLedger`] once for every SQL backend.

use super::row::Cols;
use super::{SqlBackend, SqlMetaStore, Statement};
use crate::artifacts::ArtifactLedger;
use crate::meta::MetaError;
use agensium_domain::{Digest, now_to_the_millisecond};
use async_trait::async_trait;

#[async_trait]
impl<B: SqlBackend> ArtifactLedger for SqlMetaStore<B> {
    async fn record_artifact(&self, key: &str, sha256: &Digest) -> Result<(), MetaError> {
        // `REPLACE` is the one upsert SQLite and MySQL both speak.
        let st = Statement::new(
            "REPLACE INTO artifacts (artifact_key, sha256, created_at) VALUES (?, ?, ?)",
            vec![
                key.into(),
                sha256.as_str().into(),
                now_to_the_millisecond().timestamp_millis().into(),
            ],
        );
        self.db.execute(st).await.map(|_| ())
    }

    async fn artifact_digest(&self, key: &str) -> Result<Option<Digest>, MetaError> {
        let st = Statement::new(
            "SELECT sha256 FROM artifacts WHERE artifact_key = ?",
            vec![key.into()],
        );
        match self.db.query(st).await?.pop() {
            Some(row) => Ok(Some(Cols(row).parse(0)?)),
            None => Ok(None),
        }
    }
}
