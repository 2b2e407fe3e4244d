//! What a phase cost the whole stack, per job: CPU seconds of every process
//! (from `/proc/<pid>/stat`), SQL statements (MariaDB's own `Com_*`
//! counters), Redis commands (`INFO commandstats`) and S3 requests (the test
//! server's own counts). Read before and after a phase; the difference,
//! divided by the phase's jobs, is printed.

use super::stack::{Kind, Stack};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use xtask::s3server::S3Server;

/// Kernel clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`,
/// 100 on every Linux ABI Agensium runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// MariaDB status counters read, in the order printed.
const SQL_COUNTERS: &[&str] = &[
    "Questions",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_delete",
    "Com_replace",
    "Com_stmt_prepare",
    "Com_stmt_execute",
    "Connections",
];

/// Counters at one instant.
#[derive(Default, Clone)]
pub struct Snapshot {
    /// CPU seconds (user + system) by process name.
    cpu: BTreeMap<&'static str, f64>,
    sql: BTreeMap<String, u64>,
    redis: BTreeMap<String, u64>,
    s3: BTreeMap<String, u64>,
}

/// Where the counters are read.
pub struct Meters<'a> {
    stack: &'a Stack,
    s3: Option<&'a S3Server>,
    mysql: Option<mysql_async::Pool>,
    redis: Option<redis::Client>,
}

impl<'a> Meters<'a> {
    /// Meters of `stack`; the backends' counters only on the production stack.
    pub fn new(stack: &'a Stack, s3: Option<&'a S3Server>) -> Result<Self> {
        let production = stack.kind == Kind::Production;
        let (mysql, redis) = if production {
            let mysql = mysql_async::Opts::from_url(&super::stack::mysql_url())
                .context("parsing the MySQL URL")?;
            let redis = redis::Client::open(super::stack::redis_url())?;
            (Some(mysql_async::Pool::new(mysql)), Some(redis))
        } else {
            (None, None)
        };
        Ok(Self {
            stack,
            s3: s3.filter(|_| production),
            mysql,
            redis,
        })
    }

    /// Reads every counter now.
    pub async fn read(&self) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        let (api, worker) = self.stack.pids();
        let api_name = match self.stack.kind {
            Kind::Embedded => "serve",
            Kind::Production => "api",
        };
        snap.cpu.insert(api_name, cpu_secs(api)?);
        if let Some(w) = worker {
            snap.cpu.insert("worker", cpu_secs(w)?);
        }
        if let Some(s3) = self.s3 {
            snap.cpu.insert("s3 server", cpu_secs(s3.pid())?);
            snap.s3 = s3.requests()?;
        }
        if let Some(pool) = &self.mysql {
            if let Some(pid) = pid_named(&["mariadbd", "mysqld"]) {
                snap.cpu.insert("mariadb", cpu_secs(pid)?);
            }
            snap.sql = sql_counters(pool).await?;
        }
        if let Some(redis) = &self.redis {
            if let Some(pid) = pid_named(&["redis-server"]) {
                snap.cpu.insert("redis", cpu_secs(pid)?);
            }
            snap.redis = redis_calls(redis).await?;
        }
        Ok(snap)
    }
}

/// The difference of two snapshots per job.
pub struct PerJob {
    /// CPU milliseconds per job, by process.
    pub cpu_ms: Vec<(&'static str, f64)>,
    /// SQL counters per job.
    pub sql: Vec<(String, f64)>,
    /// Redis commands per job, by command (those called at all).
    pub redis: Vec<(String, f64)>,
    /// S3 requests per job, by method (those made at all).
    pub s3: Vec<(String, f64)>,
}

impl PerJob {
    /// `(after - before) / jobs` for every counter.
    pub fn between(before: &Snapshot, after: &Snapshot, jobs: usize) -> Self {
        let n = jobs.max(1) as f64;
        let cpu_ms = after
            .cpu
            .iter()
            .map(|(k, v)| (*k, (v - before.cpu.get(k).unwrap_or(&0.0)) * 1e3 / n))
            .collect();
        let diff = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, all: bool| {
            a.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.saturating_sub(*b.get(k).unwrap_or(&0)) as f64 / n,
                    )
                })
                .filter(|(_, v)| all || *v > 0.0)
                .collect::<Vec<_>>()
        };
        let mut sql = diff(&after.sql, &before.sql, true);
        sql.sort_by_key(|(k, _)| SQL_COUNTERS.iter().position(|c| c == k));
        Self {
            cpu_ms,
            sql,
            redis: diff(&after.redis, &before.redis, false),
            s3: diff(&after.s3, &before.s3, false),
        }
    }

    /// Whole-stack CPU milliseconds per job.
    pub fn cpu_total_ms(&self) -> f64 {
        self.cpu_ms.iter().fold(0.0, |a, (_, v)| a + v)
    }

    /// SQL statements per job (`Questions`: every statement a client sent,
    /// prepared executions included).
    pub fn statements(&self) -> Option<f64> {
        self.sql
            .iter()
            .find(|(k, _)| k == "Questions")
            .map(|(_, v)| *v)
    }

    /// Redis commands per job.
    pub fn redis_total(&self) -> f64 {
        self.redis.iter().fold(0.0, |a, (_, v)| a + v)
    }

    /// S3 requests per job.
    pub fn s3_total(&self) -> f64 {
        self.s3.iter().fold(0.0, |a, (_, v)| a + v)
    }

    /// Prints the figures, one line per kind of counter.
    pub fn print(&self, what: &str) {
        let join = |v: &[(String, f64)]| {
            v.iter()
                .map(|(k, n)| format!("{k} {n:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let cpu: Vec<String> = self
            .cpu_ms
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        println!(
            "cost per job, {what}: CPU {:.3} ms ({})",
            self.cpu_total_ms(),
            cpu.join(", ")
        );
        if !self.sql.is_empty() {
            println!("  SQL per job: {}", join(&self.sql));
        }
        if !self.redis.is_empty() {
            println!(
                "  Redis commands per job: {:.2} ({})",
                self.redis_total(),
                join(&self.redis)
            );
        }
        if !self.s3.is_empty() || !self.sql.is_empty() {
            println!(
                "  S3 requests per job: {:.2} ({})",
                self.s3_total(),
                if self.s3.is_empty() {
                    "none".into()
                } else {
                    join(&self.s3)
                }
            );
        }
    }
}

/// User + system CPU seconds a process has used.
fn cpu_secs(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("parsing {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .with_context(|| format!("parsing field {} of {path}", i + 3))
    };
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SEC)
}

/// The first process whose command name is one of `names`.
fn pid_named(names: &[&str]) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        names.contains(&comm.trim()).then_some(pid)
    })
}

async fn sql_counters(pool: &mysql_async::Pool) -> Result<BTreeMap<String, u64>> {
    use mysql_async::prelude::Queryable;
    let mut conn = pool.get_conn().await.context("connecting to MySQL")?;
    let rows: Vec<(String, String)> = conn
        .query("SHOW GLOBAL STATUS")
        .await
        .context("SHOW GLOBAL STATUS")?;
    Ok(rows
        .into_iter()
        .filter(|(k, _)| SQL_COUNTERS.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect())
}

async fn redis_calls(client: &redis::Client) -> Result<BTreeMap<String, u64>> {
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .context("INFO commandstats")?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            // Our own INFO calls are not the stack's.
            (name != "info").then(|| Some((name.to_uppercase(), calls.parse().ok()?)))?
        })
        .collect())
}
