//! The one place that decides what a caller may see and do: [`authorize`].
//!
//! Every use case asks it, with what it is about to do ([`Action`]) and
//! what to ([`Resource`]). It holds the two rules of tenancy and nothing
//! else compares roles:
//!
//! * **visibility**: a caller sees its own team's things and public
//!   processors; an operator sees everything. What a caller may not see is
//!   [`Denied::Hidden`], which the API answers exactly like something
//!   missing (404);
//! * **role order**: each action needs a role, and roles nest
//!   ([`Role::includes`]). A key may mint, revoke or change only keys whose
//!   role is not above its own. What a caller sees but may not do is
//!   [`Denied::Forbidden`] (403).

use crate::{Caller, Ownership, Role, TeamName, Visibility};

/// What a caller is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a thing (a job, a processor and its versions, a team).
    Read,
    /// Submit a job against a processor.
    Submit,
    /// Cancel or retry a job.
    Control,
    /// Add a version to a processor, yank one, change its visibility.
    Publish,
    /// Mint, list, revoke or rotate keys; read the team's usage report;
    /// read or rotate its webhook secret.
    Administer,
    /// Create, disable or list teams, set quotas, read `/metrics`.
    Operate,
}

impl Action {
    /// The lowest role that may do this.
    pub fn needs(self) -> Role {
        match self {
            Action::Read => Role::Reader,
            Action::Submit | Action::Control => Role::Submitter,
            Action::Publish => Role::Publisher,
            Action::Administer => Role::Admin,
            Action::Operate => Role::Operator,
        }
    }

    /// True for actions that other teams may take on a public processor.
    fn open_to_all(self) -> bool {
        matches!(self, Action::Read | Action::Submit)
    }
}

/// What an action is taken on.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A team and the things that carry its name (jobs, usage, secrets).
    Team(&'a TeamName),
    /// A processor, as its ownership row says.
    Processor(&'a Ownership),
    /// A key of `team` whose role is `role` (existing, or to be minted).
    Key {
        /// The key's team.
        team: &'a TeamName,
        /// The key's role.
        role: Role,
    },
    /// The whole installation (teams, quotas, metrics).
    Fleet,
}

/// Why a caller may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The caller may not see the resource: answer as if it did not exist.
    #[error("not visible to this key")]
    Hidden,
    /// The caller sees the resource but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
}

/// May `caller` take `action` on `resource`?
pub fn authorize(caller: &Caller, action: Action, resource: Resource<'_>) -> Result<(), Denied> {
    let owns = match resource {
        Resource::Team(team) | Resource::Key { team, .. } => sees_team(caller, team),
        Resource::Processor(p) => sees_team(caller, &p.team),
        Resource::Fleet => true,
    };
    let sees =
        owns || matches!(resource, Resource::Processor(p) if p.visibility == Visibility::Public);
    if !sees {
        return Err(Denied::Hidden);
    }
    if !owns && !action.open_to_all() {
        return Err(Denied::Forbidden(
            "only the team that owns this processor may change it".into(),
        ));
    }
    let needed = action.needs();
    if !caller.role.includes(needed) {
        return Err(Denied::Forbidden(format!(
            "this needs the {needed} role; the key has {}",
            caller.role
        )));
    }
    match resource {
        Resource::Key { role, .. } if !caller.role.includes(role) => {
            Err(Denied::Forbidden(format!(
                "a {} key may not act on a key whose role ({role}) is above its own",
                caller.role
            )))
        }
        _ => Ok(()),
    }
}

/// True for callers that run the installation (operators): they see every
/// team, and the edge keeps capacity for them beyond every tenant's share.
pub fn operates(caller: &Caller) -> bool {
    authorize(caller, Action::Operate, Resource::Fleet).is_ok()
}

/// The team a listing is limited to: `None` (every team) for operators.
pub fn scope(caller: &Caller) -> Option<&TeamName> {
    (caller.role != Role::Operator).then_some(&caller.team)
}

/// May `caller` see the things of `team` (its jobs, keys, usage)?
pub fn sees_team(caller: &Caller, team: &TeamName) -> bool {
    scope(caller).is_none_or(|own| own == team)
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

    fn processor(vis: Visibility) -> Ownership {
        Ownership {
            name: "p".parse().unwrap(),
            team: "a".parse().unwrap(),
            visibility: vis,
            created_at: now_to_the_millisecond(),
            latest: None,
        }
    }

    #[test]
    fn teams_see_their_own_and_public_things() {
        let (private, public) = (
            processor(Visibility::Private),
            processor(Visibility::Public),
        );
        let a_reader = caller("a", Role::Reader);
        let b_admin = caller("b", Role::Admin);
        let op = caller("ops", Role::Operator);
        let ok = |c: &Caller, a, r| authorize(c, a, r).is_ok();
        assert!(ok(&a_reader, Action::Read, Resource::Processor(&private)));
        assert!(!ok(
            &a_reader,
            Action::Publish,
            Resource::Processor(&private)
        ));
        assert_eq!(
            authorize(&b_admin, Action::Read, Resource::Processor(&private)),
            Err(Denied::Hidden)
        );
        assert!(ok(&b_admin, Action::Submit, Resource::Processor(&public)));
        assert!(matches!(
            authorize(&b_admin, Action::Publish, Resource::Processor(&public)),
            Err(Denied::Forbidden(_))
        ));
        assert!(ok(&op, Action::Read, Resource::Processor(&private)));
        assert!(ok(&op, Action::Publish, Resource::Processor(&private)));
        assert!(ok(
            &caller("a", Role::Publisher),
            Action::Publish,
            Resource::Processor(&private)
        ));
        assert_eq!(scope(&op), None);
        assert_eq!(scope(&a_reader), Some(&a_reader.team));
    }

    #[test]
    fn other_teams_are_hidden_and_roles_are_needed() {
        let team: TeamName = "a".parse().unwrap();
        let b_admin = caller("b", Role::Admin);
        assert_eq!(
            authorize(&b_admin, Action::Read, Resource::Team(&team)),
            Err(Denied::Hidden)
        );
        let a_submitter = caller("a", Role::Submitter);
        assert!(authorize(&a_submitter, Action::Control, Resource::Team(&team)).is_ok());
        assert!(authorize(&a_submitter, Action::Administer, Resource::Team(&team)).is_err());
        assert!(authorize(&caller("a", Role::Admin), Action::Operate, Resource::Fleet).is_err());
        assert!(
            authorize(
                &caller("a", Role::Operator),
                Action::Operate,
                Resource::Fleet
            )
            .is_ok()
        );
    }

    #[test]
    fn no_key_acts_on_a_key_above_its_own_role() {
        let team: TeamName = "ops".parse().unwrap();
        let admin = caller("ops", Role::Admin);
        for role in Role::ALL {
            let got = authorize(
                &admin,
                Action::Administer,
                Resource::Key { team: &team, role },
            );
            assert_eq!(got.is_ok(), role <= Role::Admin, "{role}");
        }
        let op = caller("ops", Role::Operator);
        let other: TeamName = "b".parse().unwrap();
        for role in Role::ALL {
            let key = Resource::Key { team: &other, role };
            assert!(authorize(&op, Action::Administer, key).is_ok(), "{role}");
        }
    }
}
