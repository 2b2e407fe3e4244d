//! The full path: submit a file, a worker runs the processor, fetch the result.

use agensium_tests::{TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

/// `LC_ALL=C wc -l -w -c` of `input`, as JSON.
fn wc(input: &[u8]) -> Value {
    let mut child = Command::new("wc")
        .args(["-l", "-w", "-c"])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wc is installed");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    let n: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    serde_json::json!({ "lines": n[0], "words": n[1], "bytes": n[2] })
}

/// Deterministic pseudo-random bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn wordcount_matches_wc() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    let pv = app.install("wordcount", "1.0.0").await;

    let text: Vec<u8> = noise(3 << 20, 7)
        .into_iter()
        .map(|b| b" \t\n\r\x0b\x0cabcdefghijklmnopqrstuvwxyz.,"[b as usize % 34])
        .collect();
    let inputs: [(&str, Vec<u8>); 4] = [
        ("text", text),
        ("binary", noise(1 << 20, 42)),
        ("empty", Vec::new()),
        ("no final newline", b"one two\nthree".to_vec()),
    ];
    for (what, input) in inputs {
        let r = app.submit("wordcount", "", input.clone()).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let sub: Value = r.json().await.unwrap();
        assert_eq!(sub["status"], "queued");
        assert_eq!(sub["version"], "1.0.0", "no version means latest");
        assert_eq!(sub["digest"], pv["digest"], "the job pins the digest");
        let id = sub["id"].as_str().unwrap();
        assert_eq!(loc, format!("/v1/jobs/{id}"));
        let job = app.wait(id).await;
        assert_eq!(job["status"], "succeeded", "{what}: {job}");
        assert_eq!(job["input_bytes"], input.len() as u64);
        assert_eq!(job["attempts"], 1);
        for k in ["created_at", "started_at", "finished_at"] {
            assert!(job[k].is_string(), "{k} set: {job}");
        }
        let (ct, out) = app.result(id).await;
        assert_eq!(ct, "application/json");
        assert_eq!(job["output_bytes"], out.len() as u64);
        let usage = &job["usage"];
        assert_eq!(usage["output_bytes"], out.len() as u64, "{job}");
        assert!(usage["peak_memory_bytes"].as_u64().unwrap() > 0, "{job}");
        assert!(
            usage["wall_time_ms"].is_u64() && usage["epoch_ticks"].is_u64(),
            "{job}"
        );
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(got, wc(&input), "{what}");
    }
    app.stop().await;
}

/// 100k rows with quoted fields holding delimiters, quotes and newlines.
fn csv_rows(rows: usize) -> (Vec<u8>, Vec<Value>) {
    let mut csv = b"id,name,comment,amount\r\n".to_vec();
    let mut expected = Vec::with_capacity(rows);
    for i in 0..rows {
        let name = format!(
            "name {i}, the {}",
            ["first", "\"quoted\"", "ünïcødé"][i % 3]
        );
        let comment = if i % 5 == 0 {
            format!("line one\nline two {i}")
        } else {
            String::new()
        };
        let amount = format!("{}.{:02}", i * 7, i % 100);
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        csv.extend_from_slice(
            format!("{i},{},{},{amount}\r\n", quote(&name), quote(&comment)).as_bytes(),
        );
        expected.push(serde_json::json!({ "id": i.to_string(), "name": name, "comment": comment, "amount": amount }));
    }
    (csv, expected)
}

#[tokio::test]
async fn csv_to_jsonl_100k_rows() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    app.install("csv-to-jsonl", "1.0.0").await;
    let (csv, expected) = csv_rows(100_000);
    let id = app.submit_ok("csv-to-jsonl", "version=1.0.0", csv).await;
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["stats"]["rows"], "100000");
    let (ct, out) = app.result(&id).await;
    assert_eq!(ct, "application/x-ndjson");
    let lines: Vec<&[u8]> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 100_000);
    for (i, (line, want)) in lines.iter().zip(&expected).enumerate() {
        let got: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(&got, want, "row {i}");
    }
    app.stop().await;
}

#[tokio::test]
async fn multipart_params_failures_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    app.install("csv-to-jsonl", "1.0.0").await;

    // multipart/form-data with a `file` part; a param in the query.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"a;b\n1;2\n".to_vec()).file_name("in.csv"),
    );
    let r = app
        .http
        .post(format!(
            "{}/v1/processors/csv-to-jsonl/jobs?param.delimiter=%3B",
            app.url
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["params"]["delimiter"], ";");
    assert_eq!(job["input_bytes"], 8);
    assert_eq!(app.result(&id).await.1, b"{\"a\":\"1\",\"b\":\"2\"}\n");

    // The processor refuses bad input: the job fails with its code, no result.
    let bad = app
        .submit_ok("csv-to-jsonl", "", &b"a,b\n1,2,3\n"[..])
        .await;
    let job = app.wait(&bad).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "invalid_input");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("3 fields"),
        "{job}"
    );
    let r = app.get(&format!("/v1/jobs/{bad}/result")).await;
    assert_error(r, StatusCode::CONFLICT, "job_failed").await;
    assert!(app.logs(&bad).await.contains("invalid_input"));
    assert!(
        !agensium_tests::has_output(&bad, &app.objects()),
        "no partial output"
    );

    // Unknown params reach the processor's log; the same worker goes on.
    let ok = app
        .submit_ok("csv-to-jsonl", "param.colour=red", &b"x\n1\n"[..])
        .await;
    assert_eq!(app.wait(&ok).await["status"], "succeeded");
    assert!(app.logs(&ok).await.contains("unknown param \"colour\""));

    let (s, page) = app.get_json("/v1/jobs?status=failed").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(page["jobs"][0]["id"], bad.as_str());
    app.stop().await;
}

