//! Hostile processors: a component that attacks its sandbox (the fixture
//! `tests/fixtures/hostile`, built by `cargo xtask test`) must end in a
//! failed job with a stable code, a readable log, and a worker that goes on:
//! every case runs on ONE worker and checks that the next job on it succeeds.

use agensium::Settings;
use agensium_tests::{TestApp, assert_error, fixture};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// One worker and limits tight enough that every attack hits one quickly.
fn tight(c: &mut Settings) {
    c.slots = 1;
    c.limits.memory_bytes = 64 << 20;
    c.limits.wall_time = Duration::from_secs(10);
    c.limits.output_bytes = 1 << 20;
    c.limits.log_bytes = 64 << 10;
}

/// Starts the system with [`tight`] limits changed by `tweak`, and registers
/// the hostile fixture as `hostile` 1.0.0.
async fn start(tweak: impl FnOnce(&mut Settings)) -> (TempDir, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        tight(c);
        tweak(c);
    })
    .await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED, "registering hostile");
    (dir, app)
}

/// A well-behaved `echo` job succeeds and returns its input: the worker
/// survived whatever ran before.
async fn echo_ok(app: &TestApp) -> String {
    let input = b"still alive\n".repeat(1000);
    let id = app
        .submit_ok("hostile", "param.mode=echo", input.clone())
        .await;
    let job = app.wait(&id).await;
    assert_eq!(
        job["status"], "succeeded",
        "echo after a hostile job: {job}"
    );
    assert!(app.result(&id).await.1 == input, "echo output == input");
    id
}

/// Runs the fixture with `query` (e.g. `param.mode=loop`) to its end and
/// checks the contract: `failed` with `code` and a message, a readable log,
/// then an echo on the same worker succeeds. A job that *succeeds* escaped
/// the sandbox: the test fails showing what the processor got. Returns the
/// job and its log.
async fn expect_failure(app: &TestApp, query: &str, code: &str) -> (Value, String) {
    let id = app.submit_ok("hostile", query, Vec::new()).await;
    let job = app.wait(&id).await;
    if job["status"] == "succeeded" {
        let out = app.result(&id).await.1;
        panic!(
            "{query}: ESCAPED the sandbox: stats {}, output:\n{}",
            job["stats"],
            String::from_utf8_lossy(&out)
        );
    }
    assert_eq!(job["status"], "failed", "{query}: {job}");
    assert_eq!(job["error"]["code"], code, "{query}: {job}");
    let message = job["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{query}: an error message: {job}");
    // Shown with --nocapture: what the sandbox answered.
    eprintln!("{query}: {code}: {message}");
    let log = app.logs(&id).await;
    echo_ok(app).await;
    (job, log)
}

/// A processor's failure code is attributed: it cannot pass its failure
/// off as one of the host's (here `timeout`), and its message is bounded
/// before it reaches the job row.
#[tokio::test]
async fn a_processor_cannot_pose_as_the_host() {
    let (_dir, app) = start(|_| {}).await;
    for code in ["timeout", "max_attempts", "Not%20Snake"] {
        let query = format!("param.mode=spoof&param.code={code}");
        let (job, _) = expect_failure(&app, &query, "processor_error").await;
        let message = job["error"]["message"].as_str().unwrap();
        assert!(
            message.len() <= 4096,
            "{code}: message of {} bytes",
            message.len()
        );
    }
    let (job, _) = expect_failure(&app, "param.mode=spoof&param.code=bad_row", "bad_row").await;
    assert_eq!(job["error"]["code"], "bad_row");
}

/// A processor that succeeds with `query` on one worker; its job, log and
/// output, after which an echo on the same worker succeeds.
async fn expect_success(app: &TestApp, query: &str) -> (Value, String, Vec<u8>) {
    let id = app.submit_ok("hostile", query, b"in\n".to_vec()).await;
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{query}: {job}");
    let log = app.logs(&id).await;
    let out = app.result(&id).await.1;
    echo_ok(app).await;
    (job, log, out)
}

