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

/// The final summary: one row per stack, then each stack's open-loop
/// latencies and costs per job.
pub fn print_table(args: &Args, results: &[(Kind, Result<Figures>)]) {
    println!(
        "\nSummary ({} sequential jobs; {} submits and {} throughput jobs from {} clients; {} MiB CSV; \
         worker concurrency {CONCURRENCY}; {})",
        args.seq_jobs,
        args.submits,
        args.jobs,
        args.clients,
        args.csv_mib,
        args.build_name()
    );
    let row = |c: [&str; 11]| {
        println!(
            "{:<11} {:>8} {:>8} {:>10} {:>10} {:>9} {:>7} {:>8} {:>8} {:>8} {:>10}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
        );
    };
    row([
        "stack",
        "job p50",
        "job p99",
        "submit p50",
        "submit p99",
        "submits/s",
        "jobs/s",
        "big MB/s",
        "upload s",
        "api RSS",
        "worker RSS",
    ]);
    row(["", "ms", "ms", "ms", "ms", "", "", "e2e", "", "MiB", "MiB"]);
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
        let s = &f.small;
        row([
            kind.name(),
            &format!("{:.2}", percentile_ms(&s.seq, 0.5)),
            &format!("{:.2}", percentile_ms(&s.seq, 0.99)),
            &format!("{:.2}", percentile_ms(&s.submit.latencies, 0.5)),
            &format!("{:.2}", percentile_ms(&s.submit.latencies, 0.99)),
            &format!(
                "{:.0}",
                s.submit.latencies.len() as f64 / s.submit.elapsed.as_secs_f64()
            ),
            &format!("{:.0}", s.jobs_per_sec),
            &csv_rate,
            &upload,
            &format!("{api:.1}"),
            &worker,
        ]);
    }
    println!(
        "RSS = peak VmHWM over the job phases (registering, whose golden checks run in the API, is printed above); \
         targets: api {} MiB, worker {} MiB (embedded: one serve process)",
        RSS_TARGETS.0, RSS_TARGETS.1
    );
    for (kind, r) in results {
        let Ok(f) = r else { continue };
        for (rate, o) in &f.small.open {
            println!(
                "{:<11} open loop {rate:>5.0}/s offered: submit p50 {:.2} ms  p99 {:.2} ms  p999 {:.2} ms  ({:.0}/s answered)",
                kind.name(),
                percentile_ms(&o.latencies, 0.5),
                percentile_ms(&o.latencies, 0.99),
                percentile_ms(&o.latencies, 0.999),
                o.achieved
            );
        }
        let c = &f.small.cost;
        println!(
            "{:<11} per small job: CPU {:.3} ms whole stack; SQL statements {}; Redis commands {:.2}; S3 requests {:.2}",
            kind.name(),
            c.cpu_total_ms(),
            c.statements().map_or("-".into(), |n| format!("{n:.2}")),
            c.redis_total(),
            c.s3_total()
        );
        if let Some(ceiling) = f.csv.as_ref().and_then(|c| c.ceiling) {
            println!(
                "{:<11} big job end to end {:.1} s; the S3 server alone: PUT + GET of the input {:.1} s",
                kind.name(),
                f.csv.as_ref().map_or(f64::NAN, |c| c.total.as_secs_f64()),
                ceiling.same_size().as_secs_f64()
            );
        }
    }
}

/// The scaling curve's table: jobs/s per worker count, its speed-up over
/// one worker, and the queue wait.
pub fn print_scaling(r: &Result<Vec<crate::scaling::Point>>) {
    use crate::scaling::{SLEEP_MS, ideal};
    println!("\nScaling ({SLEEP_MS} ms sleepers, one slot per worker process, production stack)");
    let points = match r {
        Ok(p) => p,
        Err(e) => {
            println!("FAILED: {e:#}");
            return;
        }
    };
    println!(
        "{:>7} {:>6} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "workers", "jobs", "jobs/s", "speedup", "of ideal", "wait p50", "wait p99"
    );
    let base = points.first().map_or(f64::NAN, |p| p.jobs_per_sec);
    for p in points {
        println!(
            "{:>7} {:>6} {:>8.1} {:>7.2}x {:>7.0}% {:>7.0} ms {:>7.0} ms",
            p.workers,
            p.jobs,
            p.jobs_per_sec,
            p.jobs_per_sec / base,
            100.0 * p.jobs_per_sec / ideal(p.workers),
            crate::load::percentile_ms(&p.waits, 0.5),
            crate::load::percentile_ms(&p.waits, 0.99)
        );
    }
}

/// The retention sweep's figure.
pub fn print_sweep(run: &crate::sweep::SweepRun) {
    let secs = run.took.as_secs_f64();
    println!(
        "\nRetention sweep (production): {} jobs, {} objects in {secs:.2} s = {:.0} rows/s, {:.0} objects/s; \
         submit p99 idle {:.1} ms, while sweeping {:.1} ms ({:.2}x)",
        run.jobs,
        run.objects,
        run.jobs as f64 / secs,
        run.objects as f64 / secs,
        run.idle_p99_ms,
        run.during_p99_ms,
        run.during_p99_ms / run.idle_p99_ms
    );
}
