//! Choosing and connecting the three backends from configuration.

use crate::{
    Backends, LocalDirStore, MemoryRail, MySqlMetaStore, RedisRail, RedisRailConfig, S3Config,
    S3Store, SqliteMetaStore,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Which backends a process uses. Unset ones fall back to the embedded
/// adapters under `data_dir`.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// `mysql://user:pass@host:port/db` or `sqlite://path`; unset:
    /// `<data_dir>/agensium.db`.
    pub database_url: Option<String>,
    /// `redis://host:port`; unset: an in-process rail (single process only).
    pub redis_url: Option<String>,
    /// Key prefix on Redis.
    pub redis_prefix: String,
    /// S3 settings; unset: `<data_dir>/objects`.
    pub s3: Option<S3Config>,
    /// Directory of the embedded backends.
    pub data_dir: PathBuf,
    /// Lease of a delivered ticket on the Redis rail.
    pub lease: Duration,
}

impl BackendConfig {
    /// Everything embedded under `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            database_url: None,
            redis_url: None,
            redis_prefix: "agensium".into(),
            s3: None,
            data_dir: data_dir.into(),
            lease: Duration::from_secs(30),
        }
    }

    /// True when every backend can be shared by several processes.
    pub fn is_shared(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("mysql://"))
            && self.redis_url.is_some()
            && self.s3.is_some()
    }

    /// Connects all three, failing with an error that names the backend, its
    /// address (without credentials) and what went wrong.
    pub async fn connect(&self) -> Result<Backends, ConnectError> {
        let meta: Arc<dyn crate::MetaStore> = match self.database_url.as_deref() {
            Some(url) if url.starts_with("mysql://") => Arc::new(
                MySqlMetaStore::connect(url)
                    .await
                    .map_err(|e| ConnectError::new("MySQL metadata store", url, e))?,
            ),
            Some(url) if url.starts_with("sqlite://") => {
                let path = &url["sqlite://".len()..];
                Arc::new(
                    SqliteMetaStore::open(path)
                        .await
                        .map_err(|e| ConnectError::new("SQLite metadata store", url, e))?,
                )
            }
            Some(url) => {
                return Err(ConnectError::new(
                    "metadata store",
                    url,
                    "expected a mysql:// or sqlite:// URL",
                ));
            }
            None => {
                let path = self.data_dir.join("agensium.db");
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        ConnectError::new("data directory", &dir.display().to_string(), e)
                    })?;
                }
                Arc::new(SqliteMetaStore::open(&path).await.map_err(|e| {
                    ConnectError::new("SQLite metadata store", &path.display().to_string(), e)
                })?)
            }
        };
        let rail: Arc<dyn crate::Rail> = match &self.redis_url {
            Some(url) => {
                let cfg = RedisRailConfig {
                    url: url.clone(),
                    prefix: self.redis_prefix.clone(),
                    lease: self.lease,
                };
                Arc::new(
                    RedisRail::connect(cfg)
                        .await
                        .map_err(|e| ConnectError::new("Redis rail", url, e))?,
                )
            }
            None => Arc::new(MemoryRail::new()),
        };
        let objects: Arc<dyn crate::ObjectStore> = match &self.s3 {
            Some(cfg) => {
                let at = format!(
                    "{} bucket {}",
                    cfg.endpoint.as_deref().unwrap_or("AWS S3"),
                    cfg.bucket
                );
                Arc::new(
                    S3Store::connect(cfg.clone())
                        .await
                        .map_err(|e| ConnectError::new("S3 object store", &at, e))?,
                )
            }
            None => {
                let dir = self.data_dir.join("objects");
                Arc::new(LocalDirStore::open(&dir).await.map_err(|e| {
                    ConnectError::new("local object store", &dir.display().to_string(), e)
                })?)
            }
        };
        Ok(Backends {
            meta,
            objects,
            rail,
        })
    }
}

/// A backend could not be reached or is misconfigured.
#[derive(Debug, thiserror::Error)]
#[error("{backend} at {address}: {reason}")]
pub struct ConnectError {
    /// Which backend.
    pub backend: &'static str,
    /// Where, with any password removed.
    pub address: String,
    /// What failed.
    pub reason: String,
}

impl ConnectError {
    fn new(backend: &'static str, address: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            backend,
            address: redact(address),
            reason: reason.to_string(),
        }
    }
}

/// Removes the password of a `scheme://user:password@host` URL.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("mysql://root:secret@db:3306/x"),
            "mysql://root:***@db:3306/x"
        );
        assert_eq!(redact("mysql://root@db/x"), "mysql://root@db/x");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }

    #[tokio::test]
    async fn errors_name_the_backend_and_address() {
        let mut cfg = BackendConfig::embedded(tempfile::tempdir().unwrap().path());
        cfg.database_url = Some("postgres://x".into());
        let e = cfg.connect().await.err().unwrap();
        assert_eq!(e.backend, "metadata store");
        cfg.database_url = None;
        cfg.redis_url = Some("redis://user:pw@127.0.0.1:1".into());
        let e = cfg.connect().await.err().unwrap().to_string();
        assert!(
            e.starts_with("Redis rail at redis://user:***@127.0.0.1:1:"),
            "{e}"
        );
    }
}
