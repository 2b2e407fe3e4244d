//! Command line and environment configuration of the `agensium` binary.

use agensium_api::ApiLimits;
use agensium_api::serve::ServeConfig;
use agensium_core::{BackendConfig, S3Config};
use agensium_host::Limits;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Agensium: run WebAssembly processors on uploaded files.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    /// A file of `KEY=VALUE` lines (the environment variables below) read
    /// before anything else; real environment variables win. Also `AGENSIUM_CONFIG`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API and workers in one process. Embedded backends (SQLite, a local
    /// directory, an in-process rail) unless configured otherwise.
    Serve {
        /// Address the API listens on.
        #[arg(long, env = "AGENSIUM_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Jobs run at once.
        #[arg(long, env = "AGENSIUM_WORKERS", default_value_t = 2)]
        workers: usize,
        #[command(flatten)]
        backends: BackendArgs,
        #[command(flatten)]
        jobs: JobArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The API alone. Run any number, behind a load balancer, on shared
    /// backends (MySQL, Redis, S3).
    Api {
        /// Address the API listens on.
        #[arg(long, env = "AGENSIUM_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        backends: BackendArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// A worker process. Run any number, on any machines, on shared backends.
    Worker {
        /// Jobs run at once.
        #[arg(long, env = "AGENSIUM_CONCURRENCY", default_value_t = 2)]
        concurrency: usize,
        /// Address of a `/healthz` endpoint for orchestrators.
        #[arg(long, env = "AGENSIUM_HEALTH_LISTEN")]
        health_listen: Option<SocketAddr>,
        #[command(flatten)]
        backends: BackendArgs,
        #[command(flatten)]
        jobs: JobArgs,
        #[command(flatten)]
        ceilings: CeilingArgs,
    },
}

/// Where the three backends are.
#[derive(Args)]
struct BackendArgs {
    /// Metadata store: `mysql://user:pass@host:3306/db` or `sqlite://path`.
    #[arg(long, env = "AGENSIUM_DATABASE_URL")]
    database_url: Option<String>,
    /// Rail: `redis://host:6379`.
    #[arg(long, env = "AGENSIUM_REDIS_URL")]
    redis_url: Option<String>,
    /// Prefix of Redis keys.
    #[arg(long, env = "AGENSIUM_REDIS_PREFIX", default_value = "agensium")]
    redis_prefix: String,
    /// S3 bucket of the object store (credentials: the standard AWS chain,
    /// e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "AGENSIUM_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// S3 endpoint for self-hosted servers (MinIO, Garage…); path-style.
    #[arg(long, env = "AGENSIUM_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "AGENSIUM_S3_REGION")]
    s3_region: Option<String>,
    /// Directory of the embedded backends (those not configured above).
    #[arg(long, env = "AGENSIUM_DATA_DIR", default_value = "./agensium-data")]
    data_dir: PathBuf,
    /// Seconds a job's lease lasts without renewal; a dead worker's jobs are
    /// taken over after it.
    #[arg(long, env = "AGENSIUM_LEASE_SECS", default_value_t = 30)]
    lease_secs: u64,
}

impl BackendArgs {
    fn config(self) -> Result<BackendConfig> {
        if self.s3_bucket.is_none() && (self.s3_endpoint.is_some() || self.s3_region.is_some()) {
            bail!("AGENSIUM_S3_ENDPOINT/AGENSIUM_S3_REGION are set but AGENSIUM_S3_BUCKET is not");
        }
        if self.lease_secs == 0 {
            bail!("AGENSIUM_LEASE_SECS must be at least 1");
        }
        Ok(BackendConfig {
            database_url: self.database_url,
            redis_url: self.redis_url,
            redis_prefix: self.redis_prefix,
            s3: self.s3_bucket.map(|bucket| S3Config {
                endpoint: self.s3_endpoint,
                region: self.s3_region,
                ..S3Config::new(bucket)
            }),
            data_dir: self.data_dir,
            lease: Duration::from_secs(self.lease_secs),
        })
    }
}

/// Limits of every job.
#[derive(Args)]
struct JobArgs {
    /// Memory limit of a job, in MiB.
    #[arg(long, env = "AGENSIUM_MEMORY_LIMIT_MIB", default_value_t = 256)]
    memory_limit_mib: u64,
    /// Wall-time limit of a job, in seconds.
    #[arg(long, env = "AGENSIUM_TIME_LIMIT_SECS", default_value_t = 60)]
    time_limit_secs: u64,
    /// Output limit of a job, in MiB.
    #[arg(long, env = "AGENSIUM_OUTPUT_LIMIT_MIB", default_value_t = 16384)]
    output_limit_mib: u64,
    /// Log limit of a job, in KiB.
    #[arg(long, env = "AGENSIUM_LOG_LIMIT_KIB", default_value_t = 1024)]
    log_limit_kib: u64,
    /// Fuel of a job whose version declares none (about one unit per Wasm
    /// instruction). Unset: such jobs are not metered (wall time still applies).
    #[arg(long, env = "AGENSIUM_FUEL_LIMIT")]
    fuel_limit: Option<u64>,
    /// On SIGTERM, seconds running jobs may go on before they are stopped
    /// and handed back to the rail for another worker.
    #[arg(long, env = "AGENSIUM_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    shutdown_grace_secs: u64,
    /// Attempts a job gets when workers die or backends fail under it; then
    /// it fails with `max_attempts` (POST /v1/jobs/{id}/retry runs it again).
    #[arg(long, env = "AGENSIUM_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
}

impl JobArgs {
    fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_limit_mib << 20,
            wall_time: Duration::from_secs(self.time_limit_secs),
            output_bytes: self.output_limit_mib << 20,
            log_bytes: (self.log_limit_kib << 10) as usize,
            fuel: self.fuel_limit,
        }
    }
}

