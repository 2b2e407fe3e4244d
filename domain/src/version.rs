//! Processor versions.

use crate::{DeclaredLimits, Digest, KeyId, ProcessorName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One immutable, content-addressed version of a processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessorVersion {
    /// The processor's name.
    pub name: ProcessorName,
    /// The semantic version, as uploaded.
    pub version: String,
    /// sha256 of the component bytes.
    pub digest: Digest,
    /// Size of the component in bytes.
    pub size: u64,
    /// When the version was registered.
    pub created_at: DateTime<Utc>,
    /// Limits declared at upload.
    pub limits: DeclaredLimits,
    /// The key that uploaded it.
    pub uploaded_by: Option<KeyId>,
    /// Its publisher vouches that its results are safe to show inline in a
    /// browser; otherwise results are served as attachments.
    pub inline_safe: bool,
}

impl ProcessorVersion {
    /// Object-store key of a component with this digest.
    pub fn object_key(digest: &Digest) -> String {
        format!("processors/{}.wasm", digest.hex())
    }
}
