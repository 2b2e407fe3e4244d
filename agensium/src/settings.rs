//! The one `Settings` of an `agensium` process, with its one `Default`.
//!
//! Layers, lowest first: [`Settings::default`] < the config file
//! (`--config FILE` / `AGENSIUM_CONFIG`, `KEY=VALUE` lines) < the
//! environment (`AGENSIUM_*`) < command-line flags. The layers above the
//! defaults are read by `cli.rs`; every subcommand takes the same settings.

mod secret;

pub use secret::{Secret, redact};

use crate::edge::EdgeSettings;
use agensium_api::admission::AdmissionSettings;
use agensium_api::webhooks::WebhookSettings;
use agensium_domain::{Ceilings, InlineLimit, Limits};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What an `agensium` process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// API and job slots in one process; the only process on its backends,
    /// so it requeues jobs left running at start.
    Serve,
    /// The API alone (any number, behind a load balancer).
    Api,
    /// Job slots alone (any number, on any machines), with an optional
    /// health listener.
    Worker,
}

/// Where the three backends are. Unset ones are the embedded adapters under
/// `data_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSettings {
    /// `mysql://user:pass@host:port/db` or `sqlite://path`; unset:
    /// `<data_dir>/agensium.db`.
    pub database_url: Option<Secret>,
    /// `redis://host:port`; unset: an in-process rail (single process only).
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key.
    pub redis_prefix: String,
    /// S3 bucket; unset: `<data_dir>/objects`.
    pub s3_bucket: Option<String>,
    /// Endpoint of a self-hosted S3 (path-style); unset: AWS.
    pub s3_endpoint: Option<String>,
    /// S3 region; unset: the AWS chain, else `us-east-1`.
    pub s3_region: Option<String>,
    /// Directory of the embedded backends and of the compiled-code cache.
    pub data_dir: PathBuf,
}

/// Every setting of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Address of the API (`serve`, `api`).
    pub listen: SocketAddr,
    /// Address of `/healthz` and `/metrics` of a worker process.
    pub health_listen: Option<SocketAddr>,
    /// Job slots: jobs this process runs at once (`serve`, `worker`; 0 on
    /// `serve`: accept jobs, run none).
    pub slots: usize,
    /// The backends.
    pub backends: BackendSettings,
    /// A job's lease; a dead worker's jobs are taken over after it.
    pub lease: Duration,
    /// Limits of a job whose version declares none.
    pub limits: Limits,
    /// Highest limits a version may declare.
    pub ceilings: Ceilings,
    /// Attempts (lost workers, backend errors) before `max_attempts`.
    pub max_attempts: u32,
    /// On SIGTERM, how long running jobs may go on before they are handed back.
    pub shutdown_grace: Duration,
    /// Largest job input accepted (413 beyond).
    pub max_upload_bytes: u64,
    /// Largest processor component accepted (413 beyond).
    pub max_component_bytes: u64,
    /// Job submissions per second per API key, in bursts of as many (0:
    /// unlimited); each API process counts on its own.
    pub submit_rate: u32,
    /// Job submissions per second per team, all its keys together, in
    /// bursts of as many (0: unlimited); each API process counts on its own.
    pub team_submit_rate: u32,
    /// Answers one API key may hold open at once (a `?wait=`, a followed
    /// result, events), per API process (0: unbounded).
    pub held_per_key: u32,
    /// How uploads are compiled (child processes, bounded) and checked.
    pub admission: AdmissionSettings,
    /// Sandboxes (component instances) one process holds at once: the
    /// pooling allocator's size. Jobs over it are handed back and retried.
    pub instances: u32,
    /// Bounds of the HTTP listeners (connections, slow clients).
    pub edge: EdgeSettings,
    /// Inputs, outputs and logs up to this size are kept inline with the
    /// job row, not in the object store.
    pub inline: InlineLimit,
    /// How long finished jobs (rows, inputs, outputs, logs) are kept when
    /// their team sets no retention of its own (`None`: forever).
    pub retention: Option<Duration>,
    /// How often an API process tries to take the retention sweep's lease
    /// and sweep.
    pub sweep_every: Duration,
    /// How long an API process trusts what it read of keys, teams,
    /// processors and versions (zero: it reads them on every request).
    pub cache_ttl: Duration,
    /// How webhooks are delivered.
    pub webhooks: WebhookSettings,
}

impl Default for Settings {
    /// The defaults: the one place each is written.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            health_listen: None,
            slots: 2,
            backends: BackendSettings {
                database_url: None,
                redis_url: None,
                redis_prefix: "agensium".into(),
                s3_bucket: None,
                s3_endpoint: None,
                s3_region: None,
                data_dir: PathBuf::from("./agensium-data"),
            },
            lease: Duration::from_secs(30),
            limits: Limits::default(),
            ceilings: Ceilings::default(),
            max_attempts: 5,
            shutdown_grace: Duration::from_secs(30),
            max_upload_bytes: 10 << 30,
            max_component_bytes: 64 << 20,
            submit_rate: 200,
            team_submit_rate: 1000,
            held_per_key: 64,
            admission: AdmissionSettings {
                compiler: None,
                concurrency: 2,
                wait: Duration::from_secs(10),
                timeout: Duration::from_secs(60),
                memory_bytes: 2 << 30,
            },
            instances: agensium_engine::DEFAULT_INSTANCES,
            edge: EdgeSettings {
                max_connections: 4096,
                reserved_connections: 64,
                in_flight_per_key: 1024,
                in_flight_per_team: 2048,
                header_timeout: Duration::from_secs(10),
                body_idle_timeout: Duration::from_secs(30),
                min_body_rate: 1024,
            },
            inline: InlineLimit::DEFAULT,
            cache_ttl: Duration::from_secs(1),
            retention: None,
            sweep_every: Duration::from_secs(60),
            webhooks: WebhookSettings::default(),
        }
    }
}

