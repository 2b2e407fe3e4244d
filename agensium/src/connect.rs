//! Wiring: picks an adapter for each port from the settings and connects
//! it. The only place that knows every adapter; startup errors name the
//! backend, its address (password removed) and what failed.

use crate::settings::{BackendSettings, Secret, redact};
use agensium_ports::{Backends, LocalDirStore, MemoryRail, MetaStore, ObjectStore, Rail};
use agensium_redis::{RedisRail, RedisRailConfig};
use agensium_s3::{S3Config, S3Store};
use std::sync::Arc;
use std::time::Duration;

/// A backend could not be reached or is misconfigured.
#[derive(Debug, thiserror::Error)]
#[error("{backend} at {address}: {reason}")]
pub struct ConnectError {
    /// Which backend.
    pub backend: &'static str,
    /// Where, with any password removed.
    pub address: String,
    /// What failed.
    #[source]
    pub reason: Box<dyn std::error::Error + Send + Sync>,
}

impl ConnectError {
    fn new(
        backend: &'static str,
        address: &str,
        reason: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            backend,
            address: redact(address),
            reason: reason.into(),
        }
    }
}

/// Connects all three backends. `lease` is the lease of a ticket on a
/// shared rail.
pub async fn connect(b: &BackendSettings, lease: Duration) -> Result<Backends, ConnectError> {
    Ok(Backends {
        meta: meta(b).await?,
        rail: rail(b, lease).await?,
        objects: objects(b).await?,
    })
}

/// Connects the metadata store alone (what `agensium admin` needs).
pub async fn meta(b: &BackendSettings) -> Result<Arc<dyn MetaStore>, ConnectError> {
    let Some(url) = b.database_url.as_ref().map(Secret::expose) else {
        let path = b.data_dir.join("agensium.db");
        let at = path.display().to_string();
        private_dir(&b.data_dir).map_err(|e| {
            ConnectError::new("data directory", &b.data_dir.display().to_string(), e)
        })?;
        let store = agensium_sqlite::open(&path).await;
        return Ok(Arc::new(store.map_err(|e| {
            ConnectError::new("SQLite metadata store", &at, e)
        })?));
    };
    if url.starts_with("mysql://") {
        let store = agensium_mysql::connect(url).await;
        Ok(Arc::new(store.map_err(|e| {
            ConnectError::new("MySQL metadata store", url, e)
        })?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        let store = agensium_sqlite::open(path).await;
        Ok(Arc::new(store.map_err(|e| {
            ConnectError::new("SQLite metadata store", url, e)
        })?))
    } else {
        Err(ConnectError::new(
            "metadata store",
            url,
            "expected a mysql:// or sqlite:// URL",
        ))
    }
}

async fn rail(b: &BackendSettings, lease: Duration) -> Result<Arc<dyn Rail>, ConnectError> {
    let Some(url) = b.redis_url.as_ref().map(Secret::expose) else {
        return Ok(Arc::new(MemoryRail::new()));
    };
    let cfg = RedisRailConfig {
        url: url.to_owned(),
        prefix: b.redis_prefix.clone(),
        lease,
    };
    let rail = RedisRail::connect(cfg).await;
    Ok(Arc::new(
        rail.map_err(|e| ConnectError::new("Redis rail", url, e))?,
    ))
}

async fn objects(b: &BackendSettings) -> Result<Arc<dyn ObjectStore>, ConnectError> {
    let Some(bucket) = &b.s3_bucket else {
        let dir = b.data_dir.join("objects");
        let store = LocalDirStore::open(&dir).await;
        let at = dir.display().to_string();
        return Ok(Arc::new(
            store.map_err(|e| ConnectError::new("local object store", &at, e))?,
        ));
    };
    let cfg = S3Config {
        endpoint: b.s3_endpoint.clone(),
        region: b.s3_region.clone(),
        ..S3Config::new(bucket.clone())
    };
    let at = format!(
        "{} bucket {bucket}",
        cfg.endpoint.as_deref().unwrap_or("AWS S3")
    );
    let store = S3Store::connect(cfg).await;
    Ok(Arc::new(store.map_err(|e| {
        ConnectError::new("S3 object store", &at, e)
    })?))
}

/// Creates the data directory (and its parents) if missing, mode 0700: it
/// holds the metadata, every object and the admin key.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[tokio::test]
    async fn errors_name_the_backend_and_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Settings::embedded(dir.path()).backends;
        b.database_url = Some(Secret::new("postgres://x"));
        let e = connect(&b, Duration::from_secs(30)).await.err().unwrap();
        assert_eq!(e.backend, "metadata store");
        b.database_url = None;
        b.redis_url = Some(Secret::new("redis://user:pw@127.0.0.1:1"));
        let e = connect(&b, Duration::from_secs(30))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("Redis rail at redis://user:***@127.0.0.1:1:"),
            "{e}"
        );
    }
}
