//! Fair shares of a bounded resource (compile slots, webhook deliveries)
//! among tenants: [`FairShare`].
//!
//! A plain semaphore lets one tenant take every permit, and everyone else
//! then waits for that tenant's work to end. Here a tenant holds at most
//! its **share** of the permits (`share`, at least 1), and when a permit is
//! given back it goes to the waiting tenant that holds the fewest (the
//! longest waiting among equals). So one tenant cannot hold more than its
//! share while others wait, and a tenant alone still uses its share at once.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// Permits shared among tenants keyed by `K`.
#[derive(Debug)]
pub struct FairShare<K: Eq + Hash + Clone> {
    total: usize,
    share: usize,
    state: Mutex<State<K>>,
}

#[derive(Debug)]
struct State<K> {
    free: usize,
    /// The next waiter's number.
    next_id: u64,
    held: HashMap<K, usize>,
    waiting: VecDeque<Waiter<K>>,
}

#[derive(Debug)]
struct Waiter<K> {
    id: u64,
    tenant: K,
    wake: oneshot::Sender<()>,
}

/// A permit, given back when dropped.
#[derive(Debug)]
pub struct Permit<K: Eq + Hash + Clone> {
    pool: Arc<FairShare<K>>,
    tenant: K,
}

/// No permit came within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no permit within the wait")]
pub struct Busy;

impl<K: Eq + Hash + Clone> FairShare<K> {
    /// `total` permits (at least 1), of which one tenant holds at most
    /// `share` (between 1 and `total`).
    pub fn new(total: usize, share: usize) -> Arc<Self> {
        let total = total.max(1);
        Arc::new(Self {
            total,
            share: share.clamp(1, total),
            state: Mutex::new(State {
                free: total,
                next_id: 0,
                held: HashMap::new(),
                waiting: VecDeque::new(),
            }),
        })
    }

    /// Half of `total` (rounded up) per tenant: two tenants always find
    /// room beside each other.
    pub fn halves(total: usize) -> Arc<Self> {
        Self::new(total, total.max(1).div_ceil(2))
    }

    /// All the permits.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The most permits one tenant holds at once.
    pub fn share(&self) -> usize {
        self.share
    }

    /// A permit for `tenant`, waiting at most `wait` for its turn.
    ///
    /// # Errors
    /// [`Busy`] when none came within `wait`.
    pub async fn acquire(self: &Arc<Self>, tenant: &K, wait: Duration) -> Result<Permit<K>, Busy> {
        let woken = {
            let mut st = self.lock();
            if st.free > 0 && st.held(tenant) < self.share {
                st.take(tenant);
                return Ok(self.permit(tenant));
            }
            let (wake, woken) = oneshot::channel();
            let id = st.next_id;
            st.next_id += 1;
            st.waiting.push_back(Waiter {
                id,
                tenant: tenant.clone(),
                wake,
            });
            (id, woken)
        };
        let (id, mut woken) = woken;
        // Dropped mid-wait (the request went away): gives back what it had.
        let mut waiting = Waiting {
            pool: self,
            id,
            tenant,
            done: false,
        };
        // The receiver lives until the outcome is read under the lock, so a
        // grant (which takes the permit for this waiter) is never lost.
        let _ = tokio::time::timeout(wait, &mut woken).await;
        waiting.done = true;
        let granted = self.lock().forget_waiter(id);
        drop(woken);
        if granted {
            Ok(self.permit(tenant))
        } else {
            Err(Busy)
        }
    }

    /// A permit for `tenant` if one is free and within its share now; no
    /// waiting.
    pub fn try_acquire(self: &Arc<Self>, tenant: &K) -> Option<Permit<K>> {
        let mut st = self.lock();
        (st.free > 0 && st.held(tenant) < self.share).then(|| {
            st.take(tenant);
            self.permit(tenant)
        })
    }

    /// Permits `tenant` holds now.
    pub fn held(&self, tenant: &K) -> usize {
        self.lock().held(tenant)
    }

    /// Permits free now.
    pub fn free(&self) -> usize {
        self.lock().free
    }

    /// The tenants holding their whole share now.
    pub fn at_share(&self) -> Vec<K> {
        let st = self.lock();
        let full = st.held.iter().filter(|(_, n)| **n >= self.share);
        full.map(|(k, _)| k.clone()).collect()
    }

