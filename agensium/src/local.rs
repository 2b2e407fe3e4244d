//! `agensium run` and `agensium validate`: a processor on this machine, with
//! no server, in exactly the worker's sandbox (the same runtime, host
//! functions and WASI) and limits (the settings' defaults and ceilings, and
//! the limits a version may declare).

use agensium::Settings;
use agensium_domain::{DeclaredLimits, Limits, Pairs, ParamsBuilder};
use agensium_engine::{JobLog, Metering, Outcome, Processor, Run, Runtime};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What `agensium run` is asked.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The component (`.wasm`).
    pub component: PathBuf,
    /// The job's input: a file, or `-` for stdin.
    #[arg(long, short, default_value = "-")]
    pub input: PathBuf,
    /// Where the output goes: a file (written only when the job succeeds),
    /// or `-` for stdout.
    #[arg(long, short, default_value = "-")]
    pub output: PathBuf,
    /// A param, `KEY=VALUE`; repeat for more.
    #[arg(long = "param", short, value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// The limits a version may declare at upload (capped by the ceilings).
    #[command(flatten)]
    pub limits: DeclaredArgs,
}

/// The limits a version declares, as flags.
#[derive(clap::Args, Debug, Default)]
pub struct DeclaredArgs {
    /// Memory limit, in MiB.
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// Wall-time limit, in ms.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Output limit, in MiB.
    #[arg(long)]
    pub output_mib: Option<u64>,
    /// Log limit, in KiB.
    #[arg(long)]
    pub log_kib: Option<u64>,
    /// Fuel (instructions, roughly): the run is metered.
    #[arg(long)]
    pub fuel: Option<u64>,
}

impl DeclaredArgs {
    fn declared(&self) -> DeclaredLimits {
        DeclaredLimits {
            memory_mib: self.memory_mib,
            timeout_ms: self.timeout_ms,
            output_mib: self.output_mib,
            log_kib: self.log_kib,
            input_mib: None,
            fuel: self.fuel,
        }
    }
}

/// The limits a run gets: the settings' defaults, overridden by what is
/// declared, capped by the ceilings; declaring over a ceiling is an error,
/// as at upload.
fn limits(settings: &Settings, declared: &DeclaredLimits) -> Result<Limits> {
    settings
        .ceilings
        .check(declared)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Limits::resolve(
        &settings.limits,
        &settings.ceilings,
        declared,
    ))
}

/// `KEY=VALUE` flags as checked params (the keys and sizes the API takes).
pub fn params(raw: &[String]) -> Result<Pairs> {
    let mut b = ParamsBuilder::default();
    for p in raw {
        let Some((k, v)) = p.split_once('=') else {
            bail!("--param {p:?}: expected KEY=VALUE");
        };
        b.add(k, v.to_owned())
            .map_err(|e| anyhow::anyhow!("--param {p:?}: {e}"))?;
    }
    Ok(b.finish())
}

/// Reads and compiles a component, as admission does; the time it took.
fn compile(runtime: &Runtime, path: &Path, metering: Metering) -> Result<(Processor, Duration)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))?;
    let started = Instant::now();
    let processor = runtime
        .compile(&bytes, metering)
        .map_err(|e| anyhow::anyhow!("{}: {} ({})", path.display(), e, e.code()))?;
    Ok((processor, started.elapsed()))
}

/// `agensium run`: exit 0 when the job succeeds; 1 with the failure code
/// on stderr when it fails.
pub async fn run(args: RunArgs, settings: &Settings) -> Result<ExitCode> {
    let limits = limits(settings, &args.limits.declared())?;
    let params = params(&args.params)?;
    let runtime = Runtime::with_instances(1)?;
    let (processor, compiled) = compile(&runtime, &args.component, Metering::of(&limits))?;
    eprintln!("compiled in {:.0} ms", compiled.as_secs_f64() * 1e3);
    let input = input_stream(&args.input).await?;
    let log = JobLog::new(limits.log_bytes);
    let run = Run {
        params,
        input,
        limits,
        log: log.clone(),
        cancel: CancellationToken::new(),
    };
    let sink = Sink::open(&args.output).await?;
    let (outcome, written) = runtime
        .run_draining(&processor, run, |chunks| sink.drain(chunks))
        .await;
    let log = log.contents();
    io::stderr().write_all(&log)?;
    report(&outcome);
    match (&outcome.result, written) {
        (Ok(_), Ok(sink)) => {
            sink.commit().await?;
            Ok(ExitCode::SUCCESS)
        }
        (Ok(_), Err(e)) => Err(e.context("writing the output")),
        (Err(_), _) => Ok(ExitCode::FAILURE),
    }
}

