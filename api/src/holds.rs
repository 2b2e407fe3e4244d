//! Per-key bound on answers held open: a `?wait=` on a job or its result,
//! a followed result, a job's events. Each holds a connection (of the
//! edge's `max_connections`, shared by every tenant) and rereads its job
//! every second, so one key could otherwise take every connection and load
//! the metadata store with nothing but waiting. Past the bound a key gets
//! 429 `too_many_held` until one of its held answers ends; answers that
//! do not wait (a plain `GET`, a finished job's result) are never counted.
//!
//! A held answer also ends when its key stops working: [`Holds::watch`]
//! rereads every key that holds answers once per auth-cache lifetime, and
//! a key revoked or expired, or whose team was disabled, has its answers
//! ended ([`Hold::ended`]) within that time.

use crate::error::ApiError;
use agensium_domain::{KeyId, now_to_the_millisecond};
use agensium_ports::MetaStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a held answer ended early: its key stopped working.
pub(crate) const KEY_STOPPED: &str =
    "the API key was revoked or expired, or its team disabled, while the answer was held";

/// What a client over the bound is asked to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The shortest pause between two rereads of the holding keys.
const MIN_WATCH: Duration = Duration::from_millis(250);

/// Answers held open per key, in this API process.
#[derive(Debug)]
pub struct Holds {
    /// Most answers one key may hold at once (0: unbounded).
    max_per_key: u32,
    held: Mutex<HashMap<KeyId, Held>>,
}

/// One key's held answers.
#[derive(Debug, Default)]
struct Held {
    count: u32,
    /// Cancelled when the key stops working.
    ended: CancellationToken,
}

impl Holds {
    /// At most `max_per_key` held answers per key (0: unbounded).
    pub fn new(max_per_key: u32) -> Arc<Self> {
        Arc::new(Self {
            max_per_key,
            held: Mutex::default(),
        })
    }

    /// Takes one of `key`'s held answers until the [`Hold`] is dropped, or
    /// answers 429 `too_many_held` when the key holds its most already.
    pub fn take(self: &Arc<Self>, key: &KeyId) -> Result<Hold, ApiError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let h = held.entry(key.clone()).or_default();
        if self.max_per_key > 0 && h.count >= self.max_per_key {
            return Err(ApiError::too_many(
                "too_many_held",
                format!(
                    "this key already holds {} answers open (waits, follows, events), its most; \
                     try again when one has ended",
                    h.count
                ),
                RETRY_AFTER,
            ));
        }
        h.count += 1;
        Ok(Hold {
            holds: self.clone(),
            key: key.clone(),
            ended: h.ended.clone(),
        })
    }

    /// Answers `key` holds now.
    pub fn held(&self, key: &KeyId) -> u32 {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(key).map_or(0, |h| h.count)
    }

    /// Ends every answer `key` holds now (answers it holds later are not).
    pub fn end(&self, key: &KeyId) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = held.get_mut(key) {
            std::mem::take(&mut h.ended).cancel();
        }
    }

    /// The keys holding answers now.
    fn holders(&self) -> Vec<KeyId> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.keys().cloned().collect()
    }

    /// Rereads the keys holding answers every `every` (at least
    /// [`MIN_WATCH`]) from `meta`, and ends the answers of those that stopped
    /// working. Runs until the holds are dropped.
    pub fn watch(self: &Arc<Self>, meta: Arc<dyn MetaStore>, every: Duration) {
        let holds: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every.max(MIN_WATCH)).await;
                let Some(holds) = holds.upgrade() else { return };
                for key in holds.holders() {
                    if stopped_working(meta.as_ref(), &key).await {
                        tracing::info!(key = %key, "ending the answers a key held: it no longer works");
                        holds.end(&key);
                    }
                }
            }
        });
    }
}

/// True when `key` is gone, revoked, expired or of a disabled team; a
/// store that does not answer proves nothing (false).
async fn stopped_working(meta: &dyn MetaStore, key: &KeyId) -> bool {
    match meta.key_and_team(key).await {
        Ok(Some((rec, team))) => team.disabled || rec.works_at(now_to_the_millisecond()).is_err(),
        Ok(None) => true,
        Err(e) => {
            tracing::debug!(key = %key, error = %e, "rereading a holding key failed");
            false
        }
    }
}

/// One held answer, given back when dropped (the answer ended or its
/// client went away).
#[derive(Debug)]
pub struct Hold {
    holds: Arc<Holds>,
    key: KeyId,
    ended: CancellationToken,
}

impl Hold {
    /// Cancelled when the key stops working: the answer must end.
    pub fn ended(&self) -> CancellationToken {
        self.ended.clone()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self
            .holds
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = held.get_mut(&self.key) {
            h.count -= 1;
            if h.count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> KeyId {
        c.to_string().repeat(16).parse().unwrap()
    }

    #[test]
    fn a_key_holds_at_most_its_bound_and_gets_them_back() {
        let holds = Holds::new(2);
        let (a, b) = (key('a'), key('b'));
        let first = holds.take(&a).unwrap();
        let _second = holds.take(&a).unwrap();
        let refused = holds.take(&a).unwrap_err();
        assert_eq!(refused.code, "too_many_held");
        assert!(holds.take(&b).is_ok(), "another key is not affected");
        drop(first);
        assert_eq!(holds.held(&a), 1);
        assert!(holds.take(&a).is_ok(), "a hold given back is free again");
        assert_eq!(holds.held(&b), 0, "a key holding nothing is forgotten");
    }

    #[test]
    fn ending_a_key_ends_what_it_holds_now_only() {
        let holds = Holds::new(0);
        let (a, b) = (key('a'), key('b'));
        let (held, other) = (holds.take(&a).unwrap(), holds.take(&b).unwrap());
        holds.end(&a);
        assert!(held.ended().is_cancelled());
        assert!(!other.ended().is_cancelled(), "another key's answers go on");
        let later = holds.take(&a).unwrap();
        assert!(
            !later.ended().is_cancelled(),
            "a later answer starts afresh"
        );
    }

    #[test]
    fn zero_is_unbounded() {
        let holds = Holds::new(0);
        let a = key('a');
        let all: Vec<_> = (0..1000).map(|_| holds.take(&a).unwrap()).collect();
        assert_eq!(holds.held(&a), 1000);
        drop(all);
        assert_eq!(holds.held(&a), 0);
    }
}