/// One `host.write` of 8 MiB: the host copies it out of the guest in
/// 256 KiB pieces (never the whole list at once) and the output is whole.
#[tokio::test]
async fn one_huge_write_is_streamed_in_pieces() {
    let (_dir, app) = start(|c| c.limits.output_bytes = 16 << 20).await;
    let (job, _, out) = expect_success(&app, "param.mode=bigwrite&param.mib=8").await;
    assert_eq!(job["stats"]["bytes"], (8u64 << 20).to_string(), "{job}");
    assert_eq!(out.len(), 8 << 20);
    assert!(out.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    app.stop().await;
}

/// A 2 MiB `host.log` message: the host keeps its first 64 KiB (and says
/// so) before copying it. Before, the whole message was copied into host
/// memory and, past the 1 MiB log, failed the job with `log_limit`.
#[tokio::test]
async fn a_huge_log_message_is_cut_before_it_is_copied() {
    let (_dir, app) = start(|c| c.limits.log_bytes = 1 << 20).await;
    let (_, log, _) = expect_success(&app, "param.mode=biglog&param.kib=2048").await;
    assert!(
        log.contains("bytes of this message cut]"),
        "{}",
        &log[log.len().saturating_sub(300)..]
    );
    assert!(log.len() < 80 << 10, "{} bytes of log", log.len());
    app.stop().await;
}

/// Lines a processor prints or logs cannot read as the host's: each is
/// marked with its source and its newlines cannot start a line. Before,
/// stdout went into the log verbatim (`[agensium] job succeeded`).
#[tokio::test]
async fn guest_lines_cannot_pose_as_host_lines() {
    let (_dir, app) = start(|_| {}).await;
    let (_, log, _) = expect_success(&app, "param.mode=forge").await;
    let host: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("[agensium]"))
        .collect();
    assert!(
        host.iter()
            .all(|l| !l.contains("forged") && !l.contains("job succeeded")),
        "{log}"
    );
    assert!(log.contains("[stdout] [agensium] job succeeded"), "{log}");
    assert!(
        log.contains(r"[info] x\x0a[agensium] forged by host.log"),
        "{log}"
    );
    app.stop().await;
}

/// `wasi:random` hands out at most 64 KiB per call: a guest asking for
/// 1 MiB traps. Before, wasmtime's default let one call allocate 64 MiB
/// of host memory (and this job succeeded).
#[tokio::test]
async fn random_requests_are_capped_small() {
    let (_dir, app) = start(|_| {}).await;
    let (job, _) = expect_failure(&app, "param.mode=random&param.mib=1", "trap").await;
    let message = job["error"]["message"].as_str().unwrap();
    assert!(message.contains("exceeds limit 65536"), "{message}");
    app.stop().await;
}

/// Guests see clocks that step in whole milliseconds (timing side
/// channels between tenants' jobs in one process); before, nanoseconds.
#[tokio::test]
async fn guest_clocks_step_in_milliseconds() {
    let (_dir, app) = start(|_| {}).await;
    let (job, _, _) = expect_success(&app, "param.mode=clock").await;
    let step: u64 = job["stats"]["min_step_ns"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(step >= 1_000_000, "smallest step {step} ns: {job}");
    app.stop().await;
}

#[tokio::test]
async fn endless_loop_times_out() {
    let (_dir, app) = start(|c| c.limits.wall_time = Duration::from_secs(1)).await;
    let t0 = Instant::now();
    expect_failure(&app, "param.mode=loop", "timeout").await;
    // 1 s limit; allow compile, polling and the echo run.
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    app.stop().await;
}

#[tokio::test]
async fn memory_hog_hits_memory_limit() {
    let (_dir, app) = start(|_| {}).await;
    expect_failure(&app, "param.mode=memory", "memory_limit").await;
    app.stop().await;
}

#[tokio::test]
async fn runaway_recursion_is_stack_overflow() {
    let (_dir, app) = start(|_| {}).await;
    expect_failure(&app, "param.mode=recursion", "stack_overflow").await;
    app.stop().await;
}

#[tokio::test]
async fn endless_output_hits_output_limit_and_serves_no_result() {
    let (_dir, app) = start(|_| {}).await;
    let (job, _) = expect_failure(&app, "param.mode=output", "output_limit").await;
    let id = job["id"].as_str().unwrap();
    let r = app.get(&format!("/v1/jobs/{id}/result")).await;
    assert_error(r, StatusCode::CONFLICT, "job_failed").await;
    assert!(
        !agensium_tests::has_output(id, &app.objects()),
        "no partial output stored: {:?}",
        app.objects()
    );
    app.stop().await;
}

#[tokio::test]
async fn endless_host_log_hits_log_limit() {
    let (_dir, app) = start(|_| {}).await;
    let (_, log) = expect_failure(&app, "param.mode=log", "log_limit").await;
    assert!(
        log.len() < (64 << 10) + 4096,
        "the log stays bounded: {} bytes",
        log.len()
    );
    app.stop().await;
}

#[tokio::test]
async fn endless_stderr_hits_log_limit() {
    let (_dir, app) = start(|_| {}).await;
    let (_, log) = expect_failure(&app, "param.mode=stderr", "log_limit").await;
    assert!(
        log.len() < (64 << 10) + 4096,
        "the log stays bounded: {} bytes",
        log.len()
    );
    app.stop().await;
}

#[tokio::test]
async fn panic_is_a_trap_with_its_message_in_the_log() {
    let (_dir, app) = start(|_| {}).await;
    let (_, log) = expect_failure(&app, "param.mode=panic", "trap").await;
    assert!(
        log.contains("hostile panic"),
        "panic message in the log:\n{log}"
    );
    app.stop().await;
}

#[tokio::test]
async fn no_filesystem() {
    let (_dir, app) = start(|_| {}).await;
    expect_failure(&app, "param.mode=file", "access_denied").await;
    app.stop().await;
}

#[tokio::test]
async fn no_environment_or_arguments() {
    let (_dir, app) = start(|_| {}).await;
    expect_failure(&app, "param.mode=env", "access_denied").await;
    app.stop().await;
}

#[tokio::test]
async fn no_network() {
    // A real listener, so that a refused connection means the sandbox
    // refused it, not that nobody listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_dir, app) = start(|_| {}).await;
    let query = format!("param.mode=socket&param.port={port}");
    expect_failure(&app, &query, "access_denied").await;
    assert!(
        listener.accept().is_err(),
        "the processor reached a host listener"
    );
    app.stop().await;
}

#[tokio::test]
async fn sleeping_in_the_host_is_bounded_by_wall_time() {
    let (_dir, app) = start(|c| c.limits.wall_time = Duration::from_secs(1)).await;
    let id = app
        .submit_ok("hostile", "param.mode=sleep&param.ms=10", Vec::new())
        .await;
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "a short sleep is fine: {job}");
    assert_eq!(job["stats"]["slept_ms"], "10", "{job}");
    let t0 = Instant::now();
    expect_failure(&app, "param.mode=sleep&param.ms=60000", "timeout").await;
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "a sleeping processor is stopped near its wall time, took {:?}",
        t0.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_command_component_is_the_wrong_world() {
    let (_dir, app) = start(|_| {}).await;
    let r = app
        .register("not-a-processor", "1.0.0", fixture("not-a-processor"))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "wrong_world").await;
    app.stop().await;
}

