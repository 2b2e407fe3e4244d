//! The command line: subcommands, and the flag/environment layers of
//! [`Settings`]. Every subcommand takes every setting; a setting a role does
//! not use is ignored. Defaults are not written here: an unset flag leaves
//! the layer below (environment, config file, [`Settings::default`]).

use agensium::settings::{Role as ProcessRole, Secret, Settings};
use agensium_domain::{InlineLimit, Role, TeamName};
use anyhow::{Context, Result};
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
    /// Log lines on stderr as `text` or `json` (one object per line). Also
    /// `AGENSIUM_LOG_FORMAT`. Read before everything else.
    #[arg(long, global = true, value_enum, env = "AGENSIUM_LOG_FORMAT")]
    log_format: Option<crate::telemetry::LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API and job slots in one process. Embedded backends (SQLite, a local
    /// directory, an in-process rail) unless configured otherwise.
    Serve(SettingsArgs),
    /// The API alone. Run any number, behind a load balancer, on shared
    /// backends (MySQL, Redis, S3).
    Api(SettingsArgs),
    /// Job slots alone. Run any number, on any machines, on shared backends.
    Worker(SettingsArgs),
    /// Prints the settings the other commands would run with, after every
    /// layer (defaults < config file < environment < flags); passwords hidden.
    Settings(SettingsArgs),
    /// Operator commands, straight on the configured metadata store (no
    /// running API needed): teams and keys.
    Admin(AdminArgs),
    /// Runs a processor on a file here, with no server, in the worker's
    /// sandbox and limits: the summary, usage and log go to stderr; the
    /// exit status is 1 when the job fails.
    Run(LocalRunArgs),
    /// Checks a component as an upload is checked (size, world, compile)
    /// and prints its imports and compile time.
    Validate(ValidateArgs),
    /// Processors on a running API: push a version, list, show.
    Processor {
        #[command(subcommand)]
        command: crate::client::ProcessorCommand,
        #[command(flatten)]
        conn: crate::client::Conn,
    },
    /// Jobs on a running API: submit a file (with progress, `--wait`),
    /// status, logs, result, cancel, retry, list.
    Job {
        #[command(subcommand)]
        command: crate::client::JobCommand,
        #[command(flatten)]
        conn: crate::client::Conn,
    },
}

/// `agensium run …`.
#[derive(Args)]
struct LocalRunArgs {
    #[command(flatten)]
    run: crate::local::RunArgs,
    #[command(
        flatten,
        next_help_heading = "Settings (the limits' defaults and ceilings)"
    )]
    settings: SettingsArgs,
}

/// `agensium validate …`.
#[derive(Args)]
struct ValidateArgs {
    /// The component (`.wasm`).
    component: PathBuf,
    #[command(flatten, next_help_heading = "Settings (the component size limit)")]
    settings: SettingsArgs,
}

/// A command on this machine alone.
pub enum Local {
    /// `agensium run`.
    Run(crate::local::RunArgs),
    /// `agensium validate`.
    Validate(PathBuf),
}

/// `agensium admin …`.
#[derive(Args)]
struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// An operator command.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Creates a team (`[a-z0-9][a-z0-9-]{0,62}`).
    CreateTeam {
        /// The team's name.
        name: TeamName,
    },
    /// Creates an API key and prints it, once, on stdout.
    CreateKey {
        /// The key's team.
        #[arg(long)]
        team: TeamName,
        /// reader, submitter, publisher, admin or operator.
        #[arg(long)]
        role: Role,
        /// A label for listings.
        #[arg(long, default_value = "")]
        name: String,
        /// Days until the key stops working; unset: never.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Prints the `GRANT` statements that give a MySQL account what a
    /// worker needs and nothing more (run them as an administrator after
    /// `CREATE USER`; the API's account migrates).
    WorkerGrants {
        /// The database.
        #[arg(long, default_value = "agensium")]
        database: String,
        /// The worker's MySQL user.
        #[arg(long, default_value = "agensium_worker")]
        user: String,
        /// The hosts it connects from.
        #[arg(long, default_value = "%")]
        host: String,
    },
    /// Prints the one `GRANT` an autoscaler's MySQL account needs (KEDA's
    /// `mysql` trigger): `SELECT` on the view `backlog`, nothing else.
    BacklogGrant {
        /// The database.
        #[arg(long, default_value = "agensium")]
        database: String,
        /// The autoscaler's MySQL user.
        #[arg(long, default_value = "agensium_keda")]
        user: String,
        /// The hosts it connects from.
        #[arg(long, default_value = "%")]
        host: String,
    },
}

