//! Registering processors: success, idempotence, conflicts, bad uploads.

use agensium_tests::{TestApp, assert_error, plugin};
use reqwest::StatusCode;

#[tokio::test]
async fn register_list_and_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let wc = plugin("wordcount");
    let v = app.install("wordcount", "1.0.0").await;
    assert_eq!(v["name"], "wordcount");
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(v["size"], wc.len() as u64);
    let digest = v["digest"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == 71);

    // Same bytes again: 200, same answer.
    let again = app.register("wordcount", "1.0.0", wc.clone()).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["digest"],
        digest.as_str()
    );
    // Other bytes for the same version: 409.
    let other = app
        .register("wordcount", "1.0.0", plugin("csv-to-jsonl"))
        .await;
    assert_error(other, StatusCode::CONFLICT, "version_exists").await;

    app.install("wordcount", "1.2.0").await;
    app.install("wordcount", "1.10.0").await;
    app.install("csv-to-jsonl", "0.1.0").await;
    let (s, all) = app.get_json("/v1/processors").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = all["processors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["csv-to-jsonl", "wordcount"]);
    let (s, one) = app.get_json("/v1/processors/wordcount").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["latest"], "1.10.0", "latest is by semver, not by text");
    let versions: Vec<&str> = one["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.10.0", "1.2.0", "1.0.0"], "newest first");
    assert_eq!(one["versions"][2]["digest"], digest.as_str());
    assert!(one["next_versions"].is_null(), "{one}");

    // Same component under two versions is stored once (content-addressed).
    let wasm_objects = app
        .objects()
        .iter()
        .filter(|o| o.starts_with("processors/"))
        .count();
    assert_eq!(wasm_objects, 2);
    let (s, _) = app.get_json("/v1/processors/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.max_component_bytes = 4 << 20).await;
    let wc = plugin("wordcount");

    let r = app
        .register("bad", "1.0.0", b"#!/bin/sh\necho hi\n".to_vec())
        .await;
    assert!(
        assert_error(r, StatusCode::BAD_REQUEST, "not_wasm")
            .await
            .contains("WebAssembly")
    );

    // A core module (the smallest valid one), not a component.
    let r = app
        .register("bad", "1.0.0", b"\0asm\x01\0\0\0".to_vec())
        .await;
    assert!(
        assert_error(r, StatusCode::BAD_REQUEST, "not_a_component")
            .await
            .contains("component")
    );

    // A valid component that exports nothing: not the processor world.
    let r = app
        .register("bad", "1.0.0", b"\0asm\x0d\0\x01\0".to_vec())
        .await;
    let msg = assert_error(r, StatusCode::BAD_REQUEST, "wrong_world").await;
    assert!(msg.contains("agensium:processor"), "{msg}");

    // A component cut in half.
    let r = app
        .register("bad", "1.0.0", wc[..wc.len() / 2].to_vec())
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_component").await;

    let r = app.register("Bad_Name", "1.0.0", wc.clone()).await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_name").await;
    let r = app.register("bad", "1.0", wc.clone()).await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_version").await;
    let r = app.register("bad", "1.0.0", vec![0u8; 5 << 20]).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let (_, all) = app.get_json("/v1/processors").await;
    assert_eq!(
        all["processors"],
        serde_json::json!([]),
        "no rows left behind"
    );
    assert!(
        app.objects().is_empty(),
        "no objects left behind: {:?}",
        app.objects()
    );

    // Errors elsewhere are JSON too.
    let r = app
        .http
        .get(format!("{}/v2/nothing", app.url))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .http
        .delete(format!("{}/v1/processors", app.url))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_declare_limits_capped_by_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let put = |q: &str| {
        let url = format!("{}/v1/processors/wordcount/versions/2.0.0?{q}", app.url);
        app.http.put(url).body(plugin("wordcount")).send()
    };
    let r = put("memory_mib=999999").await.unwrap();
    assert!(
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_limit")
            .await
            .contains("ceiling")
    );
    let r = put("timeout_ms=soon").await.unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_limit").await;
    let r = put("colour=red").await.unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "unknown_query_parameter").await;

    // A version that declares 1 MiB of memory: less than it needs to start.
    let r = put("memory_mib=1&input_mib=1&timeout_ms=5000")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["limits"],
        serde_json::json!({"memory_mib": 1, "input_mib": 1, "timeout_ms": 5000})
    );
    let r = app.submit("wordcount", "", vec![b'a'; 2 << 20]).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let id = app.submit_ok("wordcount", "", "small").await;
    let job = app.wait(&id).await;
    assert_eq!(job["error"]["code"], "memory_limit", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1048576"),
        "{job}"
    );

    // The same bytes with no declaration run under the operator's defaults.
    app.install("wordcount", "2.0.1").await;
    let id = app.submit_ok("wordcount", "version=2.0.1", "small").await;
    assert_eq!(app.wait(&id).await["status"], "succeeded");
    app.stop().await;
}

