//! Per-key bound on answers held open: a `?wait=` on a job or its result,
//! a followed result, a job's events. Each holds a connection (of the
//! edge's `max_connections`, shared by every tenant) and rereads its job
//! every second, so one key could otherwise take every connection and load
//! the metadata store with nothing but waiting. Past the bound a key gets
//! 429 `too_many_held` until one of its held answers ends; answers that
//! do not wait (a plain `GET`, a finished job's result) are never counted.

use crate::error::ApiError;
use agensium_domain::KeyId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What a client over the bound is asked to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Answers held open per key, in this API process.
#[derive(Debug)]
pub struct Holds {
    /// Most answers one key may hold at once (0: unbounded).
    max_per_key: u32,
    held: Mutex<HashMap<KeyId, u32>>,
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
        let n = held.entry(key.clone()).or_default();
        if self.max_per_key > 0 && *n >= self.max_per_key {
            return Err(ApiError::too_many(
                "too_many_held",
                format!(
                    "this key already holds {n} answers open (waits, follows, events), its most; \
                     try again when one has ended"
                ),
                RETRY_AFTER,
            ));
        }
        *n += 1;
        Ok(Hold {
            holds: self.clone(),
            key: key.clone(),
        })
    }

    /// Answers `key` holds now.
    pub fn held(&self, key: &KeyId) -> u32 {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(key).copied().unwrap_or(0)
    }
}

/// One held answer, given back when dropped (the answer ended or its
/// client went away).
#[derive(Debug)]
pub struct Hold {
    holds: Arc<Holds>,
    key: KeyId,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self
            .holds
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
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
    fn zero_is_unbounded() {
        let holds = Holds::new(0);
        let a = key('a');
        let all: Vec<_> = (0..1000).map(|_| holds.take(&a).unwrap()).collect();
        assert_eq!(holds.held(&a), 1000);
        drop(all);
        assert_eq!(holds.held(&a), 0);
    }
}
