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
