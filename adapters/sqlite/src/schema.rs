//! The SQLite schema: versioned migrations, tracked in `PRAGMA user_version`.

use agensium_ports::meta::MetaError;
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
    // Tenancy: teams, keys, processor ownership; what existed before
    // belongs to the team `default`.
    r#"
CREATE TABLE teams (
    name        TEXT    NOT NULL PRIMARY KEY,
    disabled    INTEGER NOT NULL DEFAULT 0,
    quota       TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE TABLE api_keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    team          TEXT    NOT NULL REFERENCES teams (name),
    role          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    hash          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_keys_team ON api_keys (team, created_at);
CREATE TABLE processors (
    name        TEXT    NOT NULL PRIMARY KEY,
    team        TEXT    NOT NULL REFERENCES teams (name),
    visibility  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX processors_team ON processors (team);
INSERT INTO teams (name, disabled, quota, created_at)
    SELECT 'default', 0, '{}', 0
    WHERE EXISTS (SELECT 1 FROM processor_versions) OR EXISTS (SELECT 1 FROM jobs);
INSERT INTO processors (name, team, visibility, created_at)
    SELECT name, 'default', 'private', MIN(created_at) FROM processor_versions GROUP BY name;
ALTER TABLE processor_versions ADD COLUMN uploaded_by TEXT;
ALTER TABLE processor_versions ADD COLUMN inline_safe INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN team TEXT NOT NULL DEFAULT 'default';
ALTER TABLE jobs ADD COLUMN key_id TEXT;
CREATE INDEX jobs_team ON jobs (team, status, id);
CREATE INDEX jobs_team_finished ON jobs (team, finished_at);
"#,
    // The artifact ledger (SHA-256 of every precompiled artifact).
    r#"
CREATE TABLE artifacts (
    artifact_key TEXT    NOT NULL PRIMARY KEY,
    sha256       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
"#,
    // Yanked versions, precedence keys, the `latest` pointer.
    r#"
ALTER TABLE processor_versions ADD COLUMN yanked_at INTEGER;
ALTER TABLE processor_versions ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
CREATE INDEX versions_precedence ON processor_versions (name, sort_key);
ALTER TABLE processors ADD COLUMN latest TEXT;
ALTER TABLE processors ADD COLUMN latest_key TEXT;
"#,
    // Small inputs, outputs and logs kept inline with the job.
    r#"
ALTER TABLE jobs ADD COLUMN input_data BLOB;
ALTER TABLE jobs ADD COLUMN output_data BLOB;
ALTER TABLE jobs ADD COLUMN log_data BLOB;
"#,
    // When a worker claimed the job (the order a team's running quota
    // counts by); `started_at` moves to when it passed that quota.
    "ALTER TABLE jobs ADD COLUMN claimed_at INTEGER;",
    // Webhooks: a job's callback and its delivery record; `callback_next_at`
    // is set when a delivery is due (the job ended, or a retry's time).
    r#"
ALTER TABLE jobs ADD COLUMN callback_url TEXT;
ALTER TABLE jobs ADD COLUMN callback_state TEXT;
ALTER TABLE jobs ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN callback_last TEXT;
ALTER TABLE jobs ADD COLUMN callback_at INTEGER;
ALTER TABLE jobs ADD COLUMN callback_next_at INTEGER;
CREATE INDEX jobs_callbacks_due ON jobs (callback_next_at);
ALTER TABLE teams ADD COLUMN webhook_secret TEXT;
"#,
    // The W3C trace context a job's spans continue (TraceParent).
    "ALTER TABLE jobs ADD COLUMN trace_parent TEXT;",
    // Retention: expired jobs' tombstones, the sweep's lease.
    r#"
CREATE TABLE expired_jobs (
    id          TEXT    NOT NULL PRIMARY KEY,
    team        TEXT    NOT NULL,
    expired_at  INTEGER NOT NULL
);
CREATE TABLE leases (
    name    TEXT    NOT NULL PRIMARY KEY,
    holder  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
"#,
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
