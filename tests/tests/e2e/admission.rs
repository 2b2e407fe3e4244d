//! Admission at upload beyond validation: golden examples that must pass
//! before a version becomes visible, and fuel as a deterministic CPU limit.

use agensium_tests::{TestApp, assert_error, fixture, plugin};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// `PUT` a form with the component and a golden example.
async fn put_golden(
    app: &TestApp,
    name: &str,
    version: &str,
    query: &str,
    form: Form,
) -> reqwest::Response {
    app.http
        .put(format!(
            "{}/v1/processors/{name}/versions/{version}?{query}",
            app.url
        ))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn golden(component: Vec<u8>, input: &'static [u8], output: &'static [u8]) -> Form {
    Form::new()
        .part("component", Part::bytes(component))
        .part("golden_input", Part::bytes(input))
        .part("golden_output", Part::bytes(output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_becomes_visible_only_if_its_golden_example_passes() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let input: &[u8] = b"one two\nthree\n";
    let expected: &[u8] = br#"{"lines":2,"words":3,"bytes":14}"#;

    // Wrong expectation: 422 with where the output differs; nothing stored.
    let wrong: &[u8] = br#"{"lines":2,"words":4,"bytes":14}"#;
    let r = put_golden(
        &app,
        "wordcount",
        "1.0.0",
        "",
        golden(plugin("wordcount"), input, wrong),
    )
    .await;
    let msg = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "golden_mismatch").await;
    assert!(msg.contains("at byte 19"), "{msg}");
    // A processor that fails on its golden input: 422 with the job's error.
    let r = put_golden(
        &app,
        "hostile",
        "1.0.0",
        "timeout_ms=300",
        golden(fixture("hostile"), b"", b"").part("param.mode", Part::text("loop")),
    )
    .await;
    let msg = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "golden_failed").await;
    assert!(msg.contains("timeout"), "{msg}");
    // Half a golden example is a client error.
    let half = Form::new()
        .part("component", Part::bytes(plugin("wordcount")))
        .part("golden_input", Part::bytes(input));
    let r = put_golden(&app, "wordcount", "1.0.0", "", half).await;
    assert_error(r, StatusCode::BAD_REQUEST, "bad_multipart").await;

    let (_, all) = app.get_json("/v1/processors").await;
    assert_eq!(all["processors"], json!([]), "no version became visible");
    assert!(app.objects().is_empty(), "no objects: {:?}", app.objects());

    // The right expectation registers the version, which then runs.
    let r = put_golden(
        &app,
        "wordcount",
        "1.0.0",
        "",
        golden(plugin("wordcount"), input, expected),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = app.submit_ok("wordcount", "", input).await;
    assert_eq!(app.wait(&id).await["status"], "succeeded");
    assert_eq!(app.result(&id).await.1, expected);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_is_a_deterministic_cpu_limit_declared_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let put = |name: &str, version: &str, q: &str, bytes: Vec<u8>| {
        let url = format!("{}/v1/processors/{name}/versions/{version}?{q}", app.url);
        app.http.put(url).body(bytes).send()
    };
    let r = put("wordcount", "1.0.0", "fuel=1000000000", plugin("wordcount"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["limits"], json!({"fuel": 1_000_000_000u64}));

    // The same input burns the same fuel, every time.
    let input = b"the quick brown fox jumps over the lazy dog\n".repeat(2000);
    let mut burnt = Vec::new();
    for _ in 0..2 {
        let id = app.submit_ok("wordcount", "", input.clone()).await;
        let job = app.wait(&id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        burnt.push(job["usage"]["fuel_consumed"].as_u64().expect("fuel used"));
    }
    assert_eq!(burnt[0], burnt[1], "fuel is deterministic");
    assert!(
        burnt[0] > input.len() as u64,
        "about an instruction a byte at least"
    );

    // A loop with a small budget stops on fuel, long before its wall time.
    let r = put("hostile", "1.0.0", "fuel=50000000", fixture("hostile"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = app.submit_ok("hostile", "param.mode=loop", "").await;
    let job = app.wait(&id).await;
    assert_eq!(job["error"]["code"], "fuel_limit", "{job}");
    assert!(
        job["usage"]["wall_time_ms"].as_u64().unwrap() < 5_000,
        "{job}"
    );
    assert_eq!(job["usage"]["fuel_consumed"], 50_000_000, "{job}");

    // Unmetered versions report no fuel; over the ceiling is refused.
    app.install("wordcount", "2.0.0").await;
    let id = app.submit_ok("wordcount", "version=2.0.0", "a b").await;
    let job = app.wait(&id).await;
    assert!(job["usage"].get("fuel_consumed").is_none(), "{job}");
    let r = put(
        "wordcount",
        "3.0.0",
        "fuel=99999999999999999",
        plugin("wordcount"),
    )
    .await
    .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_limit").await;
    app.stop().await;
}

/// A golden check runs under small caps whatever the version declares: a
/// processor that spins, uploaded with `timeout_ms=3600000`, is stopped
/// after the golden cap (10 s), not an hour, and the API answers health
/// checks meanwhile (golden checks run on their own runtime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_checks_are_capped_whatever_the_version_declares() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let started = std::time::Instant::now();
    let upload = put_golden(
        &app,
        "spinner",
        "1.0.0",
        "timeout_ms=3600000",
        golden(fixture("hostile"), b"", b"").part("param.mode", Part::text("loop")),
    );
    let health = async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let t = std::time::Instant::now();
        assert!(app.get("/healthz").await.status().is_success());
        t.elapsed()
    };
    let (r, took) = tokio::join!(upload, health);
    let msg = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "golden_failed").await;
    assert!(msg.contains("timeout") && msg.contains("10s"), "{msg}");
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
    assert!(
        took < std::time::Duration::from_millis(500),
        "healthz took {took:?}"
    );
    app.stop().await;
}
