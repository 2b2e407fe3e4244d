//! `cargo xtask bench`: latency, throughput and memory figures of the real
//! `agensium` binary, measured end to end over HTTP on loopback, on the
//! embedded stack (`agensium serve`) and on the production stack
//! (`agensium api` + `agensium worker` on MySQL, Redis and S3).
//!
//! Per stack: register the example processors; small wordcount jobs one
//! after another (submit → succeeded); a burst of 1 KiB submits from
//! concurrent clients (submit latency); a larger burst timed until every job
//! succeeded (jobs/s); one big CSV streamed from disk through csv-to-jsonl
//! (MB/s); the fair-share figure (team A floods the rail with sleepers,
//! team B submits one job at a time: B's queue wait). Peak resident sets
//! (`VmHWM`) are read per phase.
//!
//! It builds what it measures with xtask's own tasks (the library of
//! `xtask/`): the processors, the fixtures, the binary, the S3 test server.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

mod api;
mod cost;
mod csv;
mod fair;
mod load;
mod mem;
mod report;
mod scaling;
mod stack;
mod sweep;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cost::{Meters, PerJob};
use csv::{CsvFile, CsvRun};
use load::{Burst, OpenLoop, percentile_ms};
use mem::{Rss, Sampled};
use report::{print_peaks, print_table};
use stack::{Kind, Settings, SharedBackends, Stack};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use xtask::{cargo, plugins, s3server};

/// Targets for the peak resident set, in MiB: API process, worker process.
const RSS_TARGETS: (f64, f64) = (64.0, 128.0);
/// Jobs each worker process (or `serve`) runs at once.
const CONCURRENCY: usize = 2;

/// Set on Ctrl-C: long blocking steps (writing the CSV) stop early.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Options of `cargo xtask bench`.
#[derive(clap::Parser)]
#[command(
    name = "cargo xtask bench",
    about = "Measure latency, throughput and peak memory on the embedded and production stacks."
)]
struct Args {
    /// Which stack to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    stack: Which,
    /// Small wordcount jobs of the throughput figure (submitted, then
    /// timed until all succeeded).
    #[arg(long, default_value_t = 5000)]
    jobs: usize,
    /// 1 KiB wordcount submits of the submit-latency figure.
    #[arg(long, default_value_t = 2000)]
    submits: usize,
    /// Concurrent HTTP clients of the submit and throughput figures.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Size of the CSV streamed through csv-to-jsonl, in MiB (0: skip).
    #[arg(long, default_value_t = 2048)]
    csv_mib: u64,
    /// Small jobs run one after another for the single-job latency figure.
    #[arg(long, default_value_t = 100)]
    seq_jobs: usize,
    /// Sleeper jobs team A floods the rail with before team B submits one
    /// job at a time, for the fair-share figure (0: skip).
    #[arg(long, default_value_t = 2000)]
    fair_jobs: usize,
    /// Jobs per worker of each run of the scaling curve (production stack:
    /// 1, 2, 4 and 8 one-slot workers on 50 ms sleepers; 0: skip).
    #[arg(long, default_value_t = 60)]
    scaling_jobs: usize,
    /// Finished jobs the retention sweep removes in the sweep figure
    /// (production stack; 0: skip).
    #[arg(long, default_value_t = 1000)]
    sweep_jobs: usize,
    /// Offered submit rates of the open-loop figure, per second.
    #[arg(long, value_delimiter = ',', default_value = "200,500")]
    rates: Vec<f64>,
    /// Seconds each open-loop rate is offered for.
    #[arg(long, default_value_t = 5.0)]
    open_secs: f64,
    /// The build measured: `release` (what the Dockerfile ships) or `debug`.
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    profile: Profile,
    /// Measure this `agensium` binary instead of building one (e.g. an
    /// older commit's, for before/after figures).
    #[arg(long)]
    binary: Option<std::path::PathBuf>,
}

/// The `--profile` values.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Profile {
    Release,
    Debug,
}

impl Args {
    /// What the summary says about the binary measured.
    fn build_name(&self) -> String {
        match (&self.binary, self.profile) {
            (Some(b), _) => format!("binary {}", b.display()),
            (None, Profile::Release) => "release build".into(),
            (None, Profile::Debug) => "debug build".into(),
        }
    }
}

/// The `--stack` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    Embedded,
    Production,
    Both,
}

impl Which {
    fn kinds(self) -> Vec<Kind> {
        match self {
            Which::Embedded => vec![Kind::Embedded],
            Which::Production => vec![Kind::Production],
            Which::Both => vec![Kind::Embedded, Kind::Production],
        }
    }
}

