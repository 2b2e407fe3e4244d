//! Hardening outside the sandbox: precompiled artifacts verified before
//! they are loaded, admission (compiles) bounded in time, memory and
//! concurrency, components too big for one sandbox refused, a full
//! sandbox pool treated as the infrastructure's problem.

use agensium_domain::Digest;
use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{TestApp, assert_error, bombs, fixture, plugin};
use reqwest::StatusCode;
use std::path::Path;
use std::time::{Duration, Instant};

/// The stored artifact of the component `bytes` (one per engine).
fn artifact_of(objects: &Path, bytes: &[u8]) -> std::path::PathBuf {
    let hex = Digest::of(bytes).hex().to_owned();
    let dir = objects.join("artifacts");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&hex) && n.ends_with(".cwasm"))
        .unwrap_or_else(|| panic!("no artifact of {hex} in {}", dir.display()));
    dir.join(name)
}

/// Before the ledger, a worker deserialized whatever native code sat at an
/// artifact's key: here the hostile fixture's code under wordcount's key
/// ran as wordcount (the job "succeeded" echoing its input). Now the bytes
/// must hash to what the metadata store recorded at upload; the stored
/// artifact, and then the local cache, are refused, and the component is
/// compiled instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_artifact_is_refused_and_the_job_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    app.install("wordcount", "1.0.0").await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let objects = dir.path().join("objects");
    let wordcount = artifact_of(&objects, &plugin("wordcount"));
    let hostile = std::fs::read(artifact_of(&objects, &fixture("hostile"))).unwrap();
    std::fs::write(&wordcount, &hostile).unwrap();

    let counts = br#"{"lines":1,"words":2,"bytes":4}"#;
    let id = app.submit_ok("wordcount", "", "a b\n").await;
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(app.result(&id).await.1, counts, "wordcount's own code ran");
    let log = app.logs(&id).await;
    assert!(log.contains("processor loaded from Compiled"), "{log}");
    let (_, metrics) = (
        StatusCode::OK,
        app.get("/metrics").await.text().await.unwrap(),
    );
    assert!(
        metrics.contains("agensium_artifacts_rejected_total{source=\"stored\"}"),
        "{metrics}"
    );
    app.stop().await;

    // The worker's own cache is no more trusted than the bucket.
    let cache = dir.path().join("cache");
    let cached: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(Digest::of(&plugin("wordcount")).hex())
        })
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    std::fs::write(&cached[0], &hostile).unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let id = app.submit_ok("wordcount", "", "a b\n").await;
    assert_eq!(app.wait(&id).await["status"], "succeeded");
    assert_eq!(app.result(&id).await.1, counts, "wordcount's own code ran");
    let log = app.logs(&id).await;
    assert!(!log.contains("from LocalArtifact"), "{log}");
    app.stop().await;
}

/// A component made of more core instances than one sandbox holds is
/// refused at upload; before, it was accepted and each of its jobs took
/// that share of the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_over_the_per_sandbox_maxima_is_refused_at_upload() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let r = app
        .register("swarm", "1.0.0", bombs::many_instances(40))
        .await;
    let msg = assert_error(r, StatusCode::BAD_REQUEST, "too_many_instances").await;
    assert!(msg.contains("40 core module instances"), "{msg}");
    assert!(
        app.objects().is_empty(),
        "nothing stored: {:?}",
        app.objects()
    );
    app.stop().await;
}

/// Two jobs on a worker whose pool holds one sandbox: the second cannot
/// instantiate. Before, that was recorded as the processor's `trap` (a
/// final failure); now it is handed back and runs once the pool has room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sandbox_pool_hands_the_job_back() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 2;
        c.instances = 1;
    })
    .await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let q = "param.mode=sleep&param.ms=1500";
    let a = app.submit_ok("hostile", q, "a").await;
    let b = app.submit_ok("hostile", q, "b").await;
    let (a, b) = (app.wait(&a).await, app.wait(&b).await);
    for job in [&a, &b] {
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let retried = [&a, &b]
        .iter()
        .filter(|j| j["attempts"].as_u64().unwrap() > 1)
        .count();
    assert!(retried >= 1, "one waited for the pool: {a} {b}");
    app.stop().await;
}

