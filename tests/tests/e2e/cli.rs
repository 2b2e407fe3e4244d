//! The users' kit: the `agensium processor|job` client against a running
//! API, and the answers that wait for a job (`?wait=`, Server-Sent Events).

use agensium_tests::procs::binary;
use agensium_tests::{TestApp, fixture};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn built(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(dir)
        .join(format!("{name}.wasm"))
}

/// What one `agensium` client command did.
struct Cli {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `agensium ARGS…` against `app` with its operator key (from the
/// environment, as a user would set it), stdout and stderr not terminals.
async fn cli(app: &TestApp, args: &[&str]) -> Cli {
    let key = std::fs::read_to_string(app.dir.join("admin.key")).unwrap();
    cli_with(&app.url, Some(key.trim()), args).await
}

async fn cli_with(url: &str, key: Option<&str>, args: &[&str]) -> Cli {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.args(args)
        .env("AGENSIUM_URL", url)
        .env_remove("AGENSIUM_KEY")
        .env_remove("AGENSIUM_CONFIG");
    if let Some(k) = key {
        cmd.env("AGENSIUM_KEY", k);
    }
    let out = cmd.output().await.expect("agensium runs");
    Cli {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &Cli) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// Push, list, show; submit and wait with the result on stdout; a failing
/// job's code and exit status; status, logs, list, retry, cancel; errors
/// as the API's code and message.
#[tokio::test]
async fn the_cli_pushes_submits_waits_and_reports_like_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    let wordcount = built("plugins", "wordcount");
    let wc = wordcount.to_str().unwrap();

    let out = cli(&app, &["processor", "push", "wordcount", "1.0.0", wc]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("registered wordcount 1.0.0 sha256:"),
        "{}",
        out.stdout
    );
    let again = cli(&app, &["processor", "push", "wordcount", "1.0.0", wc]).await;
    assert!(
        again.stdout.starts_with("already registered"),
        "{}",
        again.stdout
    );
    let csv = built("plugins", "csv-to-jsonl");
    let out = cli(
        &app,
        &[
            "processor",
            "push",
            "csv-to-jsonl",
            "2.0.0",
            csv.to_str().unwrap(),
            "--memory-mib",
            "64",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(json(&out)["limits"]["memory_mib"], 64);

    let list = json(&cli(&app, &["processor", "list", "--json"]).await);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["csv-to-jsonl", "wordcount"]);
    let show = cli(&app, &["processor", "show", "csv-to-jsonl"]).await;
    assert!(
        show.stdout.contains("2.0.0") && show.stdout.contains("memory_mib=64"),
        "{}",
        show.stdout
    );

    // Submit, wait, result on stdout: the counts of this very file.
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one two\nthree\n").unwrap();
    let out = cli(
        &app,
        &[
            "job",
            "submit",
            "wordcount",
            input.to_str().unwrap(),
            "--wait",
            "--output",
            "-",
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, r#"{"lines":2,"words":3,"bytes":14}"#);
    assert!(
        out.stderr.is_empty(),
        "no progress drawn off a terminal: {:?}",
        out.stderr
    );

    // To a file, with a param, pinned.
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, "a;b\n1;2\n").unwrap();
    let result = dir.path().join("rows.jsonl");
    let out = cli(
        &app,
        &[
            "job",
            "submit",
            "csv-to-jsonl",
            rows.to_str().unwrap(),
            "--version",
            "2.0.0",
            "--param",
            "delimiter=;",
            "--wait",
            "-o",
            result.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&result).unwrap(),
        "{\"a\":\"1\",\"b\":\"2\"}\n"
    );

    // A failing job: exit 1, its code on stderr.
    std::fs::write(&rows, "a,b\n1\n").unwrap();
    let out = cli(
        &app,
        &[
            "job",
            "submit",
            "csv-to-jsonl",
            rows.to_str().unwrap(),
            "--wait",
        ],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("failed: invalid_input:"),
        "{}",
        out.stderr
    );
    let failed_id = out.stderr.split_whitespace().nth(1).unwrap().to_owned();

    // Without --wait: the id; then status, logs, list, retry, cancel.
    let out = cli(
        &app,
        &["job", "submit", "wordcount", input.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let id = out.stdout.trim().to_owned();
    app.wait(&id).await;
    let status = json(&cli(&app, &["job", "status", &id, "--json"]).await);
    assert_eq!(status["status"], "succeeded");
    let text = cli(&app, &["job", "status", &id]).await.stdout;
    assert!(
        text.contains("status: succeeded") && text.contains("stats: bytes=14"),
        "{text}"
    );
    let logs = cli(&app, &["job", "logs", &failed_id]).await;
    assert!(logs.stdout.contains("[agensium]"), "{}", logs.stdout);
    let listed = json(&cli(&app, &["job", "list", "--status", "failed", "--json"]).await);
    assert_eq!(listed["jobs"][0]["id"], failed_id.as_str());
    let retried = json(&cli(&app, &["job", "retry", &failed_id, "--json"]).await);
    assert_eq!(retried["id"], failed_id.as_str());
    let out = cli(&app, &["job", "cancel", &id]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("error: job_finished: "),
        "{}",
        out.stderr
    );

    // The API's errors, not a stack trace.
    let out = cli(&app, &["job", "submit", "nope", input.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("error: processor_not_found: "),
        "{}",
        out.stderr
    );
    let out = cli_with(&app.url, Some("agensium_wrong"), &["processor", "list"]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("(HTTP 401)"), "{}", out.stderr);
    let out = cli_with("http://127.0.0.1:9", None, &["job", "status", &id]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .starts_with("error: calling the API at http://127.0.0.1:9"),
        "{}",
        out.stderr
    );
    app.stop().await;
}

/// A submission refused for now (429 with `Retry-After`) is sent again
/// after the pause the API asked for, from the file's start: over a key's
/// rate, every submission of a file is accepted. Stdin cannot be read
/// twice: its refusal is the command's error.
#[tokio::test]
async fn the_cli_sends_a_refused_submission_again_after_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.submit_rate = 1;
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "one two three\n").unwrap();
    let file = input.to_str().unwrap();
    let mut resent = 0;
    for _ in 0..3 {
        let out = cli(&app, &["job", "submit", "wordcount", file]).await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let id = out.stdout.trim();
        let (_, job) = app.get_json(&format!("/v1/jobs/{id}")).await;
        assert_eq!(job["input_bytes"], 14, "{job}");
        resent += usize::from(out.stderr.contains("rate_limited"));
        assert!(
            out.stderr.is_empty() || out.stderr.contains("; sending again in 1 s"),
            "{}",
            out.stderr
        );
    }
    assert!(resent >= 2, "3 submissions within 2 s at 1 per second");
    let stdin = cli(&app, &["job", "submit", "wordcount", "-"]).await;
    assert_eq!(stdin.code, Some(1), "{}", stdin.stdout);
    assert!(
        stdin.stderr.starts_with("error: rate_limited:"),
        "{}",
        stdin.stderr
    );
    let (_, page) = app.get_json("/v1/jobs").await;
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(3), "{page}");
    app.stop().await;
}

/// `?wait=` answers as soon as the job ends (well before its deadline),
/// at once for a final job, and refuses a wait over 60 s; the events
/// stream says `status` then `done`.
#[tokio::test]
async fn waiting_answers_when_the_job_ends() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert!(r.status().is_success());
    let id = app
        .submit_ok("hostile", "param.mode=sleep&param.ms=700", b"x".to_vec())
        .await;
    let started = Instant::now();
    let (status, job) = app.get_json(&format!("/v1/jobs/{id}?wait=30")).await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(
        took >= Duration::from_millis(600),
        "it waited for the job: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "it answered at the job's end: {took:?}"
    );
    let started = Instant::now();
    let (_, again) = app.get_json(&format!("/v1/jobs/{id}?wait=30")).await;
    assert_eq!(again["status"], "succeeded");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a final job at once"
    );
    let (status, body) = app.get_json(&format!("/v1/jobs/{id}?wait=61")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_wait");

    let id = app
        .submit_ok("hostile", "param.mode=sleep&param.ms=300", b"x".to_vec())
        .await;
    let events = app.get(&format!("/v1/jobs/{id}/events")).await;
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(20), events.text())
        .await
        .expect("the stream ends after `done`")
        .unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.last(), Some(&"done"), "{text}");
    assert!(
        names[..names.len() - 1].iter().all(|n| *n == "status"),
        "{text}"
    );
    assert!(text.contains("\"status\":\"succeeded\""), "{text}");
    let missing = app
        .get("/v1/jobs/00000000-0000-0000-0000-000000000000/events")
        .await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}
