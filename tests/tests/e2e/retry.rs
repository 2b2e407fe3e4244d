//! Retries: infrastructure failures are retried up to `max_attempts`, then
//! the job lands on the dead-letter list (`failed` / `max_attempts`), from
//! which `POST /v1/jobs/{id}/retry` runs it again with the same input.

use agensium_tests::{TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_failures_retry_then_dead_letter_then_user_retry() {
    let dir = tempfile::tempdir().unwrap();
    // Accept the job with no worker running, and lose its input.
    // Nothing inline: the input is a file in the object store, to lose.
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.inline = agensium_domain::InlineLimit::NONE;
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let id = app.submit_ok("wordcount", "", "one two three\n").await;
    let input = app.dir.join(format!("objects/jobs/{id}/in/000000"));
    let saved = std::fs::read(&input).unwrap();
    std::fs::remove_file(&input).unwrap();
    // Outputs that lost attempts uploaded before they died: the dead
    // letter keeps none of them (before, only a success cleaned up).
    let outputs = app.dir.join(format!("objects/jobs/{id}/output"));
    std::fs::create_dir_all(&outputs).unwrap();
    std::fs::write(outputs.join("1"), "a lost attempt's output").unwrap();
    std::fs::write(outputs.join("2"), "another").unwrap();
    app.stop().await;
    // Restarted with a worker: the queued job goes back on the rail.
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 1;
        c.max_attempts = 3;
        c.inline = agensium_domain::InlineLimit::NONE;
    })
    .await;

    // Every attempt fails to read the input (a store error: retryable),
    // backs off, and the third gives up: max_attempts, on the dead letter.
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "max_attempts", "{job}");
    assert_eq!(
        job["attempts"], 4,
        "3 attempts + the one that gave up: {job}"
    );
    let left: Vec<_> = app
        .objects()
        .into_iter()
        .filter(|k| k.starts_with(&format!("jobs/{id}/out")))
        .collect();
    assert!(left.is_empty(), "outputs of the dead letter: {left:?}");
    let (_, failed) = app.get_json("/v1/jobs?status=failed").await;
    assert!(
        failed["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id.as_str()),
        "listed as failed: {failed}"
    );

    // Without its input a retry is refused; with it back, the job runs again.
    let r = app.retry(&id).await;
    assert_error(r, StatusCode::GONE, "input_gone").await;
    std::fs::write(&input, saved).unwrap();
    let r = app.retry(&id).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "queued", "{v}");
    assert!(v["error"].is_null(), "{v}");
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 5, "attempts keep counting: {job}");
    let (_, out) = app.result(&id).await;
    assert_eq!(out, br#"{"lines":1,"words":3,"bytes":14}"#);
    // A succeeded job is not retried.
    let r = app.retry(&id).await;
    assert_error(r, StatusCode::CONFLICT, "job_not_retryable").await;
    let r = app.retry("01a00000-0000-7000-8000-000000000000").await;
    assert_error(r, StatusCode::NOT_FOUND, "job_not_found").await;
    app.stop().await;
}