/// The summary (or failure) and the usage, on stderr.
fn report(o: &Outcome) {
    match &o.result {
        Ok((content_type, stats)) => {
            let stats: Vec<String> = stats.iter().map(|(k, v)| format!("{k}={v}")).collect();
            eprintln!(
                "succeeded: content-type {}; {}",
                content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
                stats.join(" ")
            );
        }
        Err(e) => eprintln!("failed: {}: {}", e.code, e.message),
    }
    let fuel = o
        .fuel_consumed
        .map(|f| format!(", fuel {f}"))
        .unwrap_or_default();
    eprintln!(
        "usage: output {} bytes, peak memory {:.1} MiB, wall time {:.1} ms{fuel}",
        o.output_bytes,
        o.peak_memory as f64 / f64::from(1 << 20),
        o.wall_time.as_secs_f64() * 1e3,
    );
}

async fn input_stream(path: &Path) -> Result<agensium_ports::ByteStream> {
    if path == Path::new("-") {
        return Ok(tokio_util::io::ReaderStream::new(tokio::io::stdin()).boxed());
    }
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening the input {}", path.display()))?;
    Ok(tokio_util::io::ReaderStream::with_capacity(file, 256 << 10).boxed())
}

/// Where the output goes: stdout, or a file written beside its final name
/// and renamed there only when the job succeeds.
enum Sink {
    Stdout(tokio::io::Stdout),
    File {
        file: tokio::fs::File,
        partial: PathBuf,
        path: PathBuf,
    },
}

impl Sink {
    async fn open(path: &Path) -> Result<Self> {
        if path == Path::new("-") {
            return Ok(Self::Stdout(tokio::io::stdout()));
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("creating {}", partial.display()))?;
        Ok(Self::File {
            file,
            partial,
            path: path.to_owned(),
        })
    }

    /// Writes every chunk the run sends, until it ends. On a failed run
    /// (an `Err` comes last) a partial file is removed.
    async fn drain(mut self, mut rx: mpsc::Receiver<io::Result<Bytes>>) -> Result<Self> {
        let mut failed = false;
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Ok(b) => self.write(&b).await?,
                Err(_) => failed = true,
            }
        }
        self.flush().await?;
        if failed && let Self::File { partial, .. } = &self {
            let _ = tokio::fs::remove_file(partial).await;
        }
        Ok(self)
    }

    async fn write(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Self::Stdout(o) => o.write_all(b).await,
            Self::File { file, .. } => file.write_all(b).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Stdout(o) => o.flush().await,
            Self::File { file, .. } => file.sync_all().await,
        }
    }

    /// Moves a finished file to its name.
    async fn commit(self) -> Result<()> {
        if let Self::File { partial, path, .. } = self {
            tokio::fs::rename(&partial, &path)
                .await
                .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
        }
        Ok(())
    }
}

/// `agensium validate`: the checks an upload goes through (size, world,
/// compile), with what the component imports and how long it took.
pub fn validate(path: &Path, settings: &Settings) -> Result<ExitCode> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let max = settings.max_component_bytes;
    if size > max {
        eprintln!(
            "{}: {size} bytes, over the {max}-byte limit (AGENSIUM_MAX_COMPONENT_MIB)",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let runtime = Runtime::with_instances(1)?;
    let (processor, took) = match compile(&runtime, path, Metering::Epoch) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let (imports, exports) = processor.interfaces();
    println!("{}: a valid processor", path.display());
    println!("size: {size} bytes (limit {max})");
    println!("compile: {:.0} ms", took.as_secs_f64() * 1e3);
    println!("imports: {}", imports.join(", "));
    println!("exports: {}", exports.join(", "));
    Ok(ExitCode::SUCCESS)
}
