//! The name of a worker slot: the holder of a job's lease.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One worker slot's identity, everywhere the same: the rail's consumer, the
/// holder of a job's lease, and `Job::worker`. Made of the process's name
/// and the slot's number (`host-1234-0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(String);

impl WorkerId {
    /// The identity of slot `slot` of process `process`.
    pub fn slot(process: &str, slot: usize) -> Self {
        Self(format!("{process}-{slot}"))
    }

    /// An identity read back from a store or a rail.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The identity as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for WorkerId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
