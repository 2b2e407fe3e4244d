//! Real `agensium` OS processes on shared backends (MySQL, Redis, S3).

use agensium_testkit::testenv;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `agensium` binary built by `cargo xtask test`.
pub fn binary() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/agensium");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p agensium --bin agensium` (`cargo xtask test` does it)",
        p.display()
    );
    p
}

/// Fresh shared backends for one test: a new MySQL database, a new Redis
/// key prefix and a new S3 bucket. `None` when skipped (outside CI).
#[derive(Debug, Clone)]
pub struct SharedBackends {
    /// Environment variables that point a process at them.
    pub env: Vec<(String, String)>,
    /// The Redis URL.
    pub redis_url: String,
    /// The Redis key prefix of this test.
    pub redis_prefix: String,
    /// An operator key on the fresh database (made by `agensium admin`).
    pub key: String,
}

impl SharedBackends {
    /// Creates them.
    pub async fn fresh() -> Option<Self> {
        let db = testenv::fresh_mysql_database().await?;
        let redis_url = testenv::redis().await?;
        let s3 = testenv::s3().await?;
        let redis_prefix = format!("agensium-test-{}", testenv::unique());
        let env = vec![
            ("AGENSIUM_DATABASE_URL".into(), db),
            ("AGENSIUM_REDIS_URL".into(), redis_url.clone()),
            ("AGENSIUM_REDIS_PREFIX".into(), redis_prefix.clone()),
            ("AGENSIUM_S3_BUCKET".into(), s3.bucket),
            ("AGENSIUM_S3_ENDPOINT".into(), s3.endpoint),
            ("AGENSIUM_S3_REGION".into(), "us-east-1".into()),
            // These tests count lost and duplicated jobs under bursts of
            // submissions; the per-key rate limit has its own test.
            ("AGENSIUM_SUBMIT_RATE".into(), "0".into()),
            ("AGENSIUM_TEAM_SUBMIT_RATE".into(), "0".into()),
        ];
        let key = operator_key(&env);
        Some(Self {
            env,
            redis_url,
            redis_prefix,
            key,
        })
    }

    /// A client of an API at `url` on these backends, with the operator key.
    pub fn client(&self, url: &str) -> crate::Client {
        crate::Client::with_key(url, &self.key)
    }
}

/// Runs `agensium admin ARGS` on the metadata store of `env`; its stdout.
pub fn admin(env: &[(String, String)], args: &[&str]) -> String {
    let out = Command::new(binary())
        .arg("admin")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RUST_LOG", "warn")
        .output()
        .expect("running agensium admin");
    assert!(
        out.status.success(),
        "agensium admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Makes a team `ops` and an operator key for it, as an operator would.
fn operator_key(env: &[(String, String)]) -> String {
    admin(env, &["create-team", "ops"]);
    admin(env, &["create-key", "--team", "ops", "--role", "operator"])
}

impl SharedBackends {
    /// The value of one of [`SharedBackends::env`].
    pub fn var(&self, key: &str) -> &str {
        &self.env.iter().find(|(k, _)| k == key).expect(key).1
    }

    /// Changes one of [`SharedBackends::env`] (to point processes elsewhere).
    pub fn set(&mut self, key: &str, value: &str) {
        self.env.iter_mut().find(|(k, _)| k == key).expect(key).1 = value.to_owned();
    }

    /// A client of the S3 bucket the processes use (to list objects).
    pub async fn store(&self) -> agensium_s3::S3Store {
        let mut cfg = agensium_s3::S3Config::new(self.var("AGENSIUM_S3_BUCKET"));
        cfg.endpoint = Some(self.var("AGENSIUM_S3_ENDPOINT").to_owned());
        cfg.region = Some("us-east-1".into());
        agensium_s3::S3Store::connect(cfg).await.unwrap()
    }
}

/// A child process, killed when dropped.
pub struct Proc {
    /// The child.
    pub child: Child,
    /// What it is, for messages.
    pub name: String,
    /// Its data directory, removed when dropped (after the child is gone).
    _dir: tempfile::TempDir,
}

/// A process's environment: the backends' variables, then a test's own.
type Env<'a> = (&'a [(String, String)], &'a [(&'a str, &'a str)]);

impl Proc {
    /// Starts `agensium ARGS` with `env` added and a data dir of its own.
    pub fn spawn(
        name: &str,
        args: &[&str],
        env: &[(String, String)],
        extra: &[(&str, &str)],
    ) -> Self {
        let level = std::env::var("AGENSIUM_TEST_LOG").unwrap_or_else(|_| "warn".into());
        Self::start(name, args, (env, extra), &level, Stdio::inherit())
    }

    /// [`Proc::spawn`] logging at `info` into `log` (its stderr), for
    /// tests that read a process's log lines.
    pub fn spawn_logged(
        name: &str,
        args: &[&str],
        env: &[(String, String)],
        extra: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Self {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        Self::start(name, args, (env, extra), "info", Stdio::from(file))
    }

    /// Starts the process: its environment, `RUST_LOG=level`, stderr to
    /// `stderr`, a data directory of its own.
    fn start(name: &str, args: &[&str], (env, extra): Env<'_>, level: &str, stderr: Stdio) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("agensium-proc-")
            .tempdir()
            .unwrap_or_else(|e| panic!("a data directory for {name}: {e}"));
        let child = Command::new(binary())
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .env("AGENSIUM_DATA_DIR", dir.path())
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            child,
            name: name.to_owned(),
            _dir: dir,
        }
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for a clean exit (at most `within`).
    pub fn terminate(mut self, within: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(
                start.elapsed() < within,
                "{} did not stop within {within:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url/healthz` answers 200 (30 s at most).
pub async fn wait_healthy(url: &str) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{url} never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
