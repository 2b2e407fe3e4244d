//! The identity a request acts as, and the one place its rights are decided.

use crate::{KeyId, Ownership, Role, TeamName, Visibility};

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

impl Caller {
    /// True when the caller's role includes `needed`.
    pub fn has(&self, needed: Role) -> bool {
        self.role.includes(needed)
    }

    /// True for the operator role.
    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    /// May the caller see things (jobs, keys, usage) of `team`?
    pub fn sees_team(&self, team: &TeamName) -> bool {
        self.is_operator() || self.team == *team
    }

    /// May the caller see a processor (its versions; submit against it
    /// when it may submit at all)?
    pub fn sees_processor(&self, p: &Ownership) -> bool {
        p.visibility == Visibility::Public || self.sees_team(&p.team)
    }

    /// May the caller change a processor (add versions, change visibility)?
    pub fn publishes(&self, p: &Ownership) -> bool {
        self.sees_team(&p.team) && self.has(Role::Publisher)
    }

    /// The team a listing is limited to: `None` (every team) for operators.
    pub fn scope(&self) -> Option<&TeamName> {
        (!self.is_operator()).then_some(&self.team)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::now_to_the_millisecond;

    fn caller(team: &str, role: Role) -> Caller {
        Caller {
            key_id: "0123456789abcdef".parse().unwrap(),
            team: team.parse().unwrap(),
            role,
        }
    }

    #[test]
    fn teams_see_their_own_and_public_things() {
        let p = |vis| Ownership {
            name: "p".parse().unwrap(),
            team: "a".parse().unwrap(),
            visibility: vis,
            created_at: now_to_the_millisecond(),
            latest: None,
        };
        let (private, public) = (p(Visibility::Private), p(Visibility::Public));
        let a_reader = caller("a", Role::Reader);
        let b_admin = caller("b", Role::Admin);
        let op = caller("ops", Role::Operator);
        assert!(a_reader.sees_processor(&private) && !a_reader.publishes(&private));
        assert!(!b_admin.sees_processor(&private) && b_admin.sees_processor(&public));
        assert!(!b_admin.publishes(&public));
        assert!(op.sees_processor(&private) && op.publishes(&private));
        assert!(caller("a", Role::Publisher).publishes(&private));
        assert_eq!(op.scope(), None);
        assert_eq!(a_reader.scope(), Some(&a_reader.team));
    }
}