/// Yanking: no new job resolves to a yanked version (pinned: 410; `latest`
/// moves to the newest left); a job that pinned it before still runs and
/// can be retried. Listings are paged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yanked_versions_take_no_new_jobs_and_listings_are_paged() {
    let dir = tempfile::tempdir().unwrap();
    // No worker yet: jobs wait in the queue.
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    for v in ["1.0.0", "1.1.0", "2.0.0"] {
        app.install("wordcount", v).await;
    }
    let pinned = app.submit_ok("wordcount", "version=2.0.0", "a b\n").await;
    let cancelled = app.submit_ok("wordcount", "version=2.0.0", "a b\n").await;
    assert_eq!(app.cancel(&cancelled).await.status(), StatusCode::OK);
    let yank = |app: &TestApp, v: &'static str| {
        let (http, url) = (app.http.clone(), app.url.clone());
        async move {
            http.delete(format!("{url}/v1/processors/wordcount/versions/{v}"))
                .send()
                .await
                .unwrap()
        }
    };
    let r = yank(&app, "2.0.0").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["yanked_at"].is_string(), "{v}");
    assert_eq!(
        yank(&app, "2.0.0").await.status(),
        StatusCode::OK,
        "idempotent"
    );
    assert_error(
        yank(&app, "9.9.9").await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
    // A job that pinned the version before the yank can be retried...
    assert_eq!(app.retry(&cancelled).await.status(), StatusCode::ACCEPTED);
    app.stop().await;
    // ...and both run once a worker is there.
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    for id in [&pinned, &cancelled] {
        let job = app.wait(id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["version"], "2.0.0", "{job}");
    }
    // New jobs: pinned to the yanked version, refused; latest moved on.
    let r = app.submit("wordcount", "version=2.0.0", "a").await;
    assert_error(r, StatusCode::GONE, "version_yanked").await;
    let id = app.submit_ok("wordcount", "", "a b\n").await;
    assert_eq!(app.wait(&id).await["version"], "1.1.0");
    let (_, one) = app.get_json("/v1/processors/wordcount").await;
    assert_eq!(one["latest"], "1.1.0", "{one}");

    // Versions page newest first; processors page by name.
    let (s, page) = app
        .get_json("/v1/processors/wordcount/versions?limit=2")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let got: Vec<&str> = page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["2.0.0", "1.1.0"]);
    assert_eq!(page["next"], "1.1.0");
    let (_, rest) = app
        .get_json("/v1/processors/wordcount/versions?limit=2&before=1.1.0")
        .await;
    assert_eq!(rest["versions"][0]["version"], "1.0.0");
    assert!(rest["next"].is_null(), "{rest}");
    app.install("csv-to-jsonl", "1.0.0").await;
    let (_, first) = app.get_json("/v1/processors?limit=1").await;
    assert_eq!(first["processors"][0]["name"], "csv-to-jsonl");
    assert_eq!(first["next"], "csv-to-jsonl");
    let (_, second) = app
        .get_json("/v1/processors?limit=1&after=csv-to-jsonl")
        .await;
    assert_eq!(second["processors"][0]["name"], "wordcount");
    let (s, _) = app.get_json("/v1/processors?limit=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Every version yanked: 410 for a job on the name.
    for v in ["1.0.0", "1.1.0"] {
        assert_eq!(yank(&app, v).await.status(), StatusCode::OK);
    }
    let r = app.submit("wordcount", "", "a").await;
    assert_error(r, StatusCode::GONE, "version_yanked").await;
    app.stop().await;
}
