//! The systems under test: real `agensium` OS processes, either one
//! `agensium serve` on embedded backends or an `agensium api` plus an
//! `agensium worker` on MariaDB/MySQL, Redis and S3. Every process is killed
//! when its [`Stack`] is dropped, on errors too.

use super::api::Api;
use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xtask::validate::binary;

/// MySQL server of the production stack (no database part); overridable
/// with `AGENSIUM_BENCH_MYSQL_URL`.
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";
/// Redis of the production stack; overridable with `AGENSIUM_BENCH_REDIS_URL`.
const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// How long a process may take to answer `/healthz`.
const STARTUP: Duration = Duration::from_secs(60);

/// Which system a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One `agensium serve` process on SQLite, a directory and an in-process rail.
    Embedded,
    /// `agensium api` + `agensium worker` on MySQL, Redis and S3.
    Production,
}

impl Kind {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Embedded => "embedded",
            Kind::Production => "production",
        }
    }
}

/// Settings shared by every process of a stack.
pub struct Settings {
    /// Jobs a worker (or `serve`) runs at once.
    pub concurrency: usize,
    /// Worker processes of the production stack.
    pub workers: usize,
    /// Largest input accepted, in MiB.
    pub max_upload_mib: u64,
    /// Wall-time limit of a job, in seconds.
    pub time_limit_secs: u64,
}

/// One `agensium` child process, killed and reaped on drop.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    /// Starts the `agensium` binary with ARGS and exactly the `AGENSIUM_*`
    /// variables in `env` (inherited ones are removed), logging at `warn` to
    /// our stderr.
    fn spawn(name: &'static str, args: &[&str], env: &[(String, String)]) -> Result<Self> {
        let bin = binary();
        let mut cmd = Command::new(&bin);
        cmd.args(args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AGENSIUM_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()));
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {}", bin.display()))?;
        eprintln!(
            "started {name} (pid {}): agensium {}",
            child.id(),
            args.join(" ")
        );
        Ok(Self { name, child })
    }

    /// Fails when the process has exited.
    fn check(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} (pid {}) exited unexpectedly ({status}); see its log above",
                self.name,
                self.child.id()
            );
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running stack: its processes and a client of its API.
pub struct Stack {
    /// Which one it is.
    pub kind: Kind,
    /// Client of its API.
    pub api: Api,
    /// The API process first; the worker second (production only).
    procs: std::sync::Mutex<Vec<Proc>>,
    /// Base URL of the process running the workers (its `/metrics`).
    pub worker_base: String,
    _data: tempfile::TempDir,
}

impl Stack {
    /// Starts `agensium serve --workers N` on a fresh data directory.
    pub async fn embedded(s: &Settings) -> Result<Self> {
        let data = temp_dir("agensium-bench-data-")?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let env = common_env(&data, s);
        let serve = Proc::spawn(
            "agensium serve",
            &[
                "serve",
                "--listen",
                &listen,
                "--slots",
                &s.concurrency.to_string(),
            ],
            &env,
        )?;
        let mut stack = Self::new(Kind::Embedded, &listen, vec![serve], data);
        stack.wait_healthy(&stack.api.base).await?;
        // `serve` wrote its first (operator) key there on its empty data dir.
        let key = std::fs::read_to_string(stack._data.path().join("admin.key"))
            .context("reading the admin key `agensium serve` writes")?;
        stack.api = stack.api.clone().with_key(&key)?;
        Ok(stack)
    }

    /// Starts `agensium api` and `s.workers` × `agensium worker --slots N`
    /// on `backends` (the first answers `/metrics` at `worker_base`).
    pub async fn production(s: &Settings, backends: &[(String, String)]) -> Result<Self> {
        let data = temp_dir("agensium-bench-data-")?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let health = format!("127.0.0.1:{}", free_port()?);
        let mut env = common_env(&data, s);
        env.extend(backends.iter().cloned());
        let key = operator_key(&env)?;
        let api = Proc::spawn("agensium api", &["api", "--listen", &listen], &env)?;
        let mut stack = Self::new(Kind::Production, &listen, vec![api], data);
        stack.api = stack.api.clone().with_key(&key)?;
        stack.worker_base = format!("http://{health}");
        stack.wait_healthy(&stack.api.base).await?;
        let slots = s.concurrency.to_string();
        for i in 0..s.workers.max(1) {
            let mut args = vec!["worker", "--slots", &slots];
            if i == 0 {
                args.extend(["--health-listen", &health]);
            }
            let worker = Proc::spawn("agensium worker", &args, &env)?;
            stack.lock().push(worker);
        }
        stack.wait_healthy(&stack.worker_base).await?;
        Ok(stack)
    }

