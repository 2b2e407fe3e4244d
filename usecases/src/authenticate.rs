//! Who a presented API key is: its record and team as stored (through
//! whatever cache the caller's store keeps), refused when unknown, wrong,
//! revoked, expired or of a disabled team. A use is recorded at most once
//! a minute per key, off the request's path.

use crate::{Refusal, Result};
use agensium_domain::{ApiKey, KeyRecord, KeyRefusal, Team, now_to_the_millisecond};
use agensium_ports::MetaStore;
use std::sync::Arc;

/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// The key's record and team, when `key` may act now.
pub async fn authenticate(meta: &Arc<dyn MetaStore>, key: &ApiKey) -> Result<(KeyRecord, Team)> {
    let refused = |why: String| Refusal::Unauthenticated(why);
    let Some((rec, team)) = meta.key_and_team(key.id()).await? else {
        return Err(refused("unknown API key".into()));
    };
    let now = now_to_the_millisecond();
    match rec.check(key, now) {
        Ok(true) => {}
        Ok(false) => return Err(refused("unknown API key".into())),
        Err(e @ (KeyRefusal::Revoked | KeyRefusal::Expired)) => return Err(refused(e.to_string())),
    }
    if team.disabled {
        return Err(refused(format!("the team {} is disabled", team.name)));
    }
    if rec.last_used_at.is_none_or(|t| t < now - TOUCH_EVERY) {
        let (meta, id) = (meta.clone(), rec.id.clone());
        // A failure only costs accuracy.
        tokio::spawn(async move {
            if let Err(e) = meta.touch_key(&id, now, now - TOUCH_EVERY).await {
                tracing::debug!(key = %id, error = %e, "recording a key's use failed");
            }
        });
    }
    Ok((rec, team))
}
