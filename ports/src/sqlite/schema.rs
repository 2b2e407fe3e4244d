//! The SQLite schema: versioned migrations, tracked in `PRAGMA user_version`.

use crate::meta::MetaError;
use rusqlite::Connection;

/// Versioned schema migrations, applied in order; index + 1 is the version
/// stored in `PRAGMA user_version`. Never edit a shipped entry: append.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE processor_versions (
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    limits      TEXT    NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE jobs (
    id            TEXT    NOT NULL PRIMARY KEY,
    processor     TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    params        TEXT    NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    input_bytes   INTEGER NOT NULL,
    output_bytes  INTEGER,
    content_type  TEXT,
    stats         TEXT    NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    worker        TEXT,
    lease_until   INTEGER,
    usage         TEXT,
    limits        TEXT    NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, created_at);
"#,
    "ALTER TABLE jobs ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;",
];

/// Applies the pending migrations (see [`MIGRATIONS`]) in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), MetaError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(MetaError::backend)?;
    let current: usize = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(MetaError::backend)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)
            .map_err(|e| MetaError::backend(format!("migration {}: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(MetaError::backend)?;
    }
    tx.commit().map_err(MetaError::backend)
}
