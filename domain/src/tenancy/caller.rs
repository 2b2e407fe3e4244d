//! The identity a request acts as; what it may do is decided by
//! [`crate::authorize`].

use crate::{KeyId, Role, TeamName};

/// Who is calling: a key of a team, with its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's public id (recorded on the jobs and versions it makes).
    pub key_id: KeyId,
    /// The key's team.
    pub team: TeamName,
    /// The key's role.
    pub role: Role,
}
