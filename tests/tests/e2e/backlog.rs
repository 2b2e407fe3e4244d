//! The number the autoscaler scales workers on (`agensium_mysql::
//! BACKLOG_QUERY`, the KEDA trigger's query in
//! `deploy/kubernetes/base/keda.yaml`, checked against it by
//! `kubernetes.rs`) equals the true backlog of the production stack: the
//! jobs of three teams' lanes, waiting or pending, one of them on a worker
//! killed mid-job. The rail itself may hold more tickets than jobs (a
//! ticket pushed again by the reconciler is harmless: the row decides),
//! which is why the autoscaler does not count tickets: the test shows both.

use agensium_ports::Rail;
use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{Client, fixture};
use mysql_async::prelude::Queryable;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Jobs each team submits.
const TEAMS: [(&str, usize); 3] = [("red", 4), ("green", 3), ("blue", 2)];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_autoscalers_backlog_counts_every_lane_and_a_dead_workers_ticket() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let listen = format!("127.0.0.1:{}", free_port());
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let ops = be.client(&url);
    public_sleeper(&ops).await;
    for (team, jobs) in TEAMS {
        let client = ops.create_team(team, json!({}), "submitter").await;
        for _ in 0..jobs {
            client
                .submit_ok("hostile", "param.mode=sleep&param.ms=600000", "x")
                .await;
        }
    }
    let total: usize = TEAMS.iter().map(|(_, n)| n).sum();
    assert_eq!(backlog(&be).await, total as u64, "all queued");

    // A worker takes one ticket and dies with it: its job stays `running`
    // under a lease that has not lapsed, its ticket pending on a consumer
    // that is gone.
    let lease = ("AGENSIUM_LEASE_SECS", "300");
    let victim = Proc::spawn("worker", &["worker", "--slots", "1"], &be.env, &[lease]);
    let running = wait_for_a_running_job(&ops).await;
    drop(victim); // SIGKILL
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (queued, still_running) = (count(&ops, "queued").await, count(&ops, "running").await);
    assert_eq!((queued, still_running), (total - 1, 1), "{running}");
    assert_eq!(
        backlog(&be).await,
        total as u64,
        "what the autoscaler reads"
    );
    let lanes = Lanes::read(&be).await;
    assert_eq!(
        lanes.names.len(),
        TEAMS.len(),
        "one lane per team: {:?}",
        lanes.names
    );
    assert_eq!(
        lanes.jobs.len(),
        total,
        "the jobs on the lanes: {:?}",
        lanes.jobs
    );
    let dead = running["id"].as_str().unwrap();
    assert!(
        lanes.pending.contains(dead),
        "{dead}'s ticket pending: {:?}",
        lanes.pending
    );
    let tickets = rail_backlog(&be).await;
    assert!(tickets >= total as u64, "{tickets} tickets on the rail");
    eprintln!("backlog {total} jobs; the rail holds {tickets} tickets for them");
}

/// What the rail's lanes hold, read from Redis.
struct Lanes {
    /// The lanes' stream keys.
    names: Vec<String>,
    /// The distinct jobs their tickets name.
    jobs: HashSet<String>,
    /// The jobs of tickets delivered and not acked (a consumer holds them).
    pending: HashSet<String>,
}

impl Lanes {
    async fn read(be: &SharedBackends) -> Self {
        let client = redis::Client::open(be.redis_url.as_str()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let set = format!("{}:rail:lanes", be.redis_prefix);
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&set)
            .query_async(&mut c)
            .await
            .unwrap();
        let (mut jobs, mut pending) = (HashSet::new(), HashSet::new());
        for lane in &names {
            let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(lane)
                .arg("-")
                .arg("+")
                .query_async(&mut c)
                .await
                .unwrap();
            let held: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(lane)
                .arg("workers")
                .arg("-")
                .arg("+")
                .arg(1000)
                .query_async(&mut c)
                .await
                .unwrap();
            let held: HashSet<&str> = held.ids.iter().map(|p| p.id.as_str()).collect();
            for entry in &entries.ids {
                let job: String = entry.get("job").expect("a ticket names its job");
                if held.contains(entry.id.as_str()) {
                    pending.insert(job.clone());
                }
                jobs.insert(job);
            }
        }
        Self {
            names,
            jobs,
            pending,
        }
    }
}

/// Registers the hostile fixture (its `sleep` mode) and makes it public,
/// so every team submits to it.
async fn public_sleeper(ops: &Client) {
    let r = ops.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = ops
        .http
        .patch(format!("{}/v1/processors/hostile", ops.url))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The first job seen running.
async fn wait_for_a_running_job(ops: &Client) -> Value {
    let since = Instant::now();
    loop {
        let (_, page) = ops.get_json("/v1/jobs?status=running").await;
        if let Some(job) = page["jobs"].as_array().and_then(|j| j.first()) {
            return job.clone();
        }
        assert!(since.elapsed() < Duration::from_secs(30), "no job started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many jobs are in `status`, every team's (an operator's listing).
async fn count(ops: &Client, status: &str) -> usize {
    let (code, page) = ops
        .get_json(&format!("/v1/jobs?status={status}&limit=1000"))
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    page["jobs"].as_array().unwrap().len()
}

/// The autoscaler's number: its query, on the metadata store.
async fn backlog(be: &SharedBackends) -> u64 {
    let pool = mysql_async::Pool::new(be.var("AGENSIUM_DATABASE_URL"));
    let mut conn = pool.get_conn().await.unwrap();
    let n: Option<u64> = conn
        .query_first(agensium_mysql::BACKLOG_QUERY)
        .await
        .unwrap();
    drop(conn);
    pool.disconnect().await.unwrap();
    n.expect("the view has one row")
}

/// The tickets on the rail's lanes, waiting or taken and not acked.
async fn rail_backlog(be: &SharedBackends) -> u64 {
    let mut cfg = agensium_redis::RedisRailConfig::new(be.redis_url.clone());
    cfg.prefix = be.redis_prefix.clone();
    let rail = agensium_redis::RedisRail::connect(cfg).await.unwrap();
    rail.backlog().await.unwrap()
}
