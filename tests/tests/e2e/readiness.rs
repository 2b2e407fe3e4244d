//! `/readyz` on a real api process and a worker's health listener: 200
//! while they reach MySQL, Redis and S3; 503 `not_ready`, naming the
//! object store, while the S3 server is down; 200 again once it is back.
//! `/healthz` answers 200 throughout (the process lives).

use agensium_tests::faults::OwnS3;
use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_backends_and_liveness_does_not() {
    let _one = crate::faults::ONE_AT_A_TIME.lock().await;
    let Some(mut be) = SharedBackends::fresh().await else {
        return;
    };
    let mut s3 = OwnS3::start(be.var("AGENSIUM_S3_BUCKET")).await;
    be.set("AGENSIUM_S3_ENDPOINT", &s3.endpoint);
    let (listen, health) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let worker_args = ["worker", "--slots", "1", "--health-listen", &health];
    let _worker = Proc::spawn("worker", &worker_args, &be.env, &[]);
    let bases = [format!("http://{listen}"), format!("http://{health}")];
    for base in &bases {
        wait_healthy(base).await;
        assert_eq!(ready(base).await.0, StatusCode::OK, "{base}");
    }
    s3.stop();
    for base in &bases {
        let (status, body) = until(base, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(
            body["error"]["code"], "not_ready",
            "{base}: {status} {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("object store"), "{base}: {message}");
        assert!(
            !message.contains("rail") && !message.contains("metadata"),
            "{message}"
        );
        let live = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(live.status(), StatusCode::OK, "{base}: alive while unready");
    }
    s3.resume().await;
    for base in &bases {
        until(base, StatusCode::OK).await;
    }
}

/// `GET base/readyz`: its status and JSON body.
async fn ready(base: &str) -> (StatusCode, Value) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Polls `base/readyz` until it answers `want` (within 30 s: the answer
/// is kept 1 s, and a probe of a dead backend gives up after 2 s).
async fn until(base: &str, want: StatusCode) -> (StatusCode, Value) {
    let since = Instant::now();
    loop {
        let (status, body) = ready(base).await;
        if status == want {
            return (status, body);
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{base}: still {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