/// Settings that make no sense together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A value out of its range.
    #[error("{0}")]
    Invalid(&'static str),
}

impl Settings {
    /// The defaults, on embedded backends in `data_dir`, the API on a random
    /// loopback port: what tests start.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let d = Self::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            backends: BackendSettings {
                data_dir: data_dir.into(),
                ..d.backends
            },
            ..d
        }
    }

    /// Checks what the types cannot.
    pub fn validate(&self, role: Role) -> Result<(), SettingsError> {
        let b = &self.backends;
        if b.s3_bucket.is_none() && (b.s3_endpoint.is_some() || b.s3_region.is_some()) {
            return Err(SettingsError::Invalid(
                "AGENSIUM_S3_ENDPOINT/AGENSIUM_S3_REGION are set but AGENSIUM_S3_BUCKET is not",
            ));
        }
        if self.lease.is_zero() {
            return Err(SettingsError::Invalid(
                "AGENSIUM_LEASE_SECS must be at least 1",
            ));
        }
        if self.max_attempts == 0 {
            return Err(SettingsError::Invalid(
                "AGENSIUM_MAX_ATTEMPTS must be at least 1",
            ));
        }
        if self.admission.concurrency == 0 || self.admission.timeout.is_zero() {
            return Err(SettingsError::Invalid(
                "AGENSIUM_COMPILE_CONCURRENCY and AGENSIUM_COMPILE_TIMEOUT_SECS must be at least 1",
            ));
        }
        if self.edge.max_connections == 0
            || self.edge.header_timeout.is_zero()
            || self.edge.body_idle_timeout.is_zero()
        {
            return Err(SettingsError::Invalid(
                "AGENSIUM_MAX_CONNECTIONS, AGENSIUM_HEADER_TIMEOUT_SECS and AGENSIUM_BODY_IDLE_TIMEOUT_SECS must be at least 1",
            ));
        }
        let e = &self.edge;
        if e.in_flight_per_key == 0 || e.in_flight_per_key > e.in_flight_per_team {
            return Err(SettingsError::Invalid(
                "AGENSIUM_IN_FLIGHT_PER_KEY must be at least 1 and at most AGENSIUM_IN_FLIGHT_PER_TEAM",
            ));
        }
        if self.instances == 0 {
            return Err(SettingsError::Invalid(
                "AGENSIUM_INSTANCES must be at least 1",
            ));
        }
        if role == Role::Worker && self.slots == 0 {
            return Err(SettingsError::Invalid(
                "a worker needs AGENSIUM_SLOTS of at least 1",
            ));
        }
        Ok(())
    }

    /// True when every backend can be shared by several processes.
    pub fn is_shared(&self) -> bool {
        let b = &self.backends;
        b.database_url
            .as_ref()
            .is_some_and(|u| u.expose().starts_with("mysql://"))
            && b.redis_url.is_some()
            && b.s3_bucket.is_some()
    }
}

/// A retention as written: a number with a unit (`s`, `m`, `h`, `d`), or
/// `forever` (`None`).
pub fn parse_retention(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s == "forever" {
        return Ok(None);
    }
    let unit = match s.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(format!("{s:?}: a number with s, m, h or d, or forever")),
    };
    let n: u64 = s[..s.len() - 1]
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?}: a number above 0 with s, m, h or d, or forever"))?;
    Ok(Some(Duration::from_secs(n.saturating_mul(unit))))
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_every_role() {
        for role in [Role::Serve, Role::Api, Role::Worker] {
            assert_eq!(Settings::default().validate(role), Ok(()));
        }
    }

    #[test]
    fn contradictions_are_refused() {
        let mut s = Settings::default();
        s.backends.s3_endpoint = Some("http://x".into());
        assert!(s.validate(Role::Serve).is_err());
        let mut s = Settings::default();
        s.slots = 0;
        assert!(s.validate(Role::Serve).is_ok(), "serve may run no jobs");
        assert!(s.validate(Role::Worker).is_err());
    }

    #[test]
    fn secrets_do_not_print_in_debug() {
        let mut s = Settings::default();
        s.backends.database_url = Some(Secret::new("mysql://u:topsecret@h/d"));
        assert!(!format!("{s:?}").contains("topsecret"));
    }

    #[test]
    fn retentions_are_read_with_their_unit() {
        let d = |n| Some(Duration::from_secs(n));
        assert_eq!(parse_retention("45s"), Ok(d(45)));
        assert_eq!(parse_retention("90m"), Ok(d(5400)));
        assert_eq!(parse_retention("12h"), Ok(d(43_200)));
        assert_eq!(parse_retention(" 30d "), Ok(d(2_592_000)));
        assert_eq!(parse_retention("forever"), Ok(None));
        for bad in ["", "0d", "30", "d", "1w", "-1h", "1.5h"] {
            assert!(parse_retention(bad).is_err(), "{bad:?}");
        }
    }
}
