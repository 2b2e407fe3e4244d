//! Metadata store on SQLite: the embedded default.

use agensium_ports::meta::MetaError;
use agensium_ports::sql::{SqlBackend, SqlMetaStore, SqlRow, SqlValue, Statement};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use std::path::Path;
use std::sync::{Arc, Mutex};

mod schema;
use schema::migrate;

/// The metadata store on a SQLite file (or in memory): the embedded default.
pub type SqliteMetaStore = SqlMetaStore<Sqlite>;

/// A SQLite database. Calls run on tokio's blocking pool; one connection,
/// serialised by a mutex, in WAL mode.
#[derive(Clone)]
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

/// Opens (creating if needed) the database at `path` and migrates it.
pub async fn open(path: impl AsRef<Path>) -> Result<SqliteMetaStore, MetaError> {
    let path = path.as_ref().to_path_buf();
    let store = tokio::task::spawn_blocking(move || {
        let conn = Connection::open(&path)
            .map_err(|e| MetaError::backend(format!("opening {}: {e}", path.display())))?;
        init(conn)
    })
    .await
    .map_err(MetaError::backend)??;
    store.backfill_precedence().await?;
    Ok(store)
}

/// A private in-memory database, for tests.
pub fn in_memory() -> Result<SqliteMetaStore, MetaError> {
    init(Connection::open_in_memory().map_err(MetaError::backend)?)
}

fn init(mut conn: Connection) -> Result<SqliteMetaStore, MetaError> {
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(MetaError::backend)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(MetaError::backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(MetaError::backend)?;
    migrate(&mut conn)?;
    // Every statement of `SqlMetaStore` stays prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(SqlMetaStore::new(Sqlite {
        conn: Arc::new(Mutex::new(conn)),
    }))
}

impl Sqlite {
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

/// A statement's parameter as rusqlite binds it.
struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn value(v: ValueRef<'_>) -> Result<SqlValue, MetaError> {
    match v {
        ValueRef::Null => Ok(SqlValue::Null),
        ValueRef::Integer(i) => Ok(SqlValue::Int(i)),
        ValueRef::Text(t) => String::from_utf8(t.to_vec())
            .map(SqlValue::Text)
            .map_err(|e| MetaError::Corrupt(e.to_string())),
        ValueRef::Blob(b) => Ok(SqlValue::Blob(bytes::Bytes::copy_from_slice(b))),
        other => Err(MetaError::Corrupt(format!(
            "unexpected {:?} value",
            other.data_type()
        ))),
    }
}

fn query(conn: &Connection, st: &Statement) -> Result<Vec<SqlRow>, MetaError> {
    let mut stmt = conn.prepare_cached(&st.sql).map_err(db)?;
    let n = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(st.params.iter().map(Param)))
        .map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let row = (0..n)
            .map(|i| value(r.get_ref(i).map_err(db)?))
            .collect::<Result<SqlRow, MetaError>>()?;
        out.push(row);
    }
    Ok(out)
}

#[async_trait]
impl SqlBackend for Sqlite {
    const INSERT_IGNORE: &'static str = "INSERT OR IGNORE";
    const FROM_NOTHING: &'static str = "";

    async fn execute(&self, st: Statement) -> Result<u64, MetaError> {
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(&st.sql).map_err(db)?;
            let n = stmt
                .execute(rusqlite::params_from_iter(st.params.iter().map(Param)))
                .map_err(db)?;
            Ok(n as u64)
        })
        .await
    }

    async fn query(&self, st: Statement) -> Result<Vec<SqlRow>, MetaError> {
        self.with(move |conn| query(conn, &st)).await
    }
}
