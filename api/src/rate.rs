//! Rate limits on submissions (`governor`'s GCRA, in memory per API
//! process): a key may submit `per_key` jobs a second and its team
//! `per_team` (whatever number of keys it holds), each in bursts of as many.

use crate::error::ApiError;
use agensium_domain::{KeyId, TeamName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota as Gcra, RateLimiter};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Entries kept before idle ones (back at a full burst) are forgotten.
const FORGET_PAST: usize = 10_000;

/// Submissions per second per key and per team; `None` is unlimited.
#[derive(Clone)]
pub struct SubmitLimiter {
    keys: Option<Arc<DefaultKeyedRateLimiter<KeyId>>>,
    teams: Option<Arc<DefaultKeyedRateLimiter<TeamName>>>,
    clock: DefaultClock,
}

impl SubmitLimiter {
    /// A limiter allowing `per_key` submissions a second per key and
    /// `per_team` per team (0: unlimited).
    pub fn new(per_key: u32, per_team: u32) -> Self {
        Self {
            keys: Self::keyed(per_key),
            teams: Self::keyed(per_team),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one submission of `key`'s (of `team`), or answers 429
    /// `rate_limited` with `Retry-After`.
    pub fn check(&self, key: &KeyId, team: &TeamName) -> Result<(), ApiError> {
        self.take(
            self.keys.as_deref(),
            key,
            "this key submits faster than its rate limit; slow down",
        )?;
        self.take(
            self.teams.as_deref(),
            team,
            "this team's keys together submit faster than the team's rate limit; slow down",
        )
    }

    /// A keyed limiter of `per_second` (0: none).
    fn keyed<K: Hash + Eq + Clone>(per_second: u32) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
        NonZeroU32::new(per_second).map(|n| Arc::new(RateLimiter::keyed(Gcra::per_second(n))))
    }

    fn take<K: Hash + Eq + Clone>(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<K>>,
        key: &K,
        why: &str,
    ) -> Result<(), ApiError> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            ApiError::too_many(
                "rate_limited",
                why,
                not_until.wait_time_from(self.clock.now()),
            )
        })?;
        if limiter.len() > FORGET_PAST {
            limiter.retain_recent();
        }
        Ok(())
    }
}
