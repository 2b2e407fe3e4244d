//! Limits: declared per version, resolved per job, capped by the operator.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits a processor version declares at upload. Unset fields take the
/// operator's defaults; every field is capped by the operator's ceilings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredLimits {
    /// Linear memory, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Wall time of `process`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Output, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_mib: Option<u64>,
    /// Log, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_kib: Option<u64>,
    /// Input accepted at submission, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mib: Option<u64>,
    /// CPU budget of `process` in wasmtime fuel units (about one per Wasm
    /// instruction): deterministic, unlike wall time. Unset: not metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}

/// Limits of one job run: what its version declared, else the operator's
/// defaults, capped by the operator's [`Ceilings`].
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
    /// runs the job unmetered, on the engine without fuel accounting.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    /// The operator's defaults unless configured: 256 MiB, 60 s, 16 GiB of
    /// output, 1 MiB of log, unmetered.
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

/// The highest limits an operator lets a version declare. Unlike
/// [`Limits::fuel`], fuel here is always a number: the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceilings {
    /// Highest linear memory, in bytes.
    pub memory_bytes: u64,
    /// Highest wall time.
    pub wall_time: Duration,
    /// Highest output, in bytes.
    pub output_bytes: u64,
    /// Highest log, in bytes.
    pub log_bytes: usize,
    /// Highest fuel.
    pub fuel: u64,
}

impl Default for Ceilings {
    /// 4 GiB, 1 h, 1 TiB of output, 16 MiB of log, 10^13 fuel (hours of CPU).
    fn default() -> Self {
        Self {
            memory_bytes: 4 << 30,
            wall_time: Duration::from_secs(3600),
            output_bytes: 1 << 40,
            log_bytes: 16 << 20,
            fuel: 10_000_000_000_000,
        }
    }
}

/// Caps of a golden check at upload, whatever the version declares: an
/// uploader cannot make the API run its code for an hour or with 4 GiB.
/// A golden example is a small input; 10 s, 256 MiB, 64 MiB of output,
/// 64 KiB of log and 10^10 fuel are plenty.
pub const GOLDEN_CAPS: Ceilings = Ceilings {
    memory_bytes: 256 << 20,
    wall_time: Duration::from_secs(10),
    output_bytes: 64 << 20,
    log_bytes: 64 << 10,
    fuel: 10_000_000_000,
};

/// A declared limit above its ceiling (or zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{name}={declared} is not allowed: it must be 1..={ceiling}")]
pub struct LimitExceeded {
    /// The limit's name, as declared (`memory_mib`, `fuel`, …).
    pub name: &'static str,
    /// What was declared.
    pub declared: u64,
    /// The highest allowed value, in the declared unit.
    pub ceiling: u64,
}

impl Ceilings {
    /// The first declared limit above its ceiling, or zero.
    pub fn check(&self, d: &DeclaredLimits) -> Result<(), LimitExceeded> {
        let checks = [
            ("memory_mib", d.memory_mib, self.memory_bytes >> 20),
            ("timeout_ms", d.timeout_ms, millis(self.wall_time)),
            ("output_mib", d.output_mib, self.output_bytes >> 20),
            ("log_kib", d.log_kib, self.log_bytes as u64 >> 10),
            ("fuel", d.fuel, self.fuel),
        ];
        match checks.into_iter().find_map(|(name, v, max)| {
            v.filter(|v| *v > max || *v == 0)
                .map(|declared| LimitExceeded {
                    name,
                    declared,
                    ceiling: max,
                })
        }) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Limits {
    /// These limits, each at most its cap in `caps`.
    #[must_use]
    pub fn capped(&self, caps: &Ceilings) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.min(caps.memory_bytes),
            wall_time: self.wall_time.min(caps.wall_time),
            output_bytes: self.output_bytes.min(caps.output_bytes),
            log_bytes: self.log_bytes.min(caps.log_bytes),
            fuel: self.fuel.map(|f| f.min(caps.fuel)),
        }
    }

    /// The limits of a job: what its version declared, else `defaults`,
    /// each capped by `ceilings`.
    pub fn resolve(defaults: &Limits, ceilings: &Ceilings, declared: &DeclaredLimits) -> Limits {
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
                millis(defaults.wall_time),
                millis(ceilings.wall_time),
            )),
            output_bytes: pick(
                declared.output_mib,
                1 << 20,
                defaults.output_bytes,
                ceilings.output_bytes,
            ),
            log_bytes: usize::try_from(pick(
                declared.log_kib,
                1 << 10,
                defaults.log_bytes as u64,
                ceilings.log_bytes as u64,
            ))
            .unwrap_or(usize::MAX),
            fuel: declared
                .fuel
                .or(defaults.fuel)
                .map(|f| f.min(ceilings.fuel)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_limits_are_capped_and_defaulted() {
        let (defaults, ceilings) = (Limits::default(), Ceilings::default());
        let l = Limits::resolve(&defaults, &ceilings, &DeclaredLimits::default());
        assert_eq!(l, defaults);
        let d = DeclaredLimits {
            memory_mib: Some(1 << 30),
            timeout_ms: Some(5),
            fuel: Some(u64::MAX),
            ..Default::default()
        };
        let l = Limits::resolve(&defaults, &ceilings, &d);
        assert_eq!(l.memory_bytes, ceilings.memory_bytes);
        assert_eq!(l.wall_time, Duration::from_millis(5));
        assert_eq!(l.fuel, Some(ceilings.fuel));
    }

    #[test]
    fn golden_checks_are_capped_whatever_is_declared() {
        let d = DeclaredLimits {
            memory_mib: Some(4096),
            timeout_ms: Some(3_600_000),
            fuel: Some(10_000_000_000_000),
            ..Default::default()
        };
        let l = Limits::resolve(&Limits::default(), &Ceilings::default(), &d).capped(&GOLDEN_CAPS);
        assert_eq!(l.memory_bytes, GOLDEN_CAPS.memory_bytes);
        assert_eq!(l.wall_time, GOLDEN_CAPS.wall_time);
        assert_eq!(l.log_bytes, GOLDEN_CAPS.log_bytes);
        assert_eq!(l.fuel, Some(GOLDEN_CAPS.fuel));
        let small = Limits {
            wall_time: Duration::from_secs(1),
            ..Limits::default()
        };
        assert_eq!(small.capped(&GOLDEN_CAPS).wall_time, Duration::from_secs(1));
    }

    #[test]
    fn ceilings_refuse_too_much_and_zero() {
        let c = Ceilings::default();
        assert!(c.check(&DeclaredLimits::default()).is_ok());
        let e = c
            .check(&DeclaredLimits {
                memory_mib: Some(8192),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!((e.name, e.declared, e.ceiling), ("memory_mib", 8192, 4096));
        assert!(
            c.check(&DeclaredLimits {
                fuel: Some(0),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn fuel_is_metered_only_when_declared_or_defaulted_and_capped() {
        let (def, ceil) = (Limits::default(), Ceilings::default());
        let declared = |fuel| DeclaredLimits {
            fuel: Some(fuel),
            ..Default::default()
        };
        assert_eq!(
            Limits::resolve(&def, &ceil, &DeclaredLimits::default()).fuel,
            None
        );
        assert_eq!(Limits::resolve(&def, &ceil, &declared(5)).fuel, Some(5));
        let capped = Ceilings { fuel: 100, ..ceil };
        assert_eq!(
            Limits::resolve(&def, &capped, &declared(500)).fuel,
            Some(100)
        );
        let e = capped.check(&declared(500)).unwrap_err();
        assert_eq!((e.name, e.declared, e.ceiling), ("fuel", 500, 100));
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
}