/// `agensium api` as deployed, with a 2 s compile limit: a component that
/// takes Cranelift far longer is stopped at the limit with `422
/// compile_too_slow`, while the API keeps answering, other uploads compile
/// and jobs are accepted; and its peak RSS stays small, because compiles
/// happen in a child process (before: in the API, with no bound at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compile_bomb_is_stopped_at_its_limits_and_blocks_nothing() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let listen = format!("127.0.0.1:{}", free_port());
    let api = Proc::spawn(
        "api",
        &["api", "--listen", &listen],
        &be.env,
        &[
            ("AGENSIUM_COMPILE_TIMEOUT_SECS", "2"),
            ("AGENSIUM_COMPILE_CONCURRENCY", "2"),
        ],
    );
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let client = be.client(&url);
    client.install("wordcount", "1.0.0").await;

    // 1.3 MB: 90,000 empty functions, about 6 s and 500 MB to compile
    // (under the screen's cap of 100,000 functions).
    let bomb = bombs::compile_heavy(90_000, 1, 0);
    let started = Instant::now();
    let slow = {
        let c = client.clone();
        tokio::spawn(async move { c.register("bomb", "1.0.0", bomb).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Meanwhile: health, another upload and a submission answer promptly.
    let t = Instant::now();
    assert!(client.get("/healthz").await.status().is_success());
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let r = client
        .register("csv", "1.0.0", plugin("csv-to-jsonl"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = Instant::now();
    client.submit_ok("wordcount", "", "a b\n").await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    let r = slow.await.unwrap();
    let took = started.elapsed();
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "compile_too_slow").await;
    assert!(
        took < Duration::from_secs(8),
        "stopped at its limit: {took:?}"
    );
    let hwm = peak_rss_mib(api.pid());
    eprintln!("api peak RSS after the bomb: {hwm} MiB (bomb compiled for {took:?})");
    assert!(hwm < 300, "the API's peak RSS: {hwm} MiB");
}

/// A 128 MiB compile memory limit: 90,000 functions need about 500 MB to
/// compile, and are refused with `422 compile_memory_limit`; an ordinary
/// component still compiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compile_over_its_memory_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.admission.memory_bytes = 128 << 20;
    })
    .await;
    let r = app
        .register("hog", "1.0.0", bombs::compile_heavy(90_000, 1, 0))
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "compile_memory_limit").await;
    // An ordinary component compiles within the same limit.
    app.install("wordcount", "1.0.0").await;
    app.stop().await;
}

/// Peak resident memory of process `pid`, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib >> 10
}

/// Slow loris: 1,000 connections that never finish their headers. Before,
/// they stayed open for as long as the client liked; now a normal submit
/// still succeeds meanwhile, and each is closed once the header timeout
/// (1 s here) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_do_not_stop_a_submit_and_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 1;
        c.edge.header_timeout = Duration::from_secs(1);
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut lorises = Vec::new();
    for _ in 0..1000 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /v1/processors/wordcount/jobs HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        lorises.push(s);
    }
    let t = Instant::now();
    let id = app.submit_ok("wordcount", "", "a b\n").await;
    assert_eq!(app.wait(&id).await["status"], "succeeded");
    eprintln!(
        "submit + run beside 1,000 half-open connections: {:?}",
        t.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut closed = 0;
    for s in lorises.iter_mut().step_by(20) {
        let mut buf = [0u8; 256];
        // Closed: EOF (or a reset), possibly after a 408.
        let read = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        closed += usize::from(read.is_ok());
    }
    assert_eq!(closed, 50, "half-open connections closed by the server");
    app.stop().await;
}

/// Params are bounded where they enter: a form field over 64 KiB, a 65th
/// param, a 129-byte key are refused with 400 before anything is stored.
/// Before, a text field was read whole, however big.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_and_form_fields_are_bounded() {
    use reqwest::multipart::{Form, Part};
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    app.install("wordcount", "1.0.0").await;
    let url = format!("{}/v1/processors/wordcount/jobs", app.url);
    let form = Form::new()
        .part("param.big", Part::text("v".repeat(100 << 10)))
        .part("file", Part::bytes(b"a b\n".to_vec()));
    let r = app.http.post(&url).multipart(form).send().await.unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "bad_multipart").await;
    let many: String = (0..65).map(|i| format!("param.p{i}=x&")).collect();
    let r = app.submit("wordcount", &many, "a").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_param").await;
    let long_key = format!("param.{}=x", "k".repeat(129));
    let r = app.submit("wordcount", &long_key, "a").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_param").await;
    let (_, jobs) = app.get_json("/v1/jobs").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "{jobs}");
    let inputs: Vec<_> = app
        .objects()
        .into_iter()
        .filter(|k| k.starts_with("jobs/"))
        .collect();
    assert!(inputs.is_empty(), "{inputs:?}");
    app.stop().await;
}

/// A backend URL's password never reaches the output of a process that
/// fails to connect. Before, the Redis adapter's error carried the whole
/// `redis://:password@host` URL.
#[test]
fn backend_passwords_never_reach_the_output() {
    for (var, url) in [
        ("AGENSIUM_REDIS_URL", "redis://:rail-s3cr3t@127.0.0.1:1/"),
        (
            "AGENSIUM_DATABASE_URL",
            "mysql://root:db-s3cr3t@127.0.0.1:1/x",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(agensium_tests::procs::binary())
            .arg("worker")
            .env(var, url)
            .env("AGENSIUM_DATA_DIR", dir.path())
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "{var}: the worker cannot start: {text}"
        );
        assert!(text.contains("127.0.0.1:1"), "{var}: says where: {text}");
        assert!(
            !text.contains("s3cr3t"),
            "{var}: the password leaked: {text}"
        );
    }
}