fn main() -> Result<()> {
    run(&clap::Parser::parse())
}

/// Builds the processors and the binary, then measures the chosen stacks.
fn run(args: &Args) -> Result<()> {
    let s3 = if args.stack.kinds().contains(&Kind::Production) {
        // Disk writeback of the gigabytes the big jobs store made the S3
        // figures (and their ceiling) swing by half from run to run: the
        // store keeps its data in RAM where there is a tmpfs.
        let shm = std::path::Path::new("/dev/shm");
        let s3 = if shm.is_dir() {
            println!("S3 test server data in {} (RAM)", shm.display());
            s3server::start_in(shm)?
        } else {
            s3server::start()?
        };
        for (k, v) in s3.env().into_iter().filter(|(k, _)| k.starts_with("AWS_")) {
            // SAFETY: nothing else runs yet (no runtime, no threads): no one
            // reads the environment concurrently. The AWS chain of
            // `S3Store::create_bucket` reads these credentials.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(k, v);
            }
        }
        Some(s3)
    } else {
        None
    };
    // First: the fixtures are checked with the binary measured.
    match (&args.binary, args.profile) {
        (Some(bin), _) => xtask::validate::use_binary(bin.clone()),
        (None, Profile::Release) => {
            // What the Dockerfile builds and users deploy.
            xtask::run(cargo().args(["build", "--release", "--locked", "-p", "agensium"]))?;
            xtask::validate::use_binary(xtask::root().join("target/release/agensium"));
        }
        // Same package selection as `cargo xtask test`: no second build of the dependencies.
        (None, Profile::Debug) => xtask::validate::build_workspace()?,
    }
    plugins::build(&plugins::all()?)?;
    if args.fair_jobs > 0 || args.csv_mib > 0 || args.scaling_jobs > 0 || args.sweep_jobs > 0 {
        // The sleeper of the fair-share and scaling figures and the big
        // echo job are the hostile fixture.
        xtask::fixtures::build_fixtures()?;
    }
    println!("measuring the {}", args.build_name());
    tokio::runtime::Runtime::new()?.block_on(bench(args, s3.as_ref()))
}

/// A production-only phase of `n` jobs (skipped at 0, without the S3
/// server, or once interrupted): its result, its failure printed.
async fn phase<'a, T, F, Fut>(
    s3: Option<&'a s3server::S3Server>,
    n: usize,
    name: &str,
    run: F,
) -> Option<Result<T>>
where
    F: FnOnce(&'a s3server::S3Server, usize) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let s3 = s3.filter(|_| n > 0 && !INTERRUPTED.load(Ordering::Relaxed))?;
    println!("\n== {name} (production) ==");
    let r = interruptible(run(s3, n)).await;
    if let Err(e) = &r {
        eprintln!("the {name} phase failed: {e:#}");
    }
    Some(r)
}

/// Runs `fut` unless Ctrl-C comes first.
async fn interruptible<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = fut => r,
        _ = tokio::signal::ctrl_c() => {
            INTERRUPTED.store(true, Ordering::Relaxed);
            bail!("interrupted")
        }
    }
}

/// Writes the CSV once, measures each stack in turn (a failed stack does
/// not stop the next), prints the summary and fails if any stack failed.
async fn bench(args: &Args, s3: Option<&s3server::S3Server>) -> Result<()> {
    let csv = if args.csv_mib > 0 {
        let bytes = args.csv_mib << 20;
        let t = Instant::now();
        let csv = interruptible(async {
            tokio::task::spawn_blocking(move || CsvFile::write(bytes, &INTERRUPTED)).await?
        })
        .await
        .context("writing the big CSV")?;
        println!(
            "wrote a {:.0} MB CSV ({} rows) in {:.1} s",
            csv.bytes as f64 / 1e6,
            csv.rows,
            t.elapsed().as_secs_f64()
        );
        Some(csv)
    } else {
        None
    };
    let mut results = Vec::new();
    for kind in args.stack.kinds() {
        println!("\n== {} ==", kind.name());
        let r = one(kind, args, s3, csv.as_ref()).await;
        if let Err(e) = &r {
            eprintln!("{} stack failed: {e:#}", kind.name());
        }
        results.push((kind, r));
        if INTERRUPTED.load(Ordering::Relaxed) {
            break;
        }
    }
    drop(csv);
    let scaled = phase(s3, args.scaling_jobs, "scaling", |s3, n| {
        scaling::run(s3, n)
    })
    .await;
    let swept = phase(s3, args.sweep_jobs, "retention sweep", |s3, n| {
        sweep::run(s3, n)
    })
    .await;
    print_table(args, &results);
    if let Some(Ok(run)) = &swept {
        report::print_sweep(run);
    }
    if let Some(r) = &scaled {
        report::print_scaling(r);
    }
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(k, _)| k.name())
        .collect();
    if !failed.is_empty() {
        bail!("the {} bench failed (see above)", failed.join(" and "));
    }
    if let Some(Err(e)) = scaled {
        bail!("the scaling curve failed: {e:#}");
    }
    if let Some(Err(e)) = swept {
        bail!("the sweep figure failed: {e:#}");
    }
    Ok(())
}

