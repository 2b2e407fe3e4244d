//! Memory of the processes under test, from `/proc` (Linux).

use anyhow::{Context, Result};
use std::future::Future;
use std::time::Duration;

/// Memory figures of a process, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rss {
    /// Peak resident set (`VmHWM`) in MiB since start or the last reset.
    pub peak_mib: f64,
    /// Resident set now (`VmRSS`) in MiB.
    pub now_mib: f64,
}

/// Reads a process's current and peak resident set.
pub fn rss(pid: u32) -> Result<Rss> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let mib = |key: &str| -> Result<f64> {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .with_context(|| format!("{path} has no {key}"))?;
        let kib: f64 = value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("parsing {key}{value} in {path}"))?;
        Ok(kib / 1024.0)
    };
    Ok(Rss {
        peak_mib: mib("VmHWM:")?,
        now_mib: mib("VmRSS:")?,
    })
}

/// Resets a process's peak resident set to its current one (`clear_refs`
/// 5); false when the kernel refuses (the peak then covers the whole life).
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The highest resident set seen by [`watch`] and where it was.
#[derive(Clone, Debug, Default)]
pub struct Sampled {
    /// Highest `VmRSS` sampled, in MiB.
    pub rss_mib: f64,
    /// The `Rss`/`Anonymous`/file lines of `/proc/<pid>/smaps_rollup` then.
    pub rollup: String,
}

/// Runs `fut` while sampling the resident set of `pids` every 200 ms,
/// keeping the `smaps_rollup` breakdown at each one's highest sample.
pub async fn watch<T>(pids: &[u32], fut: impl Future<Output = T>) -> (T, Vec<Sampled>) {
    let mut seen = vec![Sampled::default(); pids.len()];
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return (out, seen),
            _ = tick.tick() => {
                for (s, &pid) in seen.iter_mut().zip(pids) {
                    if let Ok(r) = rss(pid)
                        && r.now_mib > s.rss_mib
                    {
                        s.rss_mib = r.now_mib;
                        s.rollup = rollup(pid);
                    }
                }
            }
        }
    }
}

/// The `Rss`, `Pss_Anon`, `Pss_File` and `Anonymous` lines of
/// `/proc/<pid>/smaps_rollup`, joined (empty when unreadable).
pub fn rollup(pid: u32) -> String {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return String::new();
    };
    text.lines()
        .filter(|l| {
            ["Rss:", "Pss_Anon:", "Pss_File:", "Anonymous:"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}