/// The highest limits a processor version may declare at upload.
#[derive(Args)]
struct CeilingArgs {
    /// Highest memory limit a version may declare, in MiB.
    #[arg(long, env = "AGENSIUM_CEILING_MEMORY_MIB", default_value_t = 4096)]
    ceiling_memory_mib: u64,
    /// Highest wall-time limit a version may declare, in seconds.
    #[arg(long, env = "AGENSIUM_CEILING_TIME_SECS", default_value_t = 3600)]
    ceiling_time_secs: u64,
    /// Highest output limit a version may declare, in MiB.
    #[arg(long, env = "AGENSIUM_CEILING_OUTPUT_MIB", default_value_t = 1 << 20)]
    ceiling_output_mib: u64,
    /// Highest log limit a version may declare, in KiB.
    #[arg(long, env = "AGENSIUM_CEILING_LOG_KIB", default_value_t = 16384)]
    ceiling_log_kib: u64,
    /// Highest fuel a version may declare.
    #[arg(long, env = "AGENSIUM_CEILING_FUEL", default_value_t = agensium_host::DEFAULT_FUEL_CEILING)]
    ceiling_fuel: u64,
}

impl CeilingArgs {
    fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.ceiling_memory_mib << 20,
            wall_time: Duration::from_secs(self.ceiling_time_secs),
            output_bytes: self.ceiling_output_mib << 20,
            log_bytes: (self.ceiling_log_kib << 10) as usize,
            fuel: Some(self.ceiling_fuel),
        }
    }
}

/// Size limits of the API.
#[derive(Args)]
struct ApiArgs {
    /// Largest job input accepted, in MiB (413 beyond).
    #[arg(long, env = "AGENSIUM_MAX_UPLOAD_MIB", default_value_t = 10240)]
    max_upload_mib: u64,
    /// Largest processor component accepted, in MiB (413 beyond).
    #[arg(long, env = "AGENSIUM_MAX_COMPONENT_MIB", default_value_t = 64)]
    max_component_mib: u64,
    #[command(flatten)]
    ceilings: CeilingArgs,
}

impl ApiArgs {
    fn limits(&self) -> ApiLimits {
        ApiLimits {
            ceilings: self.ceilings.limits(),
            max_upload_bytes: self.max_upload_mib << 20,
            max_component_bytes: self.max_component_mib << 20,
        }
    }
}

impl Cli {
    /// The process configuration the command asks for.
    pub fn into_config(self) -> Result<ServeConfig> {
        Ok(match self.command {
            Command::Serve {
                listen,
                workers,
                backends,
                jobs,
                api,
            } => ServeConfig {
                listen: Some(listen),
                health_listen: None,
                workers,
                backends: backends.config()?,
                limits: jobs.limits(),
                api: api.limits(),
                shutdown_grace: Duration::from_secs(jobs.shutdown_grace_secs),
                max_attempts: jobs.max_attempts,
                single_process: true,
            },
            Command::Api {
                listen,
                backends,
                api,
            } => ServeConfig {
                listen: Some(listen),
                health_listen: None,
                workers: 0,
                backends: backends.config()?,
                limits: Limits::default(),
                api: api.limits(),
                shutdown_grace: Duration::from_secs(30),
                max_attempts: 5,
                single_process: false,
            },
            Command::Worker {
                concurrency,
                health_listen,
                backends,
                jobs,
                ceilings,
            } => {
                if concurrency == 0 {
                    bail!("--concurrency must be at least 1");
                }
                ServeConfig {
                    listen: None,
                    health_listen,
                    workers: concurrency,
                    backends: backends.config()?,
                    limits: jobs.limits(),
                    api: ApiLimits {
                        ceilings: ceilings.limits(),
                        ..ApiLimits::default()
                    },
                    shutdown_grace: Duration::from_secs(jobs.shutdown_grace_secs),
                    max_attempts: jobs.max_attempts,
                    single_process: false,
                }
            }
        })
    }
}

/// Loads `--config FILE` / `AGENSIUM_CONFIG` into the environment (values
/// already in the environment win), before the command line is parsed.
pub fn load_config_file() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = std::env::var_os("AGENSIUM_CONFIG").map(PathBuf::from);
    while let Some(a) = args.next() {
        if a == "--config" {
            path = args.next().map(PathBuf::from);
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        }
    }
    if let Some(p) = path {
        dotenvy::from_path(&p)
            .with_context(|| format!("reading the config file {}", p.display()))?;
    }
    Ok(())
}
