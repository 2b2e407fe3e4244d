//! Fault injection on real processes and real backends: Redis flushed, the
//! S3 server restarted, MySQL and Redis cut off behind a TCP proxy, a
//! worker killed. Each scenario submits jobs while the fault happens and
//! checks that every accepted job ends `succeeded` with the right output and
//! exactly one result object. Each prints (and `cargo xtask test` collects)
//! one row of the table: accepted, succeeded, failed, duplicates, 503s,
//! time to recover.

use agensium_ports::ObjectStore;
use agensium_s3::S3Store;
use agensium_tests::faults::{OwnRedis, OwnS3, Scenario, TcpProxy};
use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{Client, fixture};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Jobs per scenario.
const JOBS: usize = 300;

/// An API process, three workers and a client, on `env`.
pub(crate) struct Rig {
    pub(crate) api: Client,
    _procs: Vec<Proc>,
    pub(crate) store: S3Store,
}

/// Routes the backend whose URL is `key` through a new proxy: the URL's
/// `host:port` becomes the proxy's (credentials, database and scheme stay).
async fn behind_proxy(be: &mut SharedBackends, key: &str) -> TcpProxy {
    let mut url = reqwest::Url::parse(be.var(key)).unwrap();
    let target = format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().expect("a port")
    );
    let proxy = TcpProxy::start(&target).await;
    let port = proxy.addr.rsplit_once(':').unwrap().1.parse().unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(port)).unwrap();
    be.set(key, url.as_str());
    proxy
}

impl Rig {
    async fn start(be: &SharedBackends) -> Self {
        Self::start_with(be, &[]).await
    }

    /// [`Rig::start`] with more settings for every process.
    pub(crate) async fn start_with(be: &SharedBackends, more: &[(&str, &str)]) -> Self {
        let env = &be.env;
        // Short leases and quick backoff keep each scenario within seconds.
        let mut extra = vec![("AGENSIUM_LEASE_SECS", "5")];
        extra.extend_from_slice(more);
        let listen = format!("127.0.0.1:{}", free_port());
        let mut procs = vec![Proc::spawn(
            "api",
            &["api", "--listen", &listen],
            env,
            &extra,
        )];
        let url = format!("http://{listen}");
        wait_healthy(&url).await;
        let api = be.client(&url);
        let r = api.register("hostile", "1.0.0", fixture("hostile")).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        for i in 0..3 {
            procs.push(Proc::spawn(
                &format!("worker {i}"),
                &["worker", "--slots", "2"],
                env,
                &extra,
            ));
        }
        let store = be.store().await;
        Self {
            api,
            _procs: procs,
            store,
        }
    }

