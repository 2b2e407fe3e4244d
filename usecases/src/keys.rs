//! A team's API keys: mint, list, revoke. No key acts on a key whose role
//! is above its own ([`agensium_domain::authorize`] decides).

use crate::{Refusal, Result};
use agensium_domain::{
    Action, ApiKey, Caller, KeyId, KeyRecord, MAX_KEY_NAME, Resource, Role, Team, authorize,
    now_to_the_millisecond,
};
use agensium_ports::MetaStore;

/// What a new key is to be.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Its role.
    pub role: Role,
    /// A label for listings (at most [`MAX_KEY_NAME`] bytes, no control
    /// characters).
    pub name: String,
    /// Seconds until it stops working; `None`: never.
    pub expires_in_secs: Option<u64>,
}

/// Mints a key of `team` as `new` says, if `caller` may administer the
/// team and the new key's role is not above its own; the record and the
/// key (its secret shown only now).
pub async fn mint(
    meta: &dyn MetaStore,
    caller: &Caller,
    team: &Team,
    new: NewKey,
) -> Result<(KeyRecord, ApiKey)> {
    let minted = Resource::Key {
        team: &team.name,
        role: new.role,
    };
    authorize(caller, Action::Administer, minted)
        .map_err(|d| Refusal::denied(d, || team_not_found(team)))?;
    if new.name.len() > MAX_KEY_NAME || new.name.chars().any(char::is_control) {
        return Err(Refusal::invalid(
            "invalid_name",
            format!("a key's name is at most {MAX_KEY_NAME} bytes, without control characters"),
        ));
    }
    let expires_at = expiry(new.expires_in_secs)?;
    let key = ApiKey::generate().map_err(|e| Refusal::Unavailable {
        code: "no_randomness",
        message: e.to_string(),
    })?;
    let rec = KeyRecord::new(&key, team.name.clone(), new.role, new.name, expires_at);
    meta.insert_key(&rec).await?;
    tracing::info!(team = %rec.team, key = %rec.id, role = %rec.role, by = %caller.key_id, "API key created");
    Ok((rec, key))
}

/// When a key made now with `secs` to live expires.
fn expiry(secs: Option<u64>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    match secs {
        None => Ok(None),
        Some(0) => Err(Refusal::invalid(
            "invalid_expiry",
            "expires_in_secs must be at least 1 (omit it for a key that does not expire)",
        )),
        Some(s) => i64::try_from(s)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|d| now_to_the_millisecond().checked_add_signed(d))
            .map(Some)
            .ok_or_else(|| Refusal::invalid("invalid_expiry", "expires_in_secs is too large")),
    }
}

/// Revokes `team`'s live key `raw_id` at once (on every API process within
/// the auth cache's life). A key does not revoke itself, nor a key whose
/// role is above the caller's.
pub async fn revoke(
    meta: &dyn MetaStore,
    caller: &Caller,
    team: &Team,
    raw_id: &str,
) -> Result<()> {
    let missing = || {
        Refusal::not_found(
            "key_not_found",
            format!("team {} has no live key {raw_id}", team.name),
        )
    };
    let key_id: KeyId = raw_id.parse().map_err(|_| missing())?;
    if key_id == caller.key_id {
        return Err(Refusal::conflict(
            "own_key",
            "a key cannot revoke itself; revoke it with another key of the team",
        ));
    }
    let live = meta.key_and_team(&key_id).await?;
    let role = live
        .filter(|(rec, _)| rec.team == team.name && rec.revoked_at.is_none())
        .map(|(rec, _)| rec.role)
        .ok_or_else(missing)?;
    let target = Resource::Key {
        team: &team.name,
        role,
    };
    authorize(caller, Action::Administer, target).map_err(|d| Refusal::denied(d, missing))?;
    if !meta.revoke_key(&team.name, &key_id).await? {
        return Err(missing());
    }
    tracing::info!(team = %team.name, key = %key_id, by = %caller.key_id, "API key revoked");
    Ok(())
}

/// `team`'s keys (never their secrets).
pub async fn list(meta: &dyn MetaStore, team: &Team) -> Result<Vec<KeyRecord>> {
    Ok(meta.list_keys(&team.name).await?)
}

fn team_not_found(team: &Team) -> Refusal {
    Refusal::not_found("team_not_found", format!("no team named {}", team.name))
}
