//! Read-through copies of metadata-store rows that every request or job
//! reads (API keys with their team, processors, versions, quotas), trusted
//! for a short time: a change made by another process applies within it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most; past it the cache starts over (a flood of
/// distinct keys cannot grow memory).
const CAPACITY: usize = 10_000;

/// A map whose entries expire `ttl` after they were stored.
pub struct TtlCache<K, V> {
    ttl: Duration,
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache whose entries live `ttl` (zero: nothing is kept).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The value stored under `key`, unless it expired.
    pub fn get(&self, key: &K) -> Option<V> {
        let map = self.lock();
        let (at, v) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Stores `value` under `key` for the cache's time to live.
    pub fn insert(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.lock();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, (Instant::now(), value));
    }

    /// The value under `key`, from the cache or else from `load` (stored
    /// when found; a miss is not remembered, so what appears is seen at once).
    pub async fn get_or_load<E, F>(&self, key: K, load: F) -> Result<Option<V>, E>
    where
        F: std::future::Future<Output = Result<Option<V>, E>>,
    {
        if let Some(v) = self.get(&key) {
            return Ok(Some(v));
        }
        let found = load.await?;
        if let Some(v) = &found {
            self.insert(key, v.clone());
        }
        Ok(found)
    }

    /// Forgets everything (after a change made through this process).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_zero_keeps_nothing() {
        let c = TtlCache::new(Duration::from_millis(30));
        c.insert("a", 1);
        assert_eq!(c.get(&"a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&"a"), None);
        c.insert("b", 2);
        c.clear();
        assert_eq!(c.get(&"b"), None);
        let loads = std::cell::Cell::new(0);
        let load = |v: Option<i32>| {
            loads.set(loads.get() + 1);
            std::future::ready(Ok::<_, ()>(v))
        };
        let block = |f| futures::executor::block_on(f);
        assert_eq!(block(c.get_or_load("d", load(None))), Ok(None));
        assert_eq!(
            block(c.get_or_load("d", load(Some(4)))),
            Ok(Some(4)),
            "a miss is not kept"
        );
        assert_eq!(
            block(c.get_or_load("d", load(Some(5)))),
            Ok(Some(4)),
            "a hit is"
        );
        assert_eq!(
            loads.get(),
            3,
            "every call builds its loader; only misses await it"
        );
        let none = TtlCache::new(Duration::ZERO);
        none.insert("c", 3);
        assert_eq!(none.get(&"c"), None);
    }
}
