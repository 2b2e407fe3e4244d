//! The MySQL schema: versioned migrations, applied under a server-wide lock.

use agensium_domain::now_to_the_millisecond;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

/// Versioned schema migrations, applied in order under a server-wide lock,
/// so that processes starting together migrate once. Never edit a shipped
/// entry: append.
pub(super) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE processor_versions (
        name        VARCHAR(63)     NOT NULL,
        version     VARCHAR(255)    NOT NULL,
        digest      CHAR(71)        NOT NULL,
        size        BIGINT UNSIGNED NOT NULL,
        created_at  BIGINT          NOT NULL,
        limits      TEXT            NOT NULL,
        PRIMARY KEY (name, version)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE jobs (
        id            CHAR(36)        NOT NULL PRIMARY KEY,
        processor     VARCHAR(63)     NOT NULL,
        version       VARCHAR(255)    NOT NULL,
        digest        CHAR(71)        NOT NULL,
        status        VARCHAR(16)     NOT NULL,
        params        MEDIUMTEXT      NOT NULL,
        error_code    VARCHAR(64)     NULL,
        error_message TEXT            NULL,
        attempts      INT UNSIGNED    NOT NULL DEFAULT 0,
        input_bytes   BIGINT UNSIGNED NOT NULL,
        output_bytes  BIGINT UNSIGNED NULL,
        content_type  VARCHAR(255)    NULL,
        stats         TEXT            NOT NULL,
        created_at    BIGINT          NOT NULL,
        started_at    BIGINT          NULL,
        finished_at   BIGINT          NULL,
        worker        VARCHAR(255)    NULL,
        lease_until   BIGINT          NULL,
        `usage`       TEXT            NULL,
        limits        TEXT            NOT NULL,
        KEY jobs_status (status, id),
        KEY jobs_lease (status, lease_until)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "ALTER TABLE jobs ADD COLUMN attempt_base INT UNSIGNED NOT NULL DEFAULT 0",
    // Tenancy: teams, keys, processor ownership; what existed before
    // belongs to the team `default`.
    "CREATE TABLE teams (
        name        VARCHAR(63)  NOT NULL PRIMARY KEY,
        disabled    TINYINT      NOT NULL DEFAULT 0,
        quota       TEXT         NOT NULL,
        created_at  BIGINT       NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE api_keys (
        id            CHAR(16)     NOT NULL PRIMARY KEY,
        team          VARCHAR(63)  NOT NULL,
        role          VARCHAR(16)  NOT NULL,
        name          VARCHAR(255) NOT NULL,
        hash          CHAR(64)     NOT NULL,
        created_at    BIGINT       NOT NULL,
        expires_at    BIGINT       NULL,
        last_used_at  BIGINT       NULL,
        revoked_at    BIGINT       NULL,
        KEY api_keys_team (team, created_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE processors (
        name        VARCHAR(63)  NOT NULL PRIMARY KEY,
        team        VARCHAR(63)  NOT NULL,
        visibility  VARCHAR(16)  NOT NULL,
        created_at  BIGINT       NOT NULL,
        KEY processors_team (team)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "INSERT INTO teams (name, disabled, quota, created_at)
        SELECT 'default', 0, '{}', 0 FROM DUAL
        WHERE EXISTS (SELECT 1 FROM processor_versions) OR EXISTS (SELECT 1 FROM jobs)",
    "INSERT INTO processors (name, team, visibility, created_at)
        SELECT name, 'default', 'private', MIN(created_at) FROM processor_versions GROUP BY name",
    "ALTER TABLE processor_versions ADD COLUMN uploaded_by CHAR(16) NULL,
        ADD COLUMN inline_safe TINYINT NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN team VARCHAR(63) NOT NULL DEFAULT 'default',
        ADD COLUMN key_id CHAR(16) NULL,
        ADD KEY jobs_team (team, status, id),
        ADD KEY jobs_team_finished (team, finished_at)",
    "CREATE TABLE artifacts (
        artifact_key VARCHAR(255) NOT NULL PRIMARY KEY,
        sha256       VARCHAR(80)  NOT NULL,
        created_at   BIGINT       NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "ALTER TABLE processor_versions ADD COLUMN yanked_at BIGINT NULL,
        ADD COLUMN sort_key VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
        ADD KEY versions_precedence (name, sort_key)",
    "ALTER TABLE processors ADD COLUMN latest VARCHAR(255) NULL,
        ADD COLUMN latest_key VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NULL",
    // Small inputs, outputs and logs kept inline with the job (at most
    // `InlineLimit::MAX`, well under MEDIUMBLOB's 16 MiB and the server's
    // default max_allowed_packet).
    "ALTER TABLE jobs ADD COLUMN input_data MEDIUMBLOB NULL,
        ADD COLUMN output_data MEDIUMBLOB NULL,
        ADD COLUMN log_data MEDIUMBLOB NULL",
    // When a worker claimed the job (the order a team's running quota
    // counts by); `started_at` moves to when it passed that quota.
    "ALTER TABLE jobs ADD COLUMN claimed_at BIGINT NULL",
    // Webhooks: a job's callback and its delivery record; `callback_next_at`
    // is set when a delivery is due (the job ended, or a retry's time).
    "ALTER TABLE jobs ADD COLUMN callback_url VARCHAR(2048) NULL,
        ADD COLUMN callback_state VARCHAR(16) NULL,
        ADD COLUMN callback_attempts INT UNSIGNED NOT NULL DEFAULT 0,
        ADD COLUMN callback_last VARCHAR(255) NULL,
        ADD COLUMN callback_at BIGINT NULL,
        ADD COLUMN callback_next_at BIGINT NULL,
        ADD KEY jobs_callbacks_due (callback_next_at)",
    "ALTER TABLE teams ADD COLUMN webhook_secret CHAR(70) NULL",
    // The backlog an autoscaler reads (crate::BACKLOG_QUERY): every team's
    // jobs queued or running, counted on the `jobs_status` index. Its
    // readers get SELECT on the view alone (crate::backlog_grant); it runs
    // with its definer's rights.
    // The W3C trace context a job's spans continue (TraceParent, 55 chars).
    "ALTER TABLE jobs ADD COLUMN trace_parent VARCHAR(55) NULL",
    // Retention: the tombstones of expired jobs (GET answers 410 expired),
    // and the lease that keeps the sweep to one process.
    "CREATE TABLE expired_jobs (
        id          CHAR(36)     NOT NULL PRIMARY KEY,
        team        VARCHAR(63)  NOT NULL,
        expired_at  BIGINT       NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE leases (
        name    VARCHAR(63)  NOT NULL PRIMARY KEY,
        holder  VARCHAR(255) NOT NULL,
        expires_at BIGINT     NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE OR REPLACE VIEW backlog AS
        SELECT COUNT(*) AS jobs FROM jobs WHERE status IN ('queued', 'running')",
];

/// Applies the pending migrations (see [`MIGRATIONS`]). A schema that is
/// current is only read: an account without DDL rights (a worker's, see
/// [`crate::WORKER_GRANTS`]) starts on a database the API migrated.
pub(super) async fn migrate(conn: &mut Conn) -> Result<(), mysql_async::Error> {
    if applied(conn).await == Some(MIGRATIONS.len()) {
        return Ok(());
    }
    let got: Option<i64> = conn
        .query_first("SELECT GET_LOCK('agensium_migrations', 60)")
        .await?;
    if got != Some(1) {
        return Err(mysql_async::Error::Other(
            "could not take the migration lock in 60 s".into(),
        ));
    }
    let result = async {
        conn.query_drop(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, \
             applied_at BIGINT NOT NULL) ENGINE=InnoDB",
        )
        .await?;
        let current: Option<i64> = conn
            .query_first("SELECT MAX(version) FROM schema_migrations")
            .await?
            .flatten();
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(current.unwrap_or(0)).unwrap_or(0))
        {
            conn.query_drop(*sql).await?;
            conn.exec_drop(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (
                    i64::try_from(i + 1).unwrap_or(i64::MAX),
                    now_to_the_millisecond().timestamp_millis(),
                ),
            )
            .await?;
        }
        Ok(())
    }
    .await;
    conn.query_drop("DO RELEASE_LOCK('agensium_migrations')")
        .await?;
    result
}

/// The number of migrations applied, when it can be read.
async fn applied(conn: &mut Conn) -> Option<usize> {
    let n: Option<i64> = conn
        .query_first("SELECT MAX(version) FROM schema_migrations")
        .await
        .ok()?
        .flatten();
    usize::try_from(n?).ok()
}
