//! Loading processors by digest, fastest source first: memory, the local
//! artifact cache, the precompiled artifact in the object store, and only
//! then compiling the component (which also fills both caches).
//!
//! An artifact is native code. Neither cache is trusted: an artifact is
//! loaded only when its bytes hash to the SHA-256 the artifact ledger (the
//! metadata store) recorded for its key; anything else is refused, counted
//! (`agensium_artifacts_rejected_total`) and logged, and the component,
//! whose own digest is checked, is compiled instead.

use super::{Metering, Processor, Runtime, ValidateError};
use agensium_domain::{Digest, ProcessorVersion};
use agensium_ports::object_store::{collect, once};
use agensium_ports::{ArtifactLedger, MetaError, ObjectStore, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Largest component or artifact a worker loads.
pub(crate) const MAX_OBJECT_BYTES: usize = 512 << 20;

/// Artifacts refused because their bytes did not match the ledger, by
/// `source` (`local`, `stored`).
pub const ARTIFACTS_REJECTED_TOTAL: &str = "agensium_artifacts_rejected_total";

/// Where a processor came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Already loaded in this process.
    Memory,
    /// This machine's artifact cache (deserialized).
    LocalArtifact,
    /// The precompiled artifact stored at upload (downloaded, deserialized).
    StoredArtifact,
    /// Compiled from the component (no usable artifact).
    Compiled,
}

/// Why a processor could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The object store failed; worth retrying.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The metadata store (the artifact ledger) failed; worth retrying.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The component is not in the object store.
    #[error("processor binary {0} is not in the object store")]
    Missing(Digest),
    /// The stored component does not match its digest.
    #[error("stored processor binary does not match {0}")]
    Corrupt(Digest),
    /// The component is not a valid processor.
    #[error(transparent)]
    Invalid(#[from] ValidateError),
}

/// One processor, loaded once however many jobs ask for it at the same time.
type Cell = Arc<OnceCell<Processor>>;

/// Per-process cache of loaded processors; each digest loads at most once.
pub struct Loader {
    runtime: Arc<Runtime>,
    objects: Arc<dyn ObjectStore>,
    ledger: Arc<dyn ArtifactLedger>,
    cache_dir: PathBuf,
    cells: Mutex<HashMap<(Digest, Metering), Cell>>,
}

impl Loader {
    /// A loader keeping artifacts under `cache_dir`, trusting those whose
    /// digest `ledger` recorded.
    pub fn new(
        runtime: Arc<Runtime>,
        objects: Arc<dyn ObjectStore>,
        ledger: Arc<dyn ArtifactLedger>,
        cache_dir: PathBuf,
    ) -> Self {
        Self {
            runtime,
            objects,
            ledger,
            cache_dir,
            cells: Mutex::default(),
        }
    }

    /// The processor of `digest`, where it came from and how long loading took.
    pub async fn get(
        &self,
        digest: &Digest,
        metering: Metering,
    ) -> Result<(Processor, Source, Duration), LoadError> {
        let t = Instant::now();
        let cell = self
            .cells
            .lock()
            .expect("loader lock")
            .entry((digest.clone(), metering))
            .or_default()
            .clone();
        let mut source = Source::Memory;
        let p = cell
            .get_or_try_init(|| async {
                let (p, s) = self.load(digest, metering).await?;
                source = s;
                Ok::<_, LoadError>(p)
            })
            .await?
            .clone();
        Ok((p, source, t.elapsed()))
    }

    async fn load(
        &self,
        digest: &Digest,
        metering: Metering,
    ) -> Result<(Processor, Source), LoadError> {
        let key = self.runtime.artifact_key(digest, metering)?;
        let local = self.cache_dir.join(key.replace('/', "-"));
        if let Some(want) = self.ledger.artifact_digest(&key).await? {
            if let Some(p) = self.cached(&local, &want, metering).await {
                return Ok((p, Source::LocalArtifact));
            }
            if let Some(p) = self.stored(&key, &local, &want, metering).await? {
                return Ok((p, Source::StoredArtifact));
            }
        }
        let p = self.compile(digest, &key, &local, metering).await?;
        Ok((p, Source::Compiled))
    }

