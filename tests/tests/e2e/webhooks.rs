//! Webhooks: a job submitted with `callback_url` is POSTed there when it
//! ends, signed with its team's secret, retried with backoff, and the
//! delivery is recorded on the job; non-public addresses are refused.

use agensium_tests::{TestApp, assert_error};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

/// A local receiver that answers 500 to the first `fail_first` deliveries.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    fail_first: usize,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut got = r.got.lock().unwrap();
    got.push(Got {
        at: Instant::now(),
        headers,
        body,
    });
    if got.len() <= r.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

/// Starts a receiver; its port and what it got.
async fn receiver(fail_first: usize) -> (u16, Arc<Mutex<Vec<Got>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(Receiver {
            got: got.clone(),
            fail_first,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, got)
}

fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Checks `Agensium-Signature` as a receiver would: HMAC-SHA256 of
/// "<t>.<body>" under the secret, `t` the `Agensium-Timestamp`.
fn verify(g: &Got, secret: &str) {
    let t = header(g, "agensium-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&g.body);
    let want = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        header(g, "agensium-signature"),
        want,
        "signed with the team's secret"
    );
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "a fresh timestamp: {age} s old");
}

/// The receiver fails the first two deliveries: the third, after pauses of
/// about 1 s and 2 s, lands; every one is signed; the job shows it.
#[tokio::test]
async fn a_webhook_is_signed_retried_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |s| s.webhooks.allow_private = true).await;
    app.install("wordcount", "1.0.0").await;
    let (port, got) = receiver(2).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let query = format!(
        "callback_url={}",
        url.replace(':', "%3A").replace('/', "%2F")
    );
    let id = app.submit_ok("wordcount", &query, "one two\n").await;
    let (s, secret) = app.get_json("/v1/teams/default/webhook-secret").await;
    assert_eq!(s, StatusCode::OK, "{secret}");
    let secret = secret["secret"].as_str().unwrap().to_owned();
    let job = app
        .wait_for(&id, "webhook delivered", Duration::from_secs(30), |j| {
            j["callback"]["state"] == "delivered"
        })
        .await;
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["callback"]["url"], url.as_str());
    assert_eq!(job["callback"]["attempts"], 3, "{job}");
    assert_eq!(job["callback"]["last_outcome"], "HTTP 204");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "two failures, then the delivery");
    for (i, g) in got.iter().enumerate() {
        verify(g, &secret);
        assert_eq!(header(g, "agensium-event"), "job.succeeded");
        assert_eq!(header(g, "agensium-delivery"), format!("{id}-{}", i + 1));
        assert_eq!(header(g, "content-type"), "application/json");
        let doc: Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(doc["id"], id.as_str());
        assert_eq!(doc["status"], "succeeded");
        assert_eq!(doc["output_bytes"], job["output_bytes"]);
        assert_eq!(doc["callback"]["attempts"], i + 1);
    }
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] >= Duration::from_millis(900),
        "backoff 1 s: {gaps:?}"
    );
    assert!(gaps[1] >= Duration::from_millis(1900), "then 2 s: {gaps:?}");
    // A rotated secret signs the next delivery; the old one no longer does.
    let r = app
        .http
        .post(format!("{}/v1/teams/default/webhook-secret", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rotated: Value = r.json().await.unwrap();
    assert_ne!(rotated["secret"], secret.as_str());
    app.stop().await;
}

/// Without the operator's leave, a callback to a loopback address is
/// refused at submission (nothing stored), and a name that resolves to one
/// is refused at delivery: nothing reaches the receiver.
#[tokio::test]
async fn callbacks_to_private_addresses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    app.install("wordcount", "1.0.0").await;
    let (port, got) = receiver(0).await;
    for (url, code) in [
        (
            format!("http%3A%2F%2F127.0.0.1%3A{port}%2Fhook"),
            "callback_refused",
        ),
        (
            "http%3A%2F%2F%5B%3A%3A1%5D%2Fhook".into(),
            "callback_refused",
        ),
        (
            "http%3A%2F%2F169.254.169.254%2Flatest".into(),
            "callback_refused",
        ),
        ("ftp%3A%2F%2Fexample.com%2F".into(), "invalid_callback_url"),
        ("not-a-url".into(), "invalid_callback_url"),
    ] {
        let r = app
            .submit("wordcount", &format!("callback_url={url}"), "x")
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, code).await;
    }
    let (_, jobs) = app.get_json("/v1/jobs").await;
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        0,
        "nothing stored: {jobs}"
    );
    let query = format!("callback_url=http%3A%2F%2Flocalhost%3A{port}%2Fhook");
    let id = app.submit_ok("wordcount", &query, "x").await;
    let job = app
        .wait_for(&id, "webhook given up", Duration::from_secs(30), |j| {
            j["callback"]["state"] == "failed"
        })
        .await;
    assert_eq!(job["status"], "succeeded", "the job itself is unaffected");
    assert_eq!(
        job["callback"]["attempts"], 1,
        "a refusal is not retried: {job}"
    );
    let outcome = job["callback"]["last_outcome"].as_str().unwrap();
    assert!(outcome.contains("refused"), "{outcome}");
    assert!(
        got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
    app.stop().await;
}
