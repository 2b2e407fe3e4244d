//! Metadata store on MySQL / MariaDB (mysql_async): the production truth.
//!
//! Only the connection lives here; the statements are the shared ones of
//! [`agensium_ports::sql`].

use agensium_ports::meta::MetaError;
use agensium_ports::sql::{SqlBackend, SqlMetaStore, SqlRow, SqlValue, Statement};
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Row, Value};
use std::time::Duration;

mod grants;
mod schema;
pub use grants::{BACKLOG_QUERY, WORKER_GRANTS, backlog_grant, worker_grants};
use schema::migrate;

/// The metadata store on MySQL 8 or MariaDB 10.6+.
pub type MySqlMetaStore = SqlMetaStore<MySql>;

/// A MySQL/MariaDB connection pool. Every query is parameterised.
#[derive(Clone)]
pub struct MySql {
    pool: Pool,
}

fn db(e: mysql_async::Error) -> MetaError {
    MetaError::backend(e)
}

/// Connects to `url` (`mysql://user:pass@host:port/database`), checks the
/// connection and applies pending migrations.
pub async fn connect(url: &str) -> Result<MySqlMetaStore, MetaError> {
    let store = SqlMetaStore::new(MySql::connect(url).await?);
    store.backfill_precedence().await?;
    Ok(store)
}

/// The pool: up to 32 connections, kept open while idle for a minute
/// rather than closed as soon as fewer are busy (the default closed one
/// and opened another for almost every job: 4.8 new connections per job
/// under load), and not reset when returned, which would drop their
/// prepared statements (9 prepares per job). Nothing here changes session
/// state: no transactions, session variables or temporary tables; the
/// migration lock is released explicitly.
///
/// The bounds are 2 to 32 connections unless the URL gives its own
/// (`?pool_min=1&pool_max=4`, as mysql_async reads them): a large fleet of
/// workers keeps within the server's `max_connections` that way.
fn pool_opts(constraints: PoolConstraints) -> PoolOpts {
    PoolOpts::default()
        .with_constraints(constraints)
        .with_inactive_connection_ttl(Duration::from_secs(60))
        .with_reset_connection(false)
}

/// The URL's pool bounds when it gives any, else 2 to 32.
fn constraints(url: &str, opts: &Opts) -> PoolConstraints {
    let given = url.contains("pool_min=") || url.contains("pool_max=");
    if given {
        opts.pool_opts().constraints()
    } else {
        PoolConstraints::new(2, 32).expect("2 <= 32")
    }
}

impl MySql {
    /// Connects the pool and migrates.
    async fn connect(url: &str) -> Result<Self, MetaError> {
        let opts = Opts::from_url(url)
            .map_err(|e| MetaError::backend(format!("invalid MySQL URL: {e}")))?;
        let where_ = format!(
            "{}:{}/{}",
            opts.ip_or_hostname(),
            opts.tcp_port(),
            opts.db_name().unwrap_or("")
        );
        if opts.db_name().is_none() {
            return Err(MetaError::backend(format!(
                "MySQL URL {where_} names no database"
            )));
        }
        // Connections go where the URL says: mysql_async would otherwise
        // move a 127.0.0.1 connection to the server's Unix socket, past any
        // proxy or network policy on the TCP path.
        let bounds = constraints(url, &opts);
        let opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .client_found_rows(true)
            // Every statement the store runs stays prepared on each
            // connection (about 50 distinct ones; the default keeps 32).
            .stmt_cache_size(128)
            .pool_opts(pool_opts(bounds));
        let store = Self {
            pool: Pool::new(opts),
        };
        let mut conn = tokio::time::timeout(Duration::from_secs(10), store.pool.get_conn())
            .await
            .map_err(|_| MetaError::backend(format!("connecting to MySQL at {where_}: timed out")))?
            .map_err(|e| MetaError::backend(format!("connecting to MySQL at {where_}: {e}")))?;
        migrate(&mut conn)
            .await
            .map_err(|e| MetaError::backend(format!("migrating MySQL at {where_}: {e}")))?;
        Ok(store)
    }

    /// Runs `st` while this connection holds the named lock `lock`, and
    /// releases it (or closes the connection, which releases it too).
    async fn locked(&self, lock: &str, st: Statement) -> Result<u64, MetaError> {
        let mut c = self.conn().await?;
        let got: Option<i64> = c
            .exec_first("SELECT GET_LOCK(?, 10)", (lock,))
            .await
            .map_err(db)?
            .flatten();
        if got != Some(1) {
            return Err(MetaError::backend(format!(
                "the lock {lock} was not free within 10 s"
            )));
        }
        let done = c
            .exec_drop(st.sql, params(st.params))
            .await
            .map(|()| c.affected_rows());
        if let Err(e) = c.exec_drop("DO RELEASE_LOCK(?)", (lock,)).await {
            // A pooled connection must not keep the lock: close it.
            tracing::warn!(%lock, error = %e, "releasing a named lock failed; closing its connection");
            let _ = c.disconnect().await;
        }
        done.map_err(db)
    }