    /// The processor from this machine's cache, when the file is there,
    /// matches the ledger and loads.
    async fn cached(&self, path: &Path, want: &Digest, metering: Metering) -> Option<Processor> {
        let bytes = tokio::fs::read(path).await.ok()?;
        let loaded = match verified(&bytes, want, "local") {
            Ok(()) => self.deserialize(bytes, metering).await,
            Err(e) => Err(e),
        };
        match loaded {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "dropping a cached artifact");
                let _ = tokio::fs::remove_file(path).await;
                None
            }
        }
    }

    /// The processor from the stored artifact, when it exists, matches the
    /// ledger and loads (then it is cached on this machine too).
    async fn stored(
        &self,
        key: &str,
        local: &Path,
        want: &Digest,
        metering: Metering,
    ) -> Result<Option<Processor>, LoadError> {
        let body = match self.objects.get(key).await {
            Ok(body) => body,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bytes = collect(body, MAX_OBJECT_BYTES)
            .await
            .map_err(StoreError::backend)?;
        if let Err(e) = verified(&bytes, want, "stored") {
            tracing::error!(%key, error = %e, "REFUSED a stored artifact that does not match the ledger; compiling the component instead");
            return Ok(None);
        }
        self.write_local(local, &bytes).await;
        match self.deserialize(bytes, metering).await {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                tracing::warn!(%key, error = %e, "stored artifact unusable; compiling");
                Ok(None)
            }
        }
    }

    /// Compiles the component (its digest checked), records the artifact's
    /// digest in the ledger, then stores and caches the artifact.
    async fn compile(
        &self,
        digest: &Digest,
        key: &str,
        local: &Path,
        metering: Metering,
    ) -> Result<Processor, LoadError> {
        let body = match self
            .objects
            .get(&ProcessorVersion::object_key(digest))
            .await
        {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => return Err(LoadError::Missing(digest.clone())),
            Err(e) => return Err(e.into()),
        };
        let bytes = collect(body, MAX_OBJECT_BYTES)
            .await
            .map_err(StoreError::backend)?;
        if Digest::of(&bytes) != *digest {
            return Err(LoadError::Corrupt(digest.clone()));
        }
        let rt = self.runtime.clone();
        let (p, artifact) = tokio::task::spawn_blocking(move || rt.precompile(&bytes, metering))
            .await
            .map_err(|e| ValidateError::Invalid(format!("compiler crashed: {e}")))??;
        tracing::info!(%digest, "compiled a processor that had no usable artifact");
        self.ledger
            .record_artifact(key, &Digest::of(&artifact))
            .await?;
        self.write_local(local, &artifact).await;
        if let Err(e) = self.objects.put(key, once(artifact)).await {
            tracing::warn!(%key, error = %e, "storing the artifact failed");
        }
        Ok(p)
    }

    async fn deserialize(
        &self,
        bytes: Vec<u8>,
        metering: Metering,
    ) -> Result<Processor, ValidateError> {
        let rt = self.runtime.clone();
        tokio::task::spawn_blocking(move || rt.load_artifact(&bytes, metering))
            .await
            .map_err(|e| ValidateError::Invalid(format!("loader crashed: {e}")))?
    }

    /// Writes atomically (temp file + rename); a failure only costs speed.
    async fn write_local(&self, path: &Path, bytes: &[u8]) {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = async {
            tokio::fs::create_dir_all(&self.cache_dir).await?;
            tokio::fs::write(&tmp, bytes).await?;
            tokio::fs::rename(&tmp, path).await
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "caching the artifact locally failed");
            let _ = tokio::fs::remove_file(&tmp).await;
        }
    }
}

/// Checks `bytes` against the ledger's digest; a mismatch is counted.
fn verified(bytes: &[u8], want: &Digest, source: &'static str) -> Result<(), ValidateError> {
    let got = Digest::of(bytes);
    if got == *want {
        return Ok(());
    }
    metrics::counter!(ARTIFACTS_REJECTED_TOTAL, "source" => source).increment(1);
    Err(ValidateError::Invalid(format!(
        "artifact digest {got} does not match the ledger's {want}"
    )))
}