    fn permit(self: &Arc<Self>, tenant: &K) -> Permit<K> {
        Permit {
            pool: self.clone(),
            tenant: tenant.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives `tenant`'s permit back and hands free permits to waiters.
    fn release(&self, tenant: &K) {
        let mut st = self.lock();
        if let Some(n) = st.held.get_mut(tenant) {
            *n -= 1;
            if *n == 0 {
                st.held.remove(tenant);
            }
        }
        st.free += 1;
        st.waiting.retain(|w| !w.wake.is_closed());
        while st.free > 0 {
            let Some(i) = st.next_waiter(self.share) else {
                break;
            };
            let w = st.waiting.remove(i).expect("an index of the queue");
            // A waiter that gave up is skipped; its permit stays free.
            if w.wake.send(()).is_ok() {
                st.take(&w.tenant);
            }
        }
    }
}

/// A waiter's place while its `acquire` is pending.
struct Waiting<'a, K: Eq + Hash + Clone> {
    pool: &'a Arc<FairShare<K>>,
    id: u64,
    tenant: &'a K,
    /// The outcome was read: nothing to clean up.
    done: bool,
}

impl<K: Eq + Hash + Clone> Drop for Waiting<'_, K> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let granted = self.pool.lock().forget_waiter(self.id);
        if granted {
            // Granted, then abandoned: the permit goes back.
            self.pool.release(self.tenant);
        }
    }
}

impl<K: Eq + Hash + Clone> State<K> {
    /// Takes waiter `id` out of the queue; true when it was not there any
    /// more, that is, when it was granted a permit (taken for it).
    fn forget_waiter(&mut self, id: u64) -> bool {
        match self.waiting.iter().position(|w| w.id == id) {
            Some(i) => {
                self.waiting.remove(i);
                false
            }
            None => true,
        }
    }

    fn held(&self, tenant: &K) -> usize {
        self.held.get(tenant).copied().unwrap_or(0)
    }

    fn take(&mut self, tenant: &K) {
        self.free -= 1;
        *self.held.entry(tenant.clone()).or_default() += 1;
    }

    /// The waiter to serve next: of those under their share, the one whose
    /// tenant holds the fewest, first come among equals.
    fn next_waiter(&self, share: usize) -> Option<usize> {
        self.waiting
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.wake.is_closed() && self.held(&w.tenant) < share)
            .min_by_key(|(i, w)| (self.held(&w.tenant), *i))
            .map(|(i, _)| i)
    }
}

impl<K: Eq + Hash + Clone> Drop for Permit<K> {
    fn drop(&mut self) {
        self.pool.release(&self.tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn one_tenant_holds_its_share_and_no_more() {
        let pool = FairShare::new(4, 2);
        let _a1 = pool.acquire(&"a", NOW).await.unwrap();
        let _a2 = pool.acquire(&"a", NOW).await.unwrap();
        assert_eq!(pool.acquire(&"a", NOW).await.unwrap_err(), Busy);
        let _b = pool
            .acquire(&"b", NOW)
            .await
            .expect("b finds room beside a");
        assert_eq!(pool.held(&"a"), 2);
    }

    #[tokio::test]
    async fn a_freed_permit_goes_to_the_tenant_holding_fewest() {
        let pool = FairShare::new(2, 2);
        let a1 = pool.acquire(&"a", NOW).await.unwrap();
        let _a2 = pool.acquire(&"a", NOW).await.unwrap();
        let (p, q) = (pool.clone(), pool.clone());
        let a3 = tokio::spawn(async move { p.acquire(&"a", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b = tokio::spawn(async move { q.acquire(&"b", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(a1);
        let b = b.await.unwrap().expect("b, holding none, goes first");
        assert_eq!(pool.held(&"b"), 1);
        assert!(!a3.is_finished(), "a waits for the next permit");
        drop(b);
        assert!(a3.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_leaves_no_permit_taken() {
        let pool = FairShare::new(1, 1);
        let a = pool.acquire(&"a", NOW).await.unwrap();
        assert_eq!(pool.acquire(&"b", NOW).await.unwrap_err(), Busy);
        drop(a);
        assert_eq!(pool.held(&"b"), 0);
        let _c = pool.acquire(&"c", NOW).await.expect("the permit is free");
    }

    #[tokio::test]
    async fn an_abandoned_wait_gives_back_what_it_had() {
        let pool = FairShare::new(1, 1);
        let a = pool.acquire(&"a", NOW).await.unwrap();
        let p = pool.clone();
        let waiter = tokio::spawn(async move { p.acquire(&"b", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiter.abort();
        let _ = waiter.await;
        drop(a);
        assert_eq!(pool.free(), 1, "no permit lost");
        let _c = pool.acquire(&"c", NOW).await.expect("the permit is free");
        assert_eq!(pool.held(&"b"), 0);
    }

    #[test]
    fn halves_round_up() {
        assert_eq!(FairShare::<u8>::halves(1).share, 1);
        assert_eq!(FairShare::<u8>::halves(2).share, 1);
        assert_eq!(FairShare::<u8>::halves(5).share, 3);
    }
}