/// What the command line asks for.
pub enum Action {
    /// Run a process.
    Run(ProcessRole, Settings),
    /// Print the settings.
    Print(Settings),
    /// Run an operator command on the metadata store of these settings.
    Admin(AdminCommand, Settings),
    /// Run or check a processor here.
    Local(Local, Settings),
    /// Call a running API.
    Client(crate::client::Request, crate::client::Conn),
}

/// Every setting, as a flag and an environment variable. Unset: the layer below.
#[derive(Args, Default)]
#[allow(clippy::struct_field_names)]
struct SettingsArgs {
    /// Address the API listens on [default: 127.0.0.1:8080].
    #[arg(long, env = "AGENSIUM_LISTEN")]
    listen: Option<SocketAddr>,
    /// Address of `/healthz` and `/metrics` of a worker process.
    #[arg(long, env = "AGENSIUM_HEALTH_LISTEN")]
    health_listen: Option<SocketAddr>,
    /// Job slots: jobs run at once (serve, worker) [default: 2].
    #[arg(long, env = "AGENSIUM_SLOTS")]
    slots: Option<usize>,
    /// Metadata store: `mysql://user:pass@host:3306/db` or `sqlite://path`.
    #[arg(long, env = "AGENSIUM_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A file holding the metadata store's URL (Docker/Kubernetes secrets).
    #[arg(
        long,
        env = "AGENSIUM_DATABASE_URL_FILE",
        conflicts_with = "database_url"
    )]
    database_url_file: Option<PathBuf>,
    /// Rail: `redis://host:6379`.
    #[arg(long, env = "AGENSIUM_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// A file holding the rail's URL (Docker/Kubernetes secrets).
    #[arg(long, env = "AGENSIUM_REDIS_URL_FILE", conflicts_with = "redis_url")]
    redis_url_file: Option<PathBuf>,
    /// Prefix of Redis keys [default: agensium].
    #[arg(long, env = "AGENSIUM_REDIS_PREFIX")]
    redis_prefix: Option<String>,
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
    /// Directory of the embedded backends [default: ./agensium-data].
    #[arg(long, env = "AGENSIUM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Seconds a job's lease lasts without renewal [default: 30].
    #[arg(long, env = "AGENSIUM_LEASE_SECS")]
    lease_secs: Option<u64>,
    /// Memory limit of a job, in MiB [default: 256].
    #[arg(long, env = "AGENSIUM_MEMORY_LIMIT_MIB")]
    memory_limit_mib: Option<u64>,
    /// Wall-time limit of a job, in seconds [default: 60].
    #[arg(long, env = "AGENSIUM_TIME_LIMIT_SECS")]
    time_limit_secs: Option<u64>,
    /// Output limit of a job, in MiB [default: 16384].
    #[arg(long, env = "AGENSIUM_OUTPUT_LIMIT_MIB")]
    output_limit_mib: Option<u64>,
    /// Log limit of a job, in KiB [default: 1024].
    #[arg(long, env = "AGENSIUM_LOG_LIMIT_KIB")]
    log_limit_kib: Option<u64>,
    /// Fuel of a job whose version declares none. Unset: not metered.
    #[arg(long, env = "AGENSIUM_FUEL_LIMIT")]
    fuel_limit: Option<u64>,
    /// Attempts (lost workers, backend errors) before `max_attempts` [default: 5].
    #[arg(long, env = "AGENSIUM_MAX_ATTEMPTS")]
    max_attempts: Option<u32>,
    /// On SIGTERM, seconds running jobs may go on before they are handed
    /// back [default: 30].
    #[arg(long, env = "AGENSIUM_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// Highest memory limit a version may declare, in MiB [default: 4096].
    #[arg(long, env = "AGENSIUM_CEILING_MEMORY_MIB")]
    ceiling_memory_mib: Option<u64>,
    /// Highest wall-time limit a version may declare, in seconds [default: 3600].
    #[arg(long, env = "AGENSIUM_CEILING_TIME_SECS")]
    ceiling_time_secs: Option<u64>,
    /// Highest output limit a version may declare, in MiB [default: 1048576].
    #[arg(long, env = "AGENSIUM_CEILING_OUTPUT_MIB")]
    ceiling_output_mib: Option<u64>,
    /// Highest log limit a version may declare, in KiB [default: 16384].
    #[arg(long, env = "AGENSIUM_CEILING_LOG_KIB")]
    ceiling_log_kib: Option<u64>,
    /// Highest fuel a version may declare [default: 10^13].
    #[arg(long, env = "AGENSIUM_CEILING_FUEL")]
    ceiling_fuel: Option<u64>,
    /// Largest job input accepted, in MiB (413 beyond) [default: 10240].
    #[arg(long, env = "AGENSIUM_MAX_UPLOAD_MIB")]
    max_upload_mib: Option<u64>,
    /// Largest processor component accepted, in MiB (413 beyond) [default: 64].
    #[arg(long, env = "AGENSIUM_MAX_COMPONENT_MIB")]
    max_component_mib: Option<u64>,
    /// Job submissions per second per API key, per API process (0:
    /// unlimited) [default: 200].
    #[arg(long, env = "AGENSIUM_SUBMIT_RATE")]
    submit_rate: Option<u32>,
    /// Job submissions per second per team, all its keys together, per API
    /// process (0: unlimited) [default: 1000].
    #[arg(long, env = "AGENSIUM_TEAM_SUBMIT_RATE")]
    team_submit_rate: Option<u32>,
    /// Answers one API key may hold open at once (a `?wait=`, a followed
    /// result, events), per API process (0: unbounded) [default: 64].
    #[arg(long, env = "AGENSIUM_HELD_PER_KEY")]
    held_per_key: Option<u32>,
    /// The `agensium` binary that compiles uploads [default: this one].
    #[arg(long, env = "AGENSIUM_COMPILER")]
    compiler: Option<PathBuf>,
    /// Uploads compiled (or golden-checked) at once [default: 2].
    #[arg(long, env = "AGENSIUM_COMPILE_CONCURRENCY")]
    compile_concurrency: Option<usize>,
    /// Wall time of one upload's compile, in seconds [default: 60].
    #[arg(long, env = "AGENSIUM_COMPILE_TIMEOUT_SECS")]
    compile_timeout_secs: Option<u64>,
    /// Memory (heap) of one upload's compile, in MiB [default: 2048].
    #[arg(long, env = "AGENSIUM_COMPILE_MEMORY_MIB")]
    compile_memory_mib: Option<u64>,
    /// Inputs, outputs and logs up to this many KiB are kept inline with the
    /// job row, not in the object store (0: none; at most 1024) [default: 64].
    #[arg(long, env = "AGENSIUM_INLINE_KIB")]
    inline_kib: Option<u64>,
    /// How long an API process trusts what it read of keys, teams,
    /// processors and versions, in ms (0: read every time) [default: 1000].
    #[arg(long, env = "AGENSIUM_CACHE_TTL_MS")]
    cache_ttl_ms: Option<u64>,
    /// How long finished jobs (row, input, output, log) are kept unless
    /// their team sets its own: `30d`, `12h`, `90m`, `45s`, or `forever`
    /// [default: forever].
    #[arg(long, env = "AGENSIUM_RETENTION")]
    retention: Option<String>,
    /// Seconds between an API process's tries at the retention sweep (one
    /// process sweeps at a time) [default: 60].
    #[arg(long, env = "AGENSIUM_SWEEP_SECS")]
    sweep_secs: Option<u64>,
    /// Sandboxes one process holds at once [default: 128].
    #[arg(long, env = "AGENSIUM_INSTANCES")]
    instances: Option<u32>,
    /// HTTP connections served at once [default: 4096].
    #[arg(long, env = "AGENSIUM_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Connections accepted past AGENSIUM_MAX_CONNECTIONS for `/healthz`,
    /// `/metrics` and operators only [default: 64].
    #[arg(long, env = "AGENSIUM_RESERVED_CONNECTIONS")]
    reserved_connections: Option<usize>,
    /// Requests one API key has in flight at once, per API process
    /// (operators: unbounded) [default: 1024].
    #[arg(long, env = "AGENSIUM_IN_FLIGHT_PER_KEY")]
    in_flight_per_key: Option<usize>,
    /// Requests one team's keys together have in flight at once, per API
    /// process [default: 2048].
    #[arg(long, env = "AGENSIUM_IN_FLIGHT_PER_TEAM")]
    in_flight_per_team: Option<usize>,
    /// Slowest request body accepted, in bytes per second averaged from its
    /// start, checked once the body idle timeout has passed (0: off)
    /// [default: 1024].
    #[arg(long, env = "AGENSIUM_MIN_BODY_RATE")]
    min_body_rate: Option<u64>,
    /// Seconds a connection has to send its request headers [default: 10].
    #[arg(long, env = "AGENSIUM_HEADER_TIMEOUT_SECS")]
    header_timeout_secs: Option<u64>,
    /// Longest pause within a request body, in seconds [default: 30].
    #[arg(long, env = "AGENSIUM_BODY_IDLE_TIMEOUT_SECS")]
    body_idle_timeout_secs: Option<u64>,
    /// Deliver webhooks to loopback, private and link-local addresses too
    /// [default: false].
    #[arg(long, env = "AGENSIUM_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: Option<bool>,
    /// Attempts at a webhook before it is given up (pauses of 1 s, 2 s, 4 s,
    /// … at most 10 min between) [default: 10].
    #[arg(long, env = "AGENSIUM_WEBHOOK_MAX_ATTEMPTS", value_parser = clap::value_parser!(u32).range(1..=30))]
    webhook_max_attempts: Option<u32>,
    /// Time one webhook attempt may take, in seconds [default: 10].
    #[arg(long, env = "AGENSIUM_WEBHOOK_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..=300))]
    webhook_timeout_secs: Option<u64>,
}