    /// Submits `JOBS` jobs (sleep 40 ms, then echo) from 8 clients, paced
    /// over about `over`. Returns the accepted `(id, body)` pairs and the
    /// number of 503 answers (each checked to be a JSON error naming the
    /// unavailable backend).
    async fn submit(&self, over: Duration) -> (Vec<(String, String)>, usize) {
        let pause = over / JOBS as u32;
        let t0 = tokio::time::Instant::now();
        let results: Vec<Option<(String, String)>> = futures::stream::iter(0..JOBS)
            .map(|i| async move {
                // Job i goes at t0 + i * pause (or later, when 8 are in flight).
                tokio::time::sleep_until(t0 + pause * i as u32).await;
                let body = format!("job {i} of the fault scenario");
                let r = self
                    .api
                    .submit("hostile", "param.mode=sleep&param.ms=40", body.clone())
                    .await;
                match r.status() {
                    StatusCode::ACCEPTED => {
                        let v: Value = r.json().await.unwrap();
                        Some((v["id"].as_str().unwrap().to_owned(), body))
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        let v: Value = r.json().await.expect("503 with a JSON body");
                        let code = v["error"]["code"].as_str().unwrap_or_default();
                        assert!(code.ends_with("_unavailable"), "{v}");
                        None
                    }
                    s => panic!("submit answered {s}: {}", r.text().await.unwrap()),
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let refused = results.iter().filter(|r| r.is_none()).count();
        (results.into_iter().flatten().collect(), refused)
    }

    /// Waits (3 min at most, tolerating 503s) until every accepted job is
    /// final, checks outputs and result objects, and records the row.
    async fn settle(
        &self,
        name: &'static str,
        accepted: Vec<(String, String)>,
        refused: usize,
        fault_over: Instant,
    ) -> Scenario {
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut row = Scenario {
            name,
            accepted: accepted.len(),
            refused,
            ..Scenario::default()
        };
        // First only wait (concurrently) for every job to be final: the
        // recovery time; then check outputs and result objects.
        let finals: Vec<(Value, Instant)> = futures::stream::iter(&accepted)
            .map(|(id, _)| async move {
                loop {
                    let r = self.api.get(&format!("/v1/jobs/{id}")).await;
                    if r.status() == StatusCode::OK {
                        let job: Value = r.json().await.unwrap();
                        if matches!(
                            job["status"].as_str(),
                            Some("succeeded" | "failed" | "cancelled")
                        ) {
                            return (job, Instant::now());
                        }
                    }
                    assert!(Instant::now() < deadline, "{name}: job {id} never finished");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .buffered(32)
            .collect()
            .await;
        let last_final = finals.iter().map(|(_, t)| *t).max().unwrap_or(fault_over);
        for ((id, body), (job, _)) in accepted.iter().zip(&finals) {
            if job["status"] == "succeeded" {
                assert_eq!(self.api.result(id).await.1, body.as_bytes(), "{job}");
                row.succeeded += 1;
            } else {
                row.failed += 1;
                eprintln!("{name}: job did not succeed: {job}");
            }
            let keys = self.store.list(&format!("jobs/{id}/out")).await.unwrap();
            let outputs = agensium_tests::output_attempts(id, &keys);
            if outputs.len() > 1 {
                row.duplicates += 1;
                eprintln!("{name}: job {id} has {outputs:?}");
            }
        }
        row.recovery = last_final.saturating_duration_since(fault_over);
        row.record();
        assert_eq!(row.succeeded, row.accepted, "{name}: {row:?}");
        assert_eq!(row.duplicates, 0, "{name}: {row:?}");
        row
    }
}

/// One scenario at a time: each runs four processes, and the recovery
/// times mean little when four scenarios share two cores.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `fault` while jobs are submitted over 3 s, then settles. The fault
/// returns when it is over.
async fn scenario<F: std::future::Future<Output = ()>>(
    name: &'static str,
    rig: &Rig,
    fault: F,
) -> Scenario {
    let submitting = rig.submit(Duration::from_secs(3));
    let faulting = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        fault.await;
        Instant::now()
    };
    let ((accepted, refused), fault_over) = tokio::join!(submitting, faulting);
    rig.settle(name, accepted, refused, fault_over).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flushall_on_redis_mid_run_loses_no_job() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut be) = SharedBackends::fresh().await else {
        return;
    };
    let redis = OwnRedis::start().await;
    be.set("AGENSIUM_REDIS_URL", &redis.url);
    let rig = Rig::start(&be).await;
    scenario("Redis FLUSHALL mid-run", &rig, async {
        redis.flushall().await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        redis.flushall().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_restarted_mid_run_loses_no_job() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut be) = SharedBackends::fresh().await else {
        return;
    };
    let mut s3 = OwnS3::start(be.var("AGENSIUM_S3_BUCKET")).await;
    be.set("AGENSIUM_S3_ENDPOINT", &s3.endpoint);
    // Nothing inline: every input, output and log goes through the store
    // (small bodies would otherwise never meet the outage).
    let rig = Rig::start_with(&be, &[("AGENSIUM_INLINE_KIB", "0")]).await;
    let row = scenario("S3 server down 2 s, restarted", &rig, async {
        s3.stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        s3.resume().await;
    })
    .await;
    assert!(
        row.refused > 0,
        "submits during the outage got 503: {row:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_cut_off_for_10_s_answers_503_then_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut be) = SharedBackends::fresh().await else {
        return;
    };
    let proxy = behind_proxy(&mut be, "AGENSIUM_DATABASE_URL").await;
    let rig = Rig::start(&be).await;
    let api = rig.api.clone();
    let row = scenario("MySQL cut off for 10 s", &rig, async {
        proxy.cut();
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Reads fail fast and name the backend.
        let t = Instant::now();
        let r = api.get("/v1/jobs?limit=1").await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "metadata_store_unavailable", "{v}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "503 took {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(9)).await;
        proxy.restore();
    })
    .await;
    assert!(
        row.refused > 0,
        "submits during the outage got 503: {row:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cut_off_for_5_s_loses_no_job() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut be) = SharedBackends::fresh().await else {
        return;
    };
    let proxy = behind_proxy(&mut be, "AGENSIUM_REDIS_URL").await;
    let rig = Rig::start(&be).await;
    scenario("Redis cut off for 5 s", &rig, async {
        proxy.cut();
        tokio::time::sleep(Duration::from_secs(5)).await;
        proxy.restore();
    })
    .await;
}
