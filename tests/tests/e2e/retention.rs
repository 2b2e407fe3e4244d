//! Retention (bounded storage): a finished job past its team's retention
//! loses its row, input, output and log, and answers `410 expired` to its
//! team (404 to others, as for a job that never was); younger jobs and
//! running ones are untouched. On the embedded stack and on the
//! production one (an api and a worker process on MySQL, Redis and S3).

use agensium_ports::ObjectStore;
use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{Client, TestApp, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long finished jobs are kept in these tests.
const KEEP: Duration = Duration::from_secs(4);

/// 100 KiB: over the inline limit, so input and output are objects.
fn big_input() -> Vec<u8> {
    b"retained ".repeat(100 * 1024 / 9)
}

/// Submits an echo of the big input and waits for its success.
async fn echoed(api: &Client) -> String {
    let id = api
        .submit_ok("hostile", "param.mode=echo", big_input())
        .await;
    assert_eq!(api.wait(&id).await["status"], "succeeded");
    id
}

/// `GET /v1/jobs/{id}{tail}`: status and body.
async fn get(api: &Client, id: &str, tail: &str) -> (StatusCode, Value) {
    let r = api.get(&format!("/v1/jobs/{id}{tail}")).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits until job `id` answers 410, within `KEEP` and a few sweeps.
async fn until_expired(api: &Client, id: &str) -> Value {
    let since = Instant::now();
    loop {
        let (status, body) = get(api, id, "").await;
        if status == StatusCode::GONE {
            return body;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(since.elapsed() < KEEP * 4, "job {id} never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The scenario on a running API: the old job expires; a younger one and
/// a running one stay; the expired job is 410 to its team and 404 to
/// another. Returns (expired, younger, running) ids.
async fn expire_one(api: &Client) -> (String, String, String) {
    let r = api.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let old = echoed(api).await;
    let running = api
        .submit_ok("hostile", "param.mode=sleep&param.ms=20000", "x")
        .await;
    tokio::time::sleep(KEEP / 2 + Duration::from_millis(500)).await;
    let young = echoed(api).await;
    let gone = until_expired(api, &old).await;
    assert_eq!(gone["error"]["code"], "expired", "{gone}");
    for tail in ["/result", "/logs"] {
        assert_eq!(get(api, &old, tail).await.0, StatusCode::GONE, "{tail}");
    }
    assert_eq!(
        get(api, &young, "").await.0,
        StatusCode::OK,
        "younger: kept"
    );
    let (status, job) = get(api, &running, "").await;
    assert_eq!(
        (status, job["status"].as_str()),
        (StatusCode::OK, Some("running"))
    );
    let other = api.create_team("other", json!({}), "admin").await;
    let (status, body) = get(&other, &old, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another team's: {body}");
    (old, young, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_job_goes_with_its_objects_on_the_embedded_stack() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |s| {
        s.retention = Some(KEEP);
        s.sweep_every = Duration::from_millis(200);
    })
    .await;
    let (old, young, _) = expire_one(&app).await;
    let objects = app.objects();
    assert!(!objects.iter().any(|k| k.contains(&old)), "{objects:?}");
    assert!(
        objects.iter().any(|k| k.contains(&young)),
        "younger objects kept: {objects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_job_goes_with_its_objects_on_the_production_stack() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let retention = [("AGENSIUM_RETENTION", "4s"), ("AGENSIUM_SWEEP_SECS", "1")];
    let listen = format!("127.0.0.1:{}", free_port());
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &retention);
    let _worker = Proc::spawn("worker", &["worker", "--slots", "2"], &be.env, &[]);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let (old, young, _) = expire_one(&be.client(&url)).await;
    let store = be.store().await;
    assert!(
        store.list(&format!("jobs/{old}")).await.unwrap().is_empty(),
        "objects first"
    );
    assert!(
        !store
            .list(&format!("jobs/{young}"))
            .await
            .unwrap()
            .is_empty()
    );
}