#[tokio::test]
async fn limits_fail_the_job_not_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 1;
        c.limits.memory_bytes = 512 << 10; // below the plugin's initial memory
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let id = app.submit_ok("wordcount", "", &b"hello"[..]).await;
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "memory_limit", "{job}");
    app.stop().await;

    let app = TestApp::start(dir.path(), |c| {
        c.slots = 1;
        c.limits.wall_time = std::time::Duration::from_millis(1);
    })
    .await;
    let big = app.submit_ok("wordcount", "", vec![b'x'; 64 << 20]).await;
    let job = app.wait(&big).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "timeout", "{job}");
    app.stop().await;

    // Same data dir, normal limits: the worker runs the next job fine.
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let id = app.submit_ok("wordcount", "", &b"a b c\n"[..]).await;
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    app.stop().await;
}

#[tokio::test]
async fn bad_submissions_get_json_errors_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.max_upload_bytes = 1 << 20;
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let before = app.objects();

    let r = app.submit("nope", "", "x").await;
    assert_error(r, StatusCode::NOT_FOUND, "processor_not_found").await;
    let r = app.submit("wordcount", "version=9.9.9", "x").await;
    assert_error(r, StatusCode::NOT_FOUND, "version_not_found").await;
    let r = app.submit("Bad_Name", "", "x").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_name").await;
    let r = app.submit("wordcount", "colour=red", "x").await;
    assert_error(r, StatusCode::BAD_REQUEST, "unknown_query_parameter").await;
    let r = app.submit("wordcount", "", vec![b'x'; 3 << 20]).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let (s, page) = app.get_json("/v1/jobs").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        page["jobs"],
        serde_json::json!([]),
        "no job rows left behind"
    );
    assert_eq!(app.objects(), before, "no objects left behind");

    // Result and unknown jobs.
    let id = app.submit_ok("wordcount", "", "queued forever").await;
    let r = app.get(&format!("/v1/jobs/{id}/result")).await;
    assert_error(r, StatusCode::CONFLICT, "job_not_finished").await;
    let (s, job) = app.get_json(&format!("/v1/jobs/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(job["status"], "queued");
    assert_eq!(job["error"], Value::Null);
    let r = app
        .get("/v1/jobs/0190f5c2-0000-7000-8000-000000000000")
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "job_not_found").await;
    let r = app.get("/v1/jobs/not-an-id/result").await;
    assert_error(r, StatusCode::NOT_FOUND, "job_not_found").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_load_the_artifact_precompiled_at_upload() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    app.install("wordcount", "1.0.0").await;
    assert!(
        app.objects().iter().any(|o| o.starts_with("artifacts/")),
        "upload stores a precompiled artifact: {:?}",
        app.objects()
    );
    let log = |id: String| {
        let app = &app;
        async move {
            assert_eq!(app.wait(&id).await["status"], "succeeded");
            app.logs(&id).await
        }
    };
    let first = log(app.submit_ok("wordcount", "", "a b").await).await;
    assert!(
        first.contains("processor loaded from StoredArtifact"),
        "never compiles on the job path: {first}"
    );
    let second = log(app.submit_ok("wordcount", "", "a b").await).await;
    assert!(second.contains("processor loaded from Memory"), "{second}");
    app.stop().await;

    // A restarted worker finds the artifact in its machine-local cache.
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let id = app.submit_ok("wordcount", "", "a b").await;
    assert_eq!(app.wait(&id).await["status"], "succeeded");
    let text = app.logs(&id).await;
    assert!(
        text.contains("processor loaded from LocalArtifact"),
        "{text}"
    );
    app.stop().await;
}

/// Bodies up to the inline limit stay in the job row: a small job leaves
/// no object at all, yet its result and log read the same. Bodies above
/// it stream through the object store: a large input and output are
/// objects. The same rows go through both paths and give the same JSON.
#[tokio::test]
async fn small_bodies_skip_the_object_store_large_ones_stream() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |s| {
        s.inline = agensium_domain::InlineLimit::new(16 << 10).unwrap();
    })
    .await;
    app.install("csv-to-jsonl", "1.0.0").await;
    let objects_of = |id: &str| -> Vec<String> {
        app.objects()
            .into_iter()
            .filter(|k| k.starts_with(&format!("jobs/{id}/")))
            .collect()
    };
    let (small_csv, small_rows) = csv_rows(20);
    assert!(small_csv.len() < 16 << 10);
    let small = app.submit_ok("csv-to-jsonl", "", small_csv).await;
    let (large_csv, large_rows) = csv_rows(2_000);
    assert!(large_csv.len() > 16 << 10);
    let large = app.submit_ok("csv-to-jsonl", "", large_csv).await;
    for (id, rows) in [(&small, &small_rows), (&large, &large_rows)] {
        let job = app.wait(id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let (_, out) = app.result(id).await;
        assert_eq!(job["output_bytes"], out.len() as u64);
        let got: Vec<Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(&got, rows);
        assert!(app.logs(id).await.contains("processor loaded"), "{id}");
    }
    assert_eq!(objects_of(&small), Vec::<String>::new(), "nothing stored");
    let stored = objects_of(&large);
    assert!(
        stored.contains(&format!("jobs/{large}/in/000000"))
            && agensium_tests::output_attempts(&large, &stored) == ["1".to_owned()].into(),
        "{stored:?}"
    );
    app.stop().await;
}
