//! Teams, their quotas, and who owns a processor name.

use crate::{InvalidInput, ProcessorName, TeamName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A team's quotas; `None` is "no quota of the team's own" (the operator's
/// ceilings still apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Jobs the team may have queued at once (submit answers 429 beyond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queued: Option<u32>,
    /// Jobs of the team that run at once across the fleet; a worker that
    /// starts one more gives it back to wait for its turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<u32>,
    /// Largest input of one job, in bytes (capped by the operator's ceiling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_bytes: Option<u64>,
    /// Seconds a finished job (its row, input, output and log) is kept;
    /// unset: the operator's `AGENSIUM_RETENTION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_secs: Option<u64>,
}

/// A team: the unit that owns processors, jobs and keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// The team's name.
    pub name: TeamName,
    /// A disabled team's keys are refused.
    pub disabled: bool,
    /// Its quotas.
    pub quota: Quota,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Who may see a processor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Visibility {
    /// The owner team only.
    #[default]
    Private,
    /// Any team may read its versions and submit jobs against it.
    Public,
}

impl Visibility {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }
}

impl FromStr for Visibility {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(Self::Private),
            "public" => Ok(Self::Public),
            _ => Err(InvalidInput(format!(
                "invalid visibility {s:?}: expected private or public"
            ))),
        }
    }
}

impl TryFrom<String> for Visibility {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Visibility> for String {
    fn from(v: Visibility) -> String {
        v.as_str().to_owned()
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A processor name and the team that registered it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// The processor.
    pub name: ProcessorName,
    /// The team that owns the name; only its publishers add versions.
    pub team: TeamName,
    /// Who else may see it.
    pub visibility: Visibility,
    /// When the name was claimed.
    pub created_at: DateTime<Utc>,
    /// The newest version that is not yanked (by [`crate::precedence_key`]):
    /// a pointer kept by the metadata store as versions are added and
    /// yanked, so resolving `latest` reads one row.
    pub latest: Option<String>,
}