/// A secret given as a value, or as the path of a file holding it (its
/// surrounding whitespace trimmed).
fn secret(value: Option<&String>, file: Option<&PathBuf>) -> Result<Option<Secret>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret file {}", path.display()))?;
        return Ok(Some(Secret::new(text.trim())));
    }
    Ok(value.map(|v| Secret::new(v.clone())))
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn mib(v: Option<u64>) -> Option<u64> {
    v.map(|v| v.saturating_mul(1 << 20))
}

fn kib(v: Option<u64>) -> Option<usize> {
    v.map(|v| usize::try_from(v.saturating_mul(1 << 10)).unwrap_or(usize::MAX))
}

fn secs(v: Option<u64>) -> Option<Duration> {
    v.map(Duration::from_secs)
}

impl SettingsArgs {
    /// Lays these flags (and the environment clap read) over `s`.
    fn apply(self, s: &mut Settings) -> Result<()> {
        set(&mut s.listen, self.listen);
        s.health_listen = self.health_listen.or(s.health_listen);
        set(&mut s.slots, self.slots);
        self.apply_backends(s)?;
        set(&mut s.lease, secs(self.lease_secs));
        let l = &mut s.limits;
        set(&mut l.memory_bytes, mib(self.memory_limit_mib));
        set(&mut l.wall_time, secs(self.time_limit_secs));
        set(&mut l.output_bytes, mib(self.output_limit_mib));
        set(&mut l.log_bytes, kib(self.log_limit_kib));
        l.fuel = self.fuel_limit.or(l.fuel);
        let c = &mut s.ceilings;
        set(&mut c.memory_bytes, mib(self.ceiling_memory_mib));
        set(&mut c.wall_time, secs(self.ceiling_time_secs));
        set(&mut c.output_bytes, mib(self.ceiling_output_mib));
        set(&mut c.log_bytes, kib(self.ceiling_log_kib));
        set(&mut c.fuel, self.ceiling_fuel);
        set(&mut s.max_attempts, self.max_attempts);
        set(&mut s.shutdown_grace, secs(self.shutdown_grace_secs));
        set(&mut s.max_upload_bytes, mib(self.max_upload_mib));
        set(&mut s.max_component_bytes, mib(self.max_component_mib));
        set(&mut s.submit_rate, self.submit_rate);
        set(&mut s.team_submit_rate, self.team_submit_rate);
        set(&mut s.held_per_key, self.held_per_key);
        let a = &mut s.admission;
        a.compiler = self.compiler.or(a.compiler.take());
        set(&mut a.concurrency, self.compile_concurrency);
        set(&mut a.timeout, secs(self.compile_timeout_secs));
        set(&mut a.memory_bytes, mib(self.compile_memory_mib));
        set(&mut s.instances, self.instances);
        set(
            &mut s.cache_ttl,
            self.cache_ttl_ms.map(Duration::from_millis),
        );
        if let Some(r) = &self.retention {
            s.retention = agensium::settings::parse_retention(r)
                .map_err(|e| anyhow::anyhow!("AGENSIUM_RETENTION: {e}"))?;
        }
        set(&mut s.sweep_every, secs(self.sweep_secs));
        if let Some(k) = self.inline_kib {
            s.inline = InlineLimit::new(k.saturating_mul(1024))
                .map_err(|e| anyhow::anyhow!("AGENSIUM_INLINE_KIB: {}", e.0))?;
        }
        let e = &mut s.edge;
        set(&mut e.max_connections, self.max_connections);
        set(&mut e.reserved_connections, self.reserved_connections);
        set(&mut e.in_flight_per_key, self.in_flight_per_key);
        set(&mut e.in_flight_per_team, self.in_flight_per_team);
        set(&mut e.min_body_rate, self.min_body_rate);
        set(&mut e.header_timeout, secs(self.header_timeout_secs));
        set(&mut e.body_idle_timeout, secs(self.body_idle_timeout_secs));
        let w = &mut s.webhooks;
        set(&mut w.allow_private, self.webhook_allow_private);
        set(&mut w.max_attempts, self.webhook_max_attempts);
        set(&mut w.timeout, secs(self.webhook_timeout_secs));
        Ok(())
    }

