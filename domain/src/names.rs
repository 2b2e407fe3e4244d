//! Processor names and versions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a name, version, digest or id failed to parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// What [`is_slug`] accepts, as an ECMA-262 pattern (for the OpenAPI
/// document): processor and team names.
pub const SLUG_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,62}$";

/// The longest processor or team name.
pub const MAX_SLUG: usize = 63;

/// True for `[a-z0-9][a-z0-9-]{0,62}`: processor and team names.
fn is_slug(s: &str) -> bool {
    (1..=MAX_SLUG).contains(&s.len())
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'))
}

/// A name type of `[a-z0-9][a-z0-9-]{0,62}`: parsed once, then trusted.
macro_rules! slug {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The name as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if is_slug(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidInput(format!(
                        concat!("invalid ", $what, " name {:?}: expected [a-z0-9][a-z0-9-]{{0,62}}"),
                        s
                    )))
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug!(
    /// A processor's name: `[a-z0-9][a-z0-9-]{0,62}`.
    ProcessorName,
    "processor"
);

slug!(
    /// A team's name: `[a-z0-9][a-z0-9-]{0,62}`.
    TeamName,
    "team"
);

impl TeamName {
    /// The team every embedded installation starts with.
    pub fn default_team() -> Self {
        Self("default".into())
    }
}

/// The longest version string accepted (what the stores keep).
pub const MAX_VERSION: usize = 128;

/// What [`parse_version`] accepts, as an ECMA-262 pattern (for the OpenAPI
/// document): semver 2.0.0's own.
pub const VERSION_PATTERN: &str = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$";

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
    fn the_stated_slug_pattern_is_the_rule() {
        let rest = MAX_SLUG - 1;
        assert_eq!(SLUG_PATTERN, format!("^[a-z0-9][a-z0-9-]{{0,{rest}}}$"));
    }

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
