//! Coarse clocks for processors.
//!
//! Jobs of different teams run in one process. A nanosecond clock lets a
//! guest time cache effects and its neighbours (timing side channels); we
//! give guests clocks that tick in [`RESOLUTION`] steps, as browsers do for
//! the same reason. Elapsed-time measurement, timeouts and sleeps keep
//! working, at millisecond precision.

use std::time::{Duration, Instant, SystemTime};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The step of both clocks a processor sees.
pub const RESOLUTION: Duration = Duration::from_millis(1);

fn step_nanos() -> u64 {
    u64::try_from(RESOLUTION.as_nanos()).unwrap_or(u64::MAX)
}

fn coarsen(nanos: u64) -> u64 {
    nanos - nanos % step_nanos()
}

/// `wasi:clocks/wall-clock`: Unix time, rounded down to [`RESOLUTION`].
pub(super) struct CoarseWallClock;

impl HostWallClock for CoarseWallClock {
    fn resolution(&self) -> Duration {
        RESOLUTION
    }

    fn now(&self) -> Duration {
        let since = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Duration::from_nanos(coarsen(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)))
    }
}

/// `wasi:clocks/monotonic-clock`: nanoseconds since the job's store was
/// made, rounded down to [`RESOLUTION`].
pub(super) struct CoarseMonotonicClock {
    start: Instant,
}

impl CoarseMonotonicClock {
    pub(super) fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl HostMonotonicClock for CoarseMonotonicClock {
    fn resolution(&self) -> u64 {
        step_nanos()
    }

    fn now(&self) -> u64 {
        coarsen(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_whole_steps() {
        let m = CoarseMonotonicClock::new();
        let w = CoarseWallClock;
        for _ in 0..1000 {
            assert_eq!(m.now() % step_nanos(), 0);
            assert_eq!(w.now().subsec_nanos() as u64 % step_nanos(), 0);
        }
        assert_eq!(m.resolution(), 1_000_000);
        std::thread::sleep(Duration::from_millis(3));
        assert!(m.now() >= 2_000_000, "the clock still moves");
    }
}