    fn apply_backends(&self, s: &mut Settings) -> Result<()> {
        let b = &mut s.backends;
        if let Some(u) = secret(self.database_url.as_ref(), self.database_url_file.as_ref())? {
            b.database_url = Some(u);
        }
        if let Some(u) = secret(self.redis_url.as_ref(), self.redis_url_file.as_ref())? {
            b.redis_url = Some(u);
        }
        set(&mut b.redis_prefix, self.redis_prefix.clone());
        b.s3_bucket = self.s3_bucket.clone().or(b.s3_bucket.take());
        b.s3_endpoint = self.s3_endpoint.clone().or(b.s3_endpoint.take());
        b.s3_region = self.s3_region.clone().or(b.s3_region.take());
        set(&mut b.data_dir, self.data_dir.clone());
        Ok(())
    }
}

impl Cli {
    /// What to do, with the settings the command line (over the
    /// environment and the config file, over the defaults) asks for.
    pub fn into_action(self) -> Result<Action> {
        let (role, args) = match self.command {
            Command::Serve(a) => (Some(ProcessRole::Serve), a),
            Command::Api(a) => (Some(ProcessRole::Api), a),
            Command::Worker(a) => (Some(ProcessRole::Worker), a),
            Command::Settings(a) => (None, a),
            Command::Admin(a) => {
                let mut settings = Settings::default();
                a.settings.apply(&mut settings)?;
                return Ok(Action::Admin(a.command, settings));
            }
            Command::Run(a) => {
                let mut settings = Settings::default();
                a.settings.apply(&mut settings)?;
                return Ok(Action::Local(Local::Run(a.run), settings));
            }
            Command::Processor { command, conn } => {
                return Ok(Action::Client(
                    crate::client::Request::Processor(command),
                    conn,
                ));
            }
            Command::Job { command, conn } => {
                return Ok(Action::Client(crate::client::Request::Job(command), conn));
            }
            Command::Validate(a) => {
                let mut settings = Settings::default();
                a.settings.apply(&mut settings)?;
                return Ok(Action::Local(Local::Validate(a.component), settings));
            }
        };
        let mut settings = Settings::default();
        args.apply(&mut settings)?;
        let Some(role) = role else {
            return Ok(Action::Print(settings));
        };
        settings.validate(role)?;
        Ok(Action::Run(role, settings))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_flags_keep_the_defaults() {
        let mut s = Settings::default();
        SettingsArgs::default().apply(&mut s).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn flags_override_in_their_units() {
        let mut s = Settings::default();
        let args = SettingsArgs {
            slots: Some(7),
            memory_limit_mib: Some(3),
            log_limit_kib: Some(2),
            ceiling_fuel: Some(9),
            database_url: Some("mysql://u:p@h/d".into()),
            ..SettingsArgs::default()
        };
        args.apply(&mut s).unwrap();
        assert_eq!(s.slots, 7);
        assert_eq!(s.limits.memory_bytes, 3 << 20);
        assert_eq!(s.limits.log_bytes, 2 << 10);
        assert_eq!(s.ceilings.fuel, 9);
        assert_eq!(s.backends.database_url.unwrap().expose(), "mysql://u:p@h/d");
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, "mysql://u:from-file@h/d\n").unwrap();
        let mut s = Settings::default();
        SettingsArgs {
            database_url_file: Some(path.clone()),
            ..SettingsArgs::default()
        }
        .apply(&mut s)
        .unwrap();
        assert_eq!(
            s.backends.database_url.unwrap().expose(),
            "mysql://u:from-file@h/d"
        );
        let missing = SettingsArgs {
            redis_url_file: Some(dir.path().join("nope")),
            ..SettingsArgs::default()
        };
        assert!(missing.apply(&mut Settings::default()).is_err());
        let both = Cli::try_parse_from([
            "agensium",
            "worker",
            "--redis-url",
            "redis://x",
            "--redis-url-file",
            path.to_str().unwrap(),
        ]);
        assert!(both.is_err(), "a value and a file for one secret");
    }

    #[test]
    fn every_subcommand_parses_the_same_settings() {
        for sub in ["serve", "api", "worker"] {
            let cli = Cli::try_parse_from(["agensium", sub, "--slots", "3", "--lease-secs", "9"])
                .unwrap();
            let Action::Run(_, s) = cli.into_action().unwrap() else {
                panic!("{sub} runs")
            };
            assert_eq!((s.slots, s.lease), (3, Duration::from_secs(9)));
        }
    }
}