    /// A connection from the pool.
    pub async fn conn(&self) -> Result<Conn, MetaError> {
        self.pool.get_conn().await.map_err(db)
    }
}

fn params(values: Vec<SqlValue>) -> Params {
    if values.is_empty() {
        return Params::Empty;
    }
    Params::Positional(
        values
            .into_iter()
            .map(|v| match v {
                SqlValue::Null => Value::NULL,
                SqlValue::Int(i) => Value::Int(i),
                SqlValue::Text(s) => Value::Bytes(s.into_bytes()),
                SqlValue::Blob(b) => Value::Bytes(b.into()),
            })
            .collect(),
    )
}

/// MySQL's number of the `binary` character set: the column holds bytes
/// (`BLOB`, `VARBINARY`), not text.
const BINARY_CHARSET: u16 = 63;

/// A row's values; bytes of binary columns stay bytes.
fn row_values(r: Row) -> Result<SqlRow, MetaError> {
    let binary: Vec<bool> = r
        .columns_ref()
        .iter()
        .map(|c| c.character_set() == BINARY_CHARSET)
        .collect();
    r.unwrap()
        .into_iter()
        .zip(binary)
        .map(|(v, binary)| match v {
            Value::Bytes(b) if binary => Ok(SqlValue::Blob(b.into())),
            v => value(v),
        })
        .collect()
}

fn value(v: Value) -> Result<SqlValue, MetaError> {
    match v {
        Value::NULL => Ok(SqlValue::Null),
        Value::Int(i) => Ok(SqlValue::Int(i)),
        Value::UInt(u) => i64::try_from(u)
            .map(SqlValue::Int)
            .map_err(|_| MetaError::Corrupt(format!("{u} is out of range"))),
        Value::Bytes(b) => String::from_utf8(b)
            .map(SqlValue::Text)
            .map_err(|e| MetaError::Corrupt(e.to_string())),
        other => Err(MetaError::Corrupt(format!("unexpected value {other:?}"))),
    }
}

#[async_trait]
impl SqlBackend for MySql {
    const INSERT_IGNORE: &'static str = "INSERT IGNORE";
    const FROM_NOTHING: &'static str = " FROM DUAL";

    async fn execute(&self, st: Statement) -> Result<u64, MetaError> {
        let mut c = self.conn().await?;
        c.exec_drop(st.sql, params(st.params)).await.map_err(db)?;
        Ok(c.affected_rows())
    }

    /// Under the server-wide named lock `lock` (`GET_LOCK`, held by this
    /// connection for the one statement): concurrent counts and inserts of
    /// one team's on every process take turns, without a transaction.
    async fn execute_exclusive(&self, lock: &str, st: Statement) -> Result<u64, MetaError> {
        // On a task of its own: a caller that goes away between the lock
        // and its release cannot leave the lock on a pooled connection.
        let (this, lock) = (self.clone(), lock.to_owned());
        tokio::spawn(async move { this.locked(&lock, st).await })
            .await
            .map_err(MetaError::backend)?
    }

    async fn query(&self, st: Statement) -> Result<Vec<SqlRow>, MetaError> {
        let rows: Vec<Row> = self
            .conn()
            .await?
            .exec(st.sql, params(st.params))
            .await
            .map_err(db)?;
        rows.into_iter().map(row_values).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agensium_testkit::testenv;

    #[test]
    fn the_pool_keeps_its_bounds_unless_the_url_gives_some() {
        let bounds = |url: &str| {
            let c = constraints(url, &Opts::from_url(url).unwrap());
            (c.min(), c.max())
        };
        assert_eq!(bounds("mysql://u@h:3306/db"), (2, 32));
        assert_eq!(bounds("mysql://u@h:3306/db?pool_min=1&pool_max=4"), (1, 4));
    }

    #[tokio::test]
    async fn conformance() {
        let Some(url) = testenv::fresh_mysql_database().await else {
            return;
        };
        let store = connect(&url).await.unwrap();
        agensium_testkit::conformance::meta_store::run(&store).await;
    }

    #[tokio::test]
    async fn concurrent_startup_migrates_once() {
        let Some(url) = testenv::fresh_mysql_database().await else {
            return;
        };
        let starts = (0..4).map(|_| connect(&url));
        for s in futures::future::join_all(starts).await {
            s.unwrap();
        }
        let store = connect(&url).await.unwrap();
        let n: Option<i64> = store
            .backend()
            .conn()
            .await
            .unwrap()
            .query_first("SELECT COUNT(*) FROM schema_migrations")
            .await
            .unwrap();
        assert_eq!(n, i64::try_from(schema::MIGRATIONS.len()).ok());
    }

    #[tokio::test]
    async fn unreachable_server_is_a_clear_error() {
        let Err(e) = connect("mysql://root@127.0.0.1:1/x").await else {
            panic!("connected to nothing")
        };
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    }
}