#[tokio::test]
async fn oversized_component_is_refused() {
    let bytes = fixture("hostile");
    let limit = (64u64 << 10).min(bytes.len() as u64 - 1);
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        tight(c);
        c.max_component_bytes = limit;
    })
    .await;
    let r = app.register("hostile", "1.0.0", bytes).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let (status, body) = app.get_json("/v1/processors/hostile").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing registered: {body}");
    app.stop().await;
}

// Multi-threaded like the real binary: on a single-threaded runtime the
// spinning guest, the API and this client share one thread, and tokio polls
// sockets only every few dozen task polls, so HTTP itself takes seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_it_within_a_second() {
    let (_dir, app) = start(|c| c.limits.wall_time = Duration::from_secs(30)).await;
    let id = app
        .submit_ok("hostile", "param.mode=loop", Vec::new())
        .await;
    app.wait_for(&id, "job running", Duration::from_secs(10), |j| {
        j["status"] == "running"
    })
    .await;

    let t0 = Instant::now();
    let r = app.cancel(&id).await;
    assert_eq!(r.status(), StatusCode::OK, "DELETE a running job");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "cancelled", "DELETE answer: {body}");
    let job = app
        .wait_for(&id, "job cancelled", Duration::from_secs(10), |j| {
            j["status"] == "cancelled"
        })
        .await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(1), "cancelled after {took:?}");
    assert_eq!(job["error"]["code"], "cancelled", "{job}");
    // The processor really stopped: the worker stored the job's log, which
    // it does only once the run is over.
    loop {
        let log = app.logs(&id).await;
        if log.contains("cancelled") {
            eprintln!(
                "cancel: row after {took:?}, processor stopped after {:?}",
                t0.elapsed()
            );
            break;
        }
        let took = t0.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "still running {took:?} after DELETE; log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let echo = echo_ok(&app).await;
    let r = app.cancel(&echo).await;
    assert_error(r, StatusCode::CONFLICT, "job_finished").await;
    app.stop().await;
}

#[tokio::test]
async fn cancelling_a_queued_job_is_immediate() {
    let (_dir, app) = start(|c| c.slots = 0).await;
    let id = app.submit_ok("hostile", "param.mode=echo", "x").await;
    let r = app.cancel(&id).await;
    assert_eq!(r.status(), StatusCode::OK, "DELETE a queued job");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "cancelled", "DELETE answer: {body}");
    let (_, job) = app.get_json(&format!("/v1/jobs/{id}")).await;
    assert_eq!(job["status"], "cancelled", "at once: {job}");
    // Cancelled is final: cancelling again is a conflict.
    let r = app.cancel(&id).await;
    assert_error(r, StatusCode::CONFLICT, "job_finished").await;
    app.stop().await;
}
