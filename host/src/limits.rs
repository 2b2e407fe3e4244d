//! Per-job resource limits and the store limiter that enforces memory.

use agensium_core::DeclaredLimits;
use std::time::Duration;

/// The default cap of declared fuel: 10^13 units, hours of CPU.
pub const DEFAULT_FUEL_CEILING: u64 = 10_000_000_000_000;

/// Limits of one job run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, in bytes, summed over the component's memories.
    pub memory_bytes: u64,
    /// Wall-clock time for `process`.
    pub wall_time: Duration,
    /// Bytes the processor may write as output.
    pub output_bytes: u64,
    /// Bytes kept of the job's log.
    pub log_bytes: usize,
    /// Fuel (about one unit per Wasm instruction) `process` may burn; `None`
    /// runs the job unmetered, on the engine without fuel accounting. As a
    /// ceiling, `None` means no cap.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            wall_time: Duration::from_secs(60),
            output_bytes: 16 << 30,
            log_bytes: 1 << 20,
            fuel: None,
        }
    }
}

impl Limits {
    /// The highest limits an operator allows by default (each a setting).
    pub fn default_ceilings() -> Self {
        Self {
            memory_bytes: 4 << 30,
            wall_time: Duration::from_secs(3600),
            output_bytes: 1 << 40,
            log_bytes: 16 << 20,
            fuel: Some(DEFAULT_FUEL_CEILING),
        }
    }

    /// The limits of a job: what its version declared, else `defaults`,
    /// each capped by `ceilings`.
    pub fn resolve(defaults: &Limits, ceilings: &Limits, declared: &DeclaredLimits) -> Limits {
        let pick = |d: Option<u64>, scale: u64, default: u64, ceiling: u64| {
            d.map_or(default, |v| v.saturating_mul(scale)).min(ceiling)
        };
        Limits {
            memory_bytes: pick(
                declared.memory_mib,
                1 << 20,
                defaults.memory_bytes,
                ceilings.memory_bytes,
            ),
            wall_time: Duration::from_millis(pick(
                declared.timeout_ms,
                1,
                defaults.wall_time.as_millis() as u64,
                ceilings.wall_time.as_millis() as u64,
            )),
            output_bytes: pick(
                declared.output_mib,
                1 << 20,
                defaults.output_bytes,
                ceilings.output_bytes,
            ),
            log_bytes: pick(
                declared.log_kib,
                1 << 10,
                defaults.log_bytes as u64,
                ceilings.log_bytes as u64,
            ) as usize,
            fuel: declared
                .fuel
                .or(defaults.fuel)
                .map(|f| ceilings.fuel.map_or(f, |c| f.min(c))),
        }
    }

    /// The first declared limit above `self` (as ceilings), for a clear
    /// upload error: `(name, declared, ceiling)`.
    pub fn exceeded_by(&self, d: &DeclaredLimits) -> Option<(&'static str, u64, u64)> {
        let checks = [
            ("memory_mib", d.memory_mib, self.memory_bytes >> 20),
            (
                "timeout_ms",
                d.timeout_ms,
                self.wall_time.as_millis() as u64,
            ),
            ("output_mib", d.output_mib, self.output_bytes >> 20),
            ("log_kib", d.log_kib, self.log_bytes as u64 >> 10),
            ("fuel", d.fuel, self.fuel.unwrap_or(u64::MAX)),
        ];
        checks
            .into_iter()
            .find_map(|(name, v, max)| v.filter(|v| *v > max || *v == 0).map(|v| (name, v, max)))
    }
}

/// A [`wasmtime::ResourceLimiter`] that refuses growth past the limit and
/// remembers that it did, so that the resulting trap is reported as
/// `memory_limit` rather than as a guest panic.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: u64,
    /// Bytes currently reserved by all memories of the store.
    current: u64,
    /// Highest value of `current`.
    pub peak: u64,
    /// Set when a growth was refused.
    pub hit: bool,
}

impl Limiter {
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            current: 0,
            peak: 0,
            hit: false,
        }
    }
}

const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = (desired - current) as u64;
        if self.current + grow > self.limit {
            self.hit = true;
            return Ok(false);
        }
        self.current += grow;
        self.peak = self.peak.max(self.current);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn declared_limits_are_capped() {
        let (def, ceil) = (Limits::default(), Limits::default_ceilings());
        let declared = DeclaredLimits {
            memory_mib: Some(64),
            timeout_ms: Some(10_000_000),
            ..Default::default()
        };
        let l = Limits::resolve(&def, &ceil, &declared);
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.wall_time, ceil.wall_time, "capped by the ceiling");
        assert_eq!(l.output_bytes, def.output_bytes, "unset: default");
        assert_eq!(
            ceil.exceeded_by(&declared),
            Some(("timeout_ms", 10_000_000, 3_600_000))
        );
        assert_eq!(ceil.exceeded_by(&DeclaredLimits::default()), None);
        assert_eq!(l.fuel, None, "no fuel declared: unmetered");
    }

    #[test]
    fn fuel_is_metered_only_when_declared_or_defaulted_and_capped() {
        let (def, ceil) = (Limits::default(), Limits::default_ceilings());
        let declared = |fuel| DeclaredLimits {
            fuel: Some(fuel),
            ..Default::default()
        };
        assert_eq!(Limits::resolve(&def, &ceil, &declared(5)).fuel, Some(5));
        let capped = Limits {
            fuel: Some(100),
            ..ceil
        };
        assert_eq!(
            Limits::resolve(&def, &capped, &declared(500)).fuel,
            Some(100)
        );
        assert_eq!(capped.exceeded_by(&declared(500)), Some(("fuel", 500, 100)));
        let metered_default = Limits {
            fuel: Some(7),
            ..def
        };
        let none = DeclaredLimits::default();
        assert_eq!(
            Limits::resolve(&metered_default, &ceil, &none).fuel,
            Some(7)
        );
    }

    #[test]
    fn counts_all_memories_and_refuses_past_limit() {
        let mut l = Limiter::new(100);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 30, None).unwrap());
        assert!(!l.memory_growing(30, 50, None).unwrap());
        assert!(l.hit);
        assert_eq!(l.peak, 90);
    }
}