/// Starts one stack, measures it and tears it down (backends included).
async fn one(
    kind: Kind,
    args: &Args,
    s3: Option<&s3server::S3Server>,
    csv: Option<&CsvFile>,
) -> Result<Figures> {
    let settings = Settings {
        concurrency: CONCURRENCY,
        workers: 1,
        max_upload_mib: (args.csv_mib + 64).max(10240),
        time_limit_secs: 3600,
    };
    match kind {
        Kind::Embedded => {
            interruptible(async {
                let stack = Stack::embedded(&settings).await?;
                measure(&stack, args, csv, None).await
            })
            .await
        }
        Kind::Production => {
            let s3 = s3.context("the S3 server is not running")?;
            let backends = SharedBackends::create(s3)
                .await
                .context("creating the production backends")?;
            // The stack (its processes) is gone when this returns.
            let figures = interruptible(async {
                let stack = Stack::production(&settings, &backends.env).await?;
                measure(&stack, args, csv, Some(s3)).await
            })
            .await;
            if let Err(e) = backends.cleanup().await {
                eprintln!("warning: cleaning up the bench database and Redis keys: {e:#}");
            }
            figures
        }
    }
}

/// The phase that starts the stack and registers the processors: the API
/// runs each upload's golden check in its own process (a Python component
/// takes ~100 MiB there), so its peak is printed apart from the jobs'.
const REGISTER_PHASE: &str = "startup + register";

/// Peak resident set of the API (or `serve`) process and of the worker
/// during one phase.
struct PhasePeak {
    phase: &'static str,
    api: Rss,
    worker: Option<Rss>,
    sampled: Vec<Sampled>,
}

/// What one stack measured.
struct Figures {
    small: Small,
    csv: Option<CsvRun>,
    peaks: Vec<PhasePeak>,
}

impl Figures {
    /// Highest peak of the API process and of the worker over the job
    /// phases (not [`REGISTER_PHASE`]).
    fn max_rss(&self) -> (f64, Option<f64>) {
        let jobs = || self.peaks.iter().filter(|p| p.phase != REGISTER_PHASE);
        let api = jobs().map(|p| p.api.peak_mib).fold(0.0, f64::max);
        let worker = jobs()
            .filter_map(|p| p.worker.map(|w| w.peak_mib))
            .reduce(f64::max);
        (api, worker)
    }
}

/// Reads the peaks of the stack's processes for `phase` and resets them.
fn phase_peak(stack: &Stack, phase: &'static str, sampled: Vec<Sampled>) -> Result<PhasePeak> {
    let (api_pid, worker_pid) = stack.pids();
    let api = mem::rss(api_pid)?;
    let worker = worker_pid.map(mem::rss).transpose()?;
    for pid in std::iter::once(api_pid).chain(worker_pid) {
        if !mem::reset_peak(pid) {
            eprintln!(
                "note: cannot reset the peak RSS of pid {pid}; later peaks include earlier phases"
            );
        }
    }
    Ok(PhasePeak {
        phase,
        api,
        worker,
        sampled,
    })
}

