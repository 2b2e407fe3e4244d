//! Object store on a local directory: the embedded default.

use crate::object_store::{ByteStream, ObjectStore, StoreError, validate_key};
use async_trait::async_trait;
use futures::StreamExt;
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// Stores each object as a file under a root directory. Writes go to a
/// temporary file first and are renamed into place, so a `put` is atomic.
#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

impl LocalDirStore {
    /// Opens (and creates) the store at `root`.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref().to_path_buf();
        tokio::fs::create_dir_all(root.join(".tmp"))
            .await
            .map_err(|e| StoreError::backend(format!("creating {}: {e}", root.display())))?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

fn not_found_or(key: &str, e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        StoreError::NotFound(key.to_owned())
    } else {
        StoreError::backend(e)
    }
}

#[async_trait]
impl ObjectStore for LocalDirStore {
    async fn put(&self, key: &str, mut body: ByteStream) -> Result<u64, StoreError> {
        let path = self.path(key)?;
        let tmp = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().to_string());
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(StoreError::backend)?;
        let written = async {
            let mut n = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(StoreError::Body)?;
                file.write_all(&chunk).await.map_err(StoreError::backend)?;
                n += chunk.len() as u64;
            }
            file.flush().await.map_err(StoreError::backend)?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(StoreError::backend)?;
            }
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(StoreError::backend)?;
            Ok(n)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StoreError> {
        let path = self.path(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| not_found_or(key, e))?;
        // A directory holds other keys; it is no object (as on S3).
        let meta = file.metadata().await.map_err(StoreError::backend)?;
        if meta.is_dir() {
            return Err(StoreError::NotFound(key.to_owned()));
        }
        Ok(Box::pin(ReaderStream::with_capacity(file, 64 * 1024)))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_dir() => Ok(None),
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Walk only the deepest folder the prefix names.
        let dir = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let start = if dir.is_empty() {
            self.root.clone()
        } else {
            self.path(dir)?
        };
        let (root, prefix) = (self.root.clone(), prefix.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            let mut stack = vec![start];
            while let Some(d) = stack.pop() {
                let entries = match std::fs::read_dir(&d) {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::backend(e)),
                };
                for entry in entries {
                    let path = entry.map_err(StoreError::backend)?.path();
                    if path == root.join(".tmp") {
                        continue;
                    }
                    if path.is_dir() {
                        stack.push(path);
                    } else if let Some(key) = path
                        .strip_prefix(&root)
                        .ok()
                        .and_then(|k| k.to_str())
                        .filter(|k| k.starts_with(&prefix))
                    {
                        keys.push(key.to_owned());
                    }
                }
            }
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(StoreError::backend)?
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}