    fn new(kind: Kind, listen: &str, procs: Vec<Proc>, data: tempfile::TempDir) -> Self {
        Self {
            kind,
            worker_base: format!("http://{listen}"),
            api: Api::new(format!("http://{listen}")),
            procs: std::sync::Mutex::new(procs),
            _data: data,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Proc>> {
        // A panic while holding the lock leaves plain data: keep using it.
        self.procs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fails when one of the processes has exited.
    pub fn check(&self) -> Result<()> {
        self.lock().iter_mut().try_for_each(Proc::check)
    }

    /// Pids of the API process (`serve` when embedded) and of the worker.
    pub fn pids(&self) -> (u32, Option<u32>) {
        let procs = self.lock();
        let pid = |i: usize| procs.get(i).map(|p| p.child.id());
        (pid(0).unwrap_or(0), pid(1))
    }

    /// Quantiles of a Prometheus summary on the workers' `/metrics`:
    /// `(quantile, seconds)` pairs, e.g. `[(0.5, 0.0004), (0.99, 0.001)]`.
    pub async fn worker_summary(&self, metric: &str) -> Result<Vec<(f64, f64)>> {
        let url = format!("{}/metrics", self.worker_base);
        let text = self.api.http.get(&url).send().await?.text().await?;
        let prefix = format!("{metric}{{quantile=\"");
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|l| {
                let (q, v) = l.split_once("\"} ")?;
                Some((q.parse().ok()?, v.trim().parse().ok()?))
            })
            .collect())
    }

    /// Waits until `base/healthz` answers 200 while every process lives.
    async fn wait_healthy(&self, base: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            self.check()?;
            if let Ok(r) = self.api.http.get(format!("{base}/healthz")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > STARTUP {
                bail!("{base}/healthz did not answer 200 within {STARTUP:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The MySQL server of the production stack (no database part).
pub fn mysql_url() -> String {
    std::env::var("AGENSIUM_BENCH_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into())
}

/// The Redis of the production stack.
pub fn redis_url() -> String {
    std::env::var("AGENSIUM_BENCH_REDIS_URL").unwrap_or_else(|_| REDIS_URL.into())
}

/// Makes a team `bench` and an operator key on the metadata store of
/// `env` with `agensium admin`, as an operator would; returns the key.
fn operator_key(env: &[(String, String)]) -> Result<String> {
    let admin = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new(binary())
            .arg("admin")
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .context("running agensium admin")?;
        if !out.status.success() {
            bail!(
                "agensium admin {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    admin(&["create-team", "bench"])?;
    admin(&["create-key", "--team", "bench", "--role", "operator"])
}

/// Environment of every process: its data directory and job limits. The
/// submit rate limit is off: the bench measures the system, not the limiter.
fn common_env(data: &tempfile::TempDir, s: &Settings) -> Vec<(String, String)> {
    vec![
        ("AGENSIUM_SUBMIT_RATE".into(), "0".into()),
        ("AGENSIUM_TEAM_SUBMIT_RATE".into(), "0".into()),
        (
            "AGENSIUM_DATA_DIR".into(),
            data.path().display().to_string(),
        ),
        (
            "AGENSIUM_MAX_UPLOAD_MIB".into(),
            s.max_upload_mib.to_string(),
        ),
        (
            "AGENSIUM_TIME_LIMIT_SECS".into(),
            s.time_limit_secs.to_string(),
        ),
    ]
}

/// A fresh temporary directory.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("creating a temporary directory")
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// Fresh production backends: a new MySQL database, a new Redis key prefix
/// and a new S3 bucket. Remove them with [`SharedBackends::cleanup`].
pub struct SharedBackends {
    /// The `AGENSIUM_*` and `AWS_*` variables that point a process at them.
    pub env: Vec<(String, String)>,
    mysql: mysql_async::Opts,
    database: String,
    redis: redis::Client,
    redis_prefix: String,
}

impl SharedBackends {
    /// Creates them; `s3` is the running S3 server.
    pub async fn create(s3: &xtask::s3server::S3Server) -> Result<Self> {
        use mysql_async::prelude::Queryable;
        // The database last: nothing to undo when an earlier step fails.
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let redis_url = redis_url();
        let redis = redis::Client::open(redis_url.as_str())
            .with_context(|| format!("parsing the Redis URL {redis_url}"))?;
        let mut rc = redis
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {redis_url}"))?;
        redis::cmd("PING")
            .query_async::<String>(&mut rc)
            .await
            .with_context(|| format!("pinging Redis at {redis_url}"))?;
        let redis_prefix = format!("agensium-bench-{unique}");

        // Short: the test server keeps an upload's metadata in a file named
        // after base64(bucket) + base64(key), and a file name has 255 bytes.
        let short = &unique[unique.len() - 12..];
        let mut bucket = agensium_s3::S3Config::new(format!("agensium-bench-{short}"));
        bucket.endpoint = Some(s3.endpoint.clone());
        bucket.region = Some("us-east-1".into());
        agensium_s3::S3Store::create_bucket(&bucket)
            .await
            .with_context(|| format!("creating the bucket {}", bucket.bucket))?;

        let server = mysql_url();
        let mysql = mysql_async::Opts::from_url(&server)
            .with_context(|| format!("parsing the MySQL URL {server}"))?;
        let database = format!("agensium_bench_{unique}");
        let mut conn = tokio::time::timeout(
            Duration::from_secs(10),
            mysql_async::Conn::new(mysql.clone()),
        )
        .await
        .with_context(|| format!("connecting to MySQL at {server}: timed out"))?
        .with_context(|| format!("connecting to MySQL at {server}"))?;
        conn.query_drop(format!("CREATE DATABASE `{database}`"))
            .await
            .with_context(|| format!("creating the database {database}"))?;
        conn.disconnect().await?;

        let url = format!("{}/{database}", server.trim_end_matches('/'));
        let mut env: Vec<(String, String)> = vec![
            ("AGENSIUM_DATABASE_URL".into(), url),
            ("AGENSIUM_REDIS_URL".into(), redis_url),
            ("AGENSIUM_REDIS_PREFIX".into(), redis_prefix.clone()),
            ("AGENSIUM_S3_BUCKET".into(), bucket.bucket),
            ("AGENSIUM_S3_ENDPOINT".into(), s3.endpoint.clone()),
            ("AGENSIUM_S3_REGION".into(), "us-east-1".into()),
        ];
        env.extend(
            s3.env()
                .into_iter()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .map(|(k, v)| (k.to_owned(), v)),
        );
        Ok(Self {
            env,
            mysql,
            database,
            redis,
            redis_prefix,
        })
    }

    /// The one number a `SELECT COUNT(*) …` on the stack's database gives.
    pub async fn count(&self, sql: &str) -> Result<u64> {
        use mysql_async::prelude::Queryable;
        let opts =
            mysql_async::OptsBuilder::from_opts(self.mysql.clone()).db_name(Some(&self.database));
        let mut conn = mysql_async::Conn::new(opts)
            .await
            .context("connecting to MySQL")?;
        let n: Option<u64> = conn.query_first(sql).await?;
        conn.disconnect().await?;
        Ok(n.unwrap_or(0))
    }

    /// Drops the database and deletes the Redis keys (the bucket goes with
    /// the S3 server's directory).
    pub async fn cleanup(self) -> Result<()> {
        use mysql_async::prelude::Queryable;
        let mut conn = mysql_async::Conn::new(self.mysql)
            .await
            .context("connecting to MySQL")?;
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.database))
            .await
            .with_context(|| format!("dropping the database {}", self.database))?;
        conn.disconnect().await?;
        let mut rc = self.redis.get_multiplexed_async_connection().await?;
        let pattern = format!("{}:*", self.redis_prefix);
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut rc)
                .await
                .context("listing the bench's Redis keys")?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<i64>(&mut rc)
                    .await
                    .context("deleting the bench's Redis keys")?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