/// Runs every phase on a started stack, printing figures as they come.
async fn measure(
    stack: &Stack,
    args: &Args,
    csv: Option<&CsvFile>,
    s3: Option<&s3server::S3Server>,
) -> Result<Figures> {
    let (api_pid, worker_pid) = stack.pids();
    let pids: Vec<u32> = std::iter::once(api_pid).chain(worker_pid).collect();
    let mut peaks = Vec::new();

    for name in plugins::all()? {
        let path = plugins::output(&name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let took = stack.api.register(&name, bytes).await?;
        println!(
            "register {name:<13} (upload + validate + compile) {:>8.1} ms",
            took.as_secs_f64() * 1e3
        );
    }
    peaks.push(phase_peak(stack, REGISTER_PHASE, Vec::new())?);

    let (small, sampled) = mem::watch(&pids, small_jobs(stack, args, s3)).await;
    let small = small?;
    peaks.push(phase_peak(stack, "small jobs", sampled)?);

    let csv_run = match csv {
        Some(csv) => {
            let meters = Meters::new(stack, s3)?;
            let before = meters.read().await?;
            let (run, sampled) = mem::watch(&pids, csv::run(stack, csv)).await;
            let mut run = run?;
            PerJob::between(&before, &meters.read().await?, 1).print("big csv job");
            if let Some(s3) = s3 {
                run.ceiling = Some(csv::best_ceiling(s3, csv).await?);
            }
            let mb = csv.bytes as f64 / 1e6;
            println!(
                "csv-to-jsonl {mb:.0} MB ({} rows): upload {:.1} s, run {:.1} s ({:.1} MB/s in the worker), \
                 result followed from the 202 to its last byte {:.1} s; {:.1} s = {:.1} MB/s end to end; output {:.0} MB",
                csv.rows,
                run.upload.as_secs_f64(),
                run.run_secs,
                mb / run.run_secs,
                run.download.as_secs_f64(),
                run.total.as_secs_f64(),
                mb / run.total.as_secs_f64(),
                run.output_bytes as f64 / 1e6
            );
            if let Some(c) = run.ceiling {
                let same = c.same_size().as_secs_f64();
                let own = c.for_output(run.output_bytes).as_secs_f64();
                println!(
                    "S3 server alone, PUT + GET of {mb:.0} MB (best of 3): {same:.1} s = {:.1} MB/s; \
                     with the GET scaled to the output's {:.0} MB: {own:.1} s; end to end took {:.2}x that",
                    mb / same,
                    run.output_bytes as f64 / 1e6,
                    run.total.as_secs_f64() / own
                );
            }
            peaks.push(phase_peak(stack, "big csv job", sampled)?);
            let before = meters.read().await?;
            let (echo, sampled) = mem::watch(&pids, csv::echo(stack, csv)).await;
            let echo = echo?;
            PerJob::between(&before, &meters.read().await?, 1).print("big echo job");
            println!(
                "echo {mb:.0} MB (output as large as the input): upload {:.1} s, run {:.1} s, \
                 result followed to its last byte {:.1} s; {:.1} s = {:.1} MB/s end to end{}",
                echo.upload.as_secs_f64(),
                echo.run_secs,
                echo.download.as_secs_f64(),
                echo.total.as_secs_f64(),
                mb / echo.total.as_secs_f64(),
                run.ceiling.map_or(String::new(), |c| format!(
                    "; {:.2}x the S3 server's PUT + GET",
                    echo.total.as_secs_f64() / c.same_size().as_secs_f64()
                ))
            );
            peaks.push(phase_peak(stack, "big echo job", sampled)?);
            Some(run)
        }
        None => None,
    };
    if args.fair_jobs > 0 {
        // Last: its jobs are not in the other phases' counts.
        fair::run(stack, args.fair_jobs, args.clients).await?;
    }
    print_peaks(stack.kind, &peaks);
    Ok(Figures {
        small,
        csv: csv_run,
        peaks,
    })
}

/// What the small-job phases measured.
struct Small {
    /// Submit → succeeded of jobs run one after another, sorted.
    seq: Vec<std::time::Duration>,
    /// The closed-loop submit burst.
    submit: Burst,
    /// The open-loop submits: offered rate and what it measured.
    open: Vec<(f64, OpenLoop)>,
    /// Jobs per second of the throughput burst.
    jobs_per_sec: f64,
    /// What the throughput burst cost per job.
    cost: PerJob,
}

/// The sequential, submit-latency (closed and open loop) and throughput
/// phases; the throughput phase's cost per job is metered.
async fn small_jobs(stack: &Stack, args: &Args, s3: Option<&s3server::S3Server>) -> Result<Small> {
    let seq = load::sequential(stack, args.seq_jobs).await?;
    println!(
        "sequential wordcount ({} jobs, submit → succeeded): p50 {:.2} ms  p99 {:.2} ms",
        args.seq_jobs,
        percentile_ms(&seq, 0.5),
        percentile_ms(&seq, 0.99)
    );
    let waits = args.seq_jobs / 2;
    let (polled, streamed) = load::waiting(stack, waits).await?;
    println!(
        "job end → answer ({waits} jobs each): ?wait= p50 {:.2} ms  p99 {:.2} ms;  /events p50 {:.2} ms  p99 {:.2} ms",
        percentile_ms(&polled, 0.5),
        percentile_ms(&polled, 0.99),
        percentile_ms(&streamed, 0.5),
        percentile_ms(&streamed, 0.99)
    );
    let mut expected = args.seq_jobs + 2 * waits;
    print_host_overhead(stack).await;

    let kib = Bytes::from(kib_of_text());
    let submit = load::burst(stack, args.submits, args.clients, |_| kib.clone()).await?;
    println!(
        "submit 1 KiB closed loop ({} jobs, {} clients): p50 {:.2} ms  p99 {:.2} ms  p999 {:.2} ms  {:.0} submits/s",
        args.submits,
        args.clients,
        percentile_ms(&submit.latencies, 0.5),
        percentile_ms(&submit.latencies, 0.99),
        percentile_ms(&submit.latencies, 0.999),
        args.submits as f64 / submit.elapsed.as_secs_f64()
    );
    expected += args.submits;
    load::drain(stack, expected)
        .await
        .context("after the submit burst")?;

    let mut open = Vec::new();
    for &rate in &args.rates {
        let n = (rate * args.open_secs).round().max(1.0) as usize;
        let o = load::open_loop(stack, rate, n, |_| kib.clone()).await?;
        let slowest: Vec<String> = o
            .slowest
            .iter()
            .map(|(due, took)| {
                let (due, took) = (due.as_secs_f64(), took.as_secs_f64() * 1e3);
                format!("{took:.1} ms due at {due:.3} s")
            })
            .collect();
        println!(
            "submit 1 KiB open loop ({rate:.0}/s offered, {n} jobs): p50 {:.2} ms  p99 {:.2} ms  p999 {:.2} ms  {:.0} submits/s answered; slowest: {}",
            percentile_ms(&o.latencies, 0.5),
            percentile_ms(&o.latencies, 0.99),
            percentile_ms(&o.latencies, 0.999),
            o.achieved,
            slowest.join(", ")
        );
        expected += n;
        load::drain(stack, expected)
            .await
            .context("after the open-loop submits")?;
        open.push((rate, o));
    }

    let meters = Meters::new(stack, s3)?;
    let before = meters.read().await?;
    let t = Instant::now();
    let burst = load::burst(stack, args.jobs, args.clients, |i| {
        Bytes::from(format!("job {i}: a small input of a few words\n"))
    })
    .await?;
    expected += args.jobs;
    let done = load::drain(stack, expected)
        .await
        .context("after the throughput burst")?;
    let cost = PerJob::between(&before, &meters.read().await?, args.jobs);
    let secs = (done - t).as_secs_f64();
    let jobs_per_sec = args.jobs as f64 / secs;
    println!(
        "throughput ({} jobs, {} clients): submitted in {:.1} s, all succeeded after {secs:.1} s = {jobs_per_sec:.0} jobs/s",
        args.jobs,
        args.clients,
        burst.elapsed.as_secs_f64()
    );
    cost.print("throughput burst (the bench's own polling of the job list included)");
    Ok(Small {
        seq,
        submit,
        open,
        jobs_per_sec,
        cost,
    })
}

/// The worker's own split of a small job, from its `/metrics` summaries
/// (so far: the sequential jobs): ticket taken → `process` entered, and
/// `process` returned → job row final.
async fn print_host_overhead(stack: &Stack) {
    let show = |q: &[(f64, f64)]| {
        let at = |want: f64| {
            q.iter()
                .find(|(k, _)| (*k - want).abs() < 1e-9)
                .map_or("-".to_owned(), |(_, v)| format!("{:.3}", v * 1e3))
        };
        format!("p50 {} ms  p99 {} ms", at(0.5), at(0.99))
    };
    for (what, metric) in [
        (
            "ticket taken → process entered",
            "agensium_job_setup_seconds",
        ),
        (
            "process returned → row final  ",
            "agensium_job_finish_seconds",
        ),
        ("ticket taken → row final      ", "agensium_job_seconds"),
    ] {
        match stack.worker_summary(metric).await {
            Ok(q) if !q.is_empty() => println!("host overhead, {what}: {}", show(&q)),
            Ok(_) => println!("host overhead, {what}: no samples in /metrics"),
            Err(e) => println!("host overhead, {what}: reading /metrics failed: {e:#}"),
        }
    }
}

/// About 1 KiB of words and lines.
fn kib_of_text() -> String {
    let mut s = String::with_capacity(1024);
    while s.len() < 1024 - 28 {
        s.push_str("lorem ipsum dolor sit amet\n");
    }
    s
}
