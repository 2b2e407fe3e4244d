//! The artifact ledger: the SHA-256 of every precompiled artifact, kept in
//! the metadata store (the truth) rather than beside the artifact.
//!
//! A precompiled artifact is native code: loading one runs it. The object
//! store (and a worker's cache directory) is writable by more parties than
//! the metadata database, so a worker loads an artifact only when its bytes
//! hash to what the ledger says its writer (the API at upload, or a worker
//! that compiled it) recorded.

use crate::meta::MetaError;
use agensium_domain::Digest;
use async_trait::async_trait;

/// SHA-256 digests of precompiled artifacts, by object key.
///
/// Invariant every adapter keeps (checked by
/// `agensium_testkit::conformance::meta_store`): `artifact_digest` answers
/// the digest last recorded for the key, and `None` for a key never
/// recorded.
#[async_trait]
pub trait ArtifactLedger: Send + Sync + 'static {
    /// Records (or replaces) the digest of the artifact stored at `key`.
    /// Call it before storing the artifact: a reader that sees the new row
    /// with the old object refuses the object and compiles, which is safe.
    async fn record_artifact(&self, key: &str, sha256: &Digest) -> Result<(), MetaError>;

    /// The digest recorded for the artifact at `key`.
    async fn artifact_digest(&self, key: &str) -> Result<Option<Digest>, MetaError>;
}
