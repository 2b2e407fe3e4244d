//! [`TraceParent`]: a W3C `traceparent` (version 00), checked before it
//! reaches a job row: it comes from a request header, and the caller is
//! hostile.

use crate::InvalidInput;
use serde::{Deserialize, Serialize};

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase,
/// neither id all zeros: the trace a job's spans belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceParent(String);

/// Its one length.
pub const TRACE_PARENT_LEN: usize = 55;

impl TraceParent {
    /// The header's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trace id: 32 lowercase hex digits.
    pub fn trace_id(&self) -> &str {
        &self.0[3..35]
    }
}

impl std::str::FromStr for TraceParent {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, InvalidInput> {
        let bad = || InvalidInput("traceparent: expected 00-<32 hex>-<16 hex>-<2 hex>".into());
        let parts: Vec<&str> = s.split('-').collect();
        let [version, trace, parent, flags] = parts[..] else {
            return Err(bad());
        };
        let hex = |p: &str, n: usize| {
            p.len() == n
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let zero = |p: &str| p.bytes().all(|b| b == b'0');
        let ok = version == "00"
            && hex(trace, 32)
            && hex(parent, 16)
            && hex(flags, 2)
            && !zero(trace)
            && !zero(parent);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }
}

impl TryFrom<String> for TraceParent {
    type Error = InvalidInput;

    fn try_from(s: String) -> Result<Self, InvalidInput> {
        s.parse()
    }
}

impl From<TraceParent> for String {
    fn from(t: TraceParent) -> Self {
        t.0
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_version_00_header_is_kept() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t: TraceParent = good.parse().unwrap();
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(good.len(), TRACE_PARENT_LEN);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad:?}");
        }
    }
}
