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
    /// When its publisher yanked it: no new job resolves to it (pinned or
    /// as `latest`); jobs that pinned it still run and can be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked_at: Option<DateTime<Utc>>,
}

/// A string whose byte order is the versions' precedence (the order
/// `latest` follows): releases above pre-releases, then semver precedence
/// (numeric identifiers as numbers). Stored beside each version so that the
/// newest is an index lookup. A version that is not semver sorts lowest.
pub fn precedence_key(version: &str) -> String {
    let Ok(v) = semver::Version::parse(version) else {
        return String::new();
    };
    let release = if v.pre.is_empty() { '1' } else { '0' };
    let mut key = format!("{release}{:020}.{:020}.{:020}", v.major, v.minor, v.patch);
    for part in v.pre.as_str().split('.').filter(|p| !p.is_empty()) {
        // Numeric identifiers sort below alphanumeric ones, by value.
        match part.parse::<u64>() {
            Ok(n) => key.push_str(&format!(".0{n:020}")),
            Err(_) => {
                key.push_str(".1");
                key.push_str(part);
            }
        }
    }
    key
}

impl ProcessorVersion {
    /// This version's [`precedence_key`].
    pub fn precedence_key(&self) -> String {
        precedence_key(&self.version)
    }

    /// Object-store key of a component with this digest.
    pub fn object_key(digest: &Digest) -> String {
        format!("processors/{}.wasm", digest.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::precedence_key as k;

    #[test]
    fn keys_sort_as_versions_precede() {
        let ordered = [
            "not-semver",
            "0.1.0-alpha",
            "2.0.0-alpha",
            "2.0.0-alpha.2",
            "2.0.0-alpha.10",
            "2.0.0-alpha.beta",
            "2.0.0-beta",
            "0.1.0",
            "1.2.3",
            "1.10.0",
            "10.0.0",
        ];
        for w in ordered.windows(2) {
            assert!(k(w[0]) < k(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(k("1.0.0+build.5"), k("1.0.0"));
    }
}
