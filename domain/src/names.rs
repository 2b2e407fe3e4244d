//! Processor names and versions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a name, version, digest or id failed to parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// A processor's name: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcessorName(String);

impl ProcessorName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True for `[a-z0-9][a-z0-9-]{0,62}`: processor and team names.
fn is_slug(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'))
}

impl FromStr for ProcessorName {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_slug(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput(format!(
                "invalid processor name {s:?}: expected [a-z0-9][a-z0-9-]{{0,62}}"
            )))
        }
    }
}

impl TryFrom<String> for ProcessorName {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProcessorName> for String {
    fn from(n: ProcessorName) -> String {
        n.0
    }
}

impl fmt::Display for ProcessorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team's name: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TeamName(String);

impl TeamName {
    /// The team every embedded installation starts with.
    pub fn default_team() -> Self {
        Self("default".into())
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TeamName {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_slug(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput(format!(
                "invalid team name {s:?}: expected [a-z0-9][a-z0-9-]{{0,62}}"
            )))
        }
    }
}

impl TryFrom<String> for TeamName {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TeamName> for String {
    fn from(n: TeamName) -> String {
        n.0
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest version string accepted (what the stores keep).
pub const MAX_VERSION: usize = 128;

/// Parses a semantic version (`1.2.3`, `1.0.0-rc.1`), with a clear error.
pub fn parse_version(s: &str) -> Result<semver::Version, InvalidInput> {
    if s.len() > MAX_VERSION {
        return Err(InvalidInput(format!(
            "invalid version: longer than {MAX_VERSION} bytes"
        )));
    }
    semver::Version::parse(s).map_err(|e| {
        InvalidInput(format!(
            "invalid version {s:?}: {e} (expected semver, e.g. 1.0.0)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!("wordcount".parse::<ProcessorName>().is_ok());
        assert!("a".parse::<ProcessorName>().is_ok());
        assert!("csv-to-jsonl".parse::<ProcessorName>().is_ok());
        assert!("-x".parse::<ProcessorName>().is_err());
        assert!("Upper".parse::<ProcessorName>().is_err());
        assert!("".parse::<ProcessorName>().is_err());
        assert!("a_b".parse::<ProcessorName>().is_err());
        assert!("a".repeat(63).parse::<ProcessorName>().is_ok());
        assert!("a".repeat(64).parse::<ProcessorName>().is_err());
        assert!("team-1".parse::<TeamName>().is_ok());
        assert!("Team".parse::<TeamName>().is_err());
    }

    #[test]
    fn versions() {
        assert!(parse_version("1.0.0").is_ok());
        assert!(parse_version("1.0").is_err());
        assert!(parse_version(&format!("1.0.0-{}", "a".repeat(200))).is_err());
    }
}
