//! Printing the figures: per-phase memory peaks and the final summary table.

use super::load::percentile_ms;
use super::stack::Kind;
use super::{Args, CONCURRENCY, Figures, PhasePeak, RSS_TARGETS};
use anyhow::Result;

/// Per-phase peaks, with the `smaps_rollup` breakdown of processes above target.
pub fn print_peaks(kind: Kind, peaks: &[PhasePeak]) {
    let (api_name, api_target) = match kind {
        Kind::Embedded => ("serve", RSS_TARGETS.0 + RSS_TARGETS.1),
        Kind::Production => ("api", RSS_TARGETS.0),
    };
    for p in peaks {
        let mut line = format!(
            "peak RSS, {:<18}: {api_name} {:>6.1} MiB",
            p.phase, p.api.peak_mib
        );
        if let Some(w) = p.worker {
            line.push_str(&format!(", worker {:>6.1} MiB", w.peak_mib));
        }
        println!("{line}");
        let over = [
            (api_name, p.api.peak_mib > api_target),
            (
                "worker",
                p.worker.is_some_and(|w| w.peak_mib > RSS_TARGETS.1),
            ),
        ];
        for ((name, over), s) in over.iter().zip(&p.sampled) {
            if *over && !s.rollup.is_empty() {
                println!(
                    "  {name} above target; smaps_rollup at its highest sample ({:.1} MiB): {}",
                    s.rss_mib, s.rollup
                );
            }
        }
    }
}

/// The final summary: one row per stack.
pub fn print_table(args: &Args, results: &[(Kind, Result<Figures>)]) {
    println!(
        "\nSummary ({} sequential jobs; {} submits and {} throughput jobs from {} clients; {} MiB CSV; \
         worker concurrency {CONCURRENCY}; debug build)",
        args.seq_jobs, args.submits, args.jobs, args.clients, args.csv_mib
    );
    println!(
        "{:<11} {:>8} {:>8} {:>10} {:>10} {:>9} {:>7} {:>8} {:>8} {:>8} {:>10}",
        "stack",
        "job p50",
        "job p99",
        "submit p50",
        "submit p99",
        "submits/s",
        "jobs/s",
        "csv MB/s",
        "upload s",
        "api RSS",
        "worker RSS"
    );
    println!(
        "{:<11} {:>8} {:>8} {:>10} {:>10} {:>9} {:>7} {:>8} {:>8} {:>8} {:>10}",
        "", "ms", "ms", "ms", "ms", "", "", "", "", "MiB", "MiB"
    );
    for (kind, r) in results {
        let f = match r {
            Ok(f) => f,
            Err(e) => {
                println!("{:<11} FAILED: {e:#}", kind.name());
                continue;
            }
        };
        let (csv_rate, upload) = match &f.csv {
            Some(c) => {
                let mb = c.bytes as f64 / 1e6;
                (
                    format!("{:.1}", mb / c.total.as_secs_f64()),
                    format!("{:.1}", c.upload.as_secs_f64()),
                )
            }
            None => ("-".into(), "-".into()),
        };
        let (api, worker) = f.max_rss();
        let worker = worker.map_or_else(|| "(serve)".to_owned(), |w| format!("{w:.1}"));
        println!(
            "{:<11} {:>8.2} {:>8.2} {:>10.2} {:>10.2} {:>9.0} {:>7.0} {:>8} {:>8} {:>8.1} {:>10}",
            kind.name(),
            percentile_ms(&f.seq, 0.5),
            percentile_ms(&f.seq, 0.99),
            percentile_ms(&f.submit.latencies, 0.5),
            percentile_ms(&f.submit.latencies, 0.99),
            f.submit.latencies.len() as f64 / f.submit.elapsed.as_secs_f64(),
            f.jobs_per_sec,
            csv_rate,
            upload,
            api,
            worker
        );
    }
    println!(
        "RSS = peak VmHWM over all phases; targets: api {} MiB, worker {} MiB (embedded: one serve process)",
        RSS_TARGETS.0, RSS_TARGETS.1
    );
}
