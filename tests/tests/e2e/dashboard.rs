//! The dashboard at `/ui`, in a real browser: headless Chromium driven
//! through chromedriver signs in with a key, submits a file through the
//! form, watches the job reach `succeeded` live and opens its result.
//! The screenshot it takes is the one in the README.

use agensium_tests::TestApp;
use agensium_tests::webdriver::{Browser, Driver};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Waits (30 s at most) until the text of the element matching `selector`
/// satisfies `ok`; returns it. Fails with what the page's error box says.
async fn text_until(b: &Browser, selector: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        if let Ok(e) = b.find(selector).await
            && let Ok(t) = b.text(&e).await
            && ok(&t)
        {
            return t;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let err = match b.find("#error").await {
                Ok(e) => b.text(&e).await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("{selector} never matched (the page's error box: {err:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_dashboard_submits_a_file_and_shows_its_job_live() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |s| s.slots = 1).await;
    app.install("wordcount", "1.0.0").await;
    let key = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
    let input = dir.path().join("words.txt");
    std::fs::write(&input, "the dashboard counts\nthese words\n").unwrap();
    let b = driver.session().await;

    // Without a key the page shows nothing but the sign-in form.
    b.goto(&format!("{}/ui", app.url)).await;
    let key_input = b.wait_for("#key-form:not([hidden]) #key").await;
    b.send_keys(&key_input, "agk_0000000000000000_wrong").await;
    b.click(&b.find("#key-form button[type=submit]").await.unwrap())
        .await;
    text_until(&b, "#error", |t| t.contains("unauthorized")).await;
    let key_input = b.wait_for("#key-form:not([hidden]) #key").await;
    b.send_keys(&key_input, key.trim()).await;
    b.click(&b.find("#key-form button[type=submit]").await.unwrap())
        .await;
    text_until(&b, "#who-role", |t| t == "operator").await;

    b.goto(&format!("{}/ui#/submit", app.url)).await;
    text_until(&b, "#submit-processor", |t| t.contains("wordcount")).await;
    let option = b
        .find("#submit-processor option[value=wordcount]")
        .await
        .unwrap();
    b.click(&option).await;
    let file = b.find("#submit-file").await.unwrap();
    b.send_keys(&file, input.to_str().unwrap()).await;
    b.click(&b.find("#submit-button").await.unwrap()).await;

    // The form lands on the job's page, which follows it live.
    text_until(&b, "#job-status", |t| t == "succeeded").await;
    let url = b.url().await;
    let id = url.rsplit('/').next().unwrap().to_owned();
    let (_, job) = app.get_json(&format!("/v1/jobs/{id}")).await;
    assert_eq!(job["status"], "succeeded", "the API agrees: {job}");
    let preview = text_until(&b, "#result-preview", |t| t.contains("words")).await;
    let shown: Value = serde_json::from_str(preview.trim()).unwrap();
    assert_eq!(shown, json!({"lines": 2, "words": 5, "bytes": 33}));
    let link = b.find("#download").await.unwrap();
    let href = b.property(&link, "href").await.unwrap();
    assert!(
        href.as_str().is_some_and(|h| h.starts_with("blob:")),
        "a download of the result: {href}"
    );
    text_until(&b, "#job-log", |t| t.contains("[agensium]")).await;
    let shot = b.screenshot().await;
    assert!(shot.starts_with(b"\x89PNG"), "a PNG");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard.png");
    std::fs::write(&out, shot).unwrap();
    eprintln!("screenshot: {}", out.display());

    // The jobs page filters by processor and status.
    b.goto(&format!(
        "{}/ui#/jobs?status=succeeded&processor=wordcount",
        app.url
    ))
    .await;
    text_until(&b, "main table", |t| t.contains(&id)).await;

    // Signed out, the page asks for a key again.
    b.click(&b.find("#sign-out").await.unwrap()).await;
    b.wait_for("#key-form:not([hidden])").await;
    b.quit().await;
    app.stop().await;
}
