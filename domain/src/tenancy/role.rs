//! Roles: what a key may do, each including the ones below it.

use crate::InvalidInput;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A key's role. Each includes every role before it in this list; only
/// [`Role::Operator`] reaches beyond its own team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    /// Reads the team's processors and jobs.
    Reader,
    /// Submits jobs; reads, cancels and retries the team's jobs.
    Submitter,
    /// Uploads versions and changes the visibility of the team's processors.
    Publisher,
    /// Manages the team's keys.
    Admin,
    /// Cross-team: creates and disables teams, sets quotas, reads any job,
    /// reads `/metrics`.
    Operator,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 5] = [
        Role::Reader,
        Role::Submitter,
        Role::Publisher,
        Role::Admin,
        Role::Operator,
    ];

    /// The role's name as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Submitter => "submitter",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }

    /// True when this role includes `needed`.
    pub fn includes(self, needed: Role) -> bool {
        self >= needed
    }
}

impl FromStr for Role {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                InvalidInput(format!(
                    "invalid role {s:?}: expected reader, submitter, publisher, admin or operator"
                ))
            })
    }
}

impl TryFrom<String> for Role {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        r.as_str().to_owned()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_and_round_trip() {
        assert!(Role::Admin.includes(Role::Publisher));
        assert!(Role::Operator.includes(Role::Admin));
        assert!(!Role::Reader.includes(Role::Submitter));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
