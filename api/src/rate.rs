//! Per-key rate limit on submissions (`governor`'s GCRA, in memory per API
//! process): a key may submit `rate` jobs a second, in bursts of as many.

use crate::error::ApiError;
use agensium_domain::KeyId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota as Gcra, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Submissions per second per key; `None` is unlimited.
#[derive(Clone)]
pub struct SubmitLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<KeyId>>>,
    clock: DefaultClock,
}

impl SubmitLimiter {
    /// A limiter allowing `per_second` submissions per key (0: unlimited).
    pub fn new(per_second: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_second)
                .map(|n| Arc::new(RateLimiter::keyed(Gcra::per_second(n)))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one submission of `key`'s, or answers 429 with `Retry-After`.
    pub fn check(&self, key: &KeyId) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            ApiError::too_many(
                "rate_limited",
                "this key submits faster than its rate limit; slow down",
                not_until.wait_time_from(self.clock.now()),
            )
        })?;
        // Forget keys idle long enough to be back at a full burst.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}
