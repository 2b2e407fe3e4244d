//! The job row is the truth: jobs accepted before a restart run after it.

use agensium_tests::TestApp;

#[tokio::test]
async fn queued_jobs_complete_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // No workers: jobs are accepted and stay queued.
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    app.install("wordcount", "1.0.0").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.submit_ok("wordcount", "", format!("job {i} has five words\n"))
                .await,
        );
    }
    app.stop().await;

    let app = TestApp::start(dir.path(), |c| c.slots = 2).await;
    for id in &ids {
        let job = app.wait(id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let (_, out) = app.result(id).await;
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["words"], 5);
    }
    app.stop().await;
}

/// A row the store cannot decode is the data's fault, not the backend's:
/// 500 `corrupt_record` (retrying will not help), never 503.
#[tokio::test]
async fn a_corrupt_row_is_a_500_not_a_503() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    app.install("wordcount", "1.0.0").await;
    let id = app.submit_ok("wordcount", "", "a b").await;
    let db = rusqlite::Connection::open(dir.path().join("agensium.db")).unwrap();
    let n = db
        .execute("UPDATE jobs SET status = 'exploded' WHERE id = ?1", [&id])
        .unwrap();
    assert_eq!(n, 1);
    let r = app.get(&format!("/v1/jobs/{id}")).await;
    let message = agensium_tests::assert_error(
        r,
        reqwest::StatusCode::INTERNAL_SERVER_ERROR,
        "corrupt_record",
    )
    .await;
    assert!(
        !message.contains("exploded"),
        "details stay in the log: {message}"
    );
    app.stop().await;
}
