//! One job followed across processes (issue: operators cannot follow a job
//! from the api to the worker that ran it): an api and a worker, separate
//! processes on MySQL, Redis and S3, export their spans over OTLP/HTTP
//! (JSON) to a receiver in this test. The request that submits the job
//! (continuing the caller's `traceparent`), the enqueue, and the worker's
//! process span with its read, run, write and finish spans are one trace;
//! a retried job's second attempt is one more process span in the same
//! trace. The worker's JSON log lines for the job carry its id and trace id.

use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{Client, fixture};
use axum::extract::State;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Spans received, flattened: service, traceId, spanId, parentSpanId, name.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Value>>>);

impl Received {
    /// The spans of trace `trace` so far.
    fn of(&self, trace: &str) -> Vec<Value> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|s| s["traceId"] == trace)
            .cloned()
            .collect()
    }

    /// Waits until trace `trace` has spans named all of `names`.
    async fn wait_for(&self, trace: &str, names: &[&str]) -> Vec<Value> {
        let since = Instant::now();
        loop {
            let spans = self.of(trace);
            if names.iter().all(|n| spans.iter().any(|s| s["name"] == *n)) {
                return spans;
            }
            let got: Vec<&Value> = spans.iter().map(|s| &s["name"]).collect();
            assert!(
                since.elapsed() < Duration::from_secs(30),
                "trace {trace}: only {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An OTLP/HTTP JSON receiver on a free port: its base URL.
async fn receiver(received: Received) -> String {
    async fn traces(State(r): State<Received>, body: axum::body::Bytes) -> StatusCode {
        let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        let mut spans = r.0.lock().unwrap();
        for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
            let service = attribute(&rs["resource"], "service.name");
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    let mut s = s.clone();
                    s["service"] = service.clone();
                    spans.push(s);
                }
            }
        }
        StatusCode::OK
    }
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .with_state(received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The string value of attribute `key` of an OTLP resource or span.
fn attribute(of: &Value, key: &str) -> Value {
    of["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["key"] == key)
        .map_or(Value::Null, |a| a["value"]["stringValue"].clone())
}

/// The one span of `spans` named `name`.
fn named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = spans.iter().filter(|s| s["name"] == name).collect();
    assert_eq!(found.len(), 1, "one {name} span: {spans:#?}");
    found[0]
}

/// Submits a hostile job in `mode` continuing the caller's trace `trace`.
async fn submit_traced(api: &Client, mode: &str, trace: &str) -> String {
    let r = api
        .http
        .post(format!(
            "{}/v1/processors/hostile/jobs?param.mode={mode}",
            api.url
        ))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .body("traced input")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_jobs_spans_form_one_trace_across_the_api_and_the_worker() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let received = Received::default();
    let otlp = receiver(received.clone()).await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("AGENSIUM_LOG_FORMAT", "json"),
    ];
    let listen = format!("127.0.0.1:{}", free_port());
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &otel);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("worker.log");
    let worker_args = ["worker", "--slots", "1"];
    let _worker = Proc::spawn_logged("worker", &worker_args, &be.env, &otel, &log);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let api = be.client(&url);
    let r = api.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let id = submit_traced(&api, "echo", trace).await;
    assert_eq!(api.wait(&id).await["status"], "succeeded");
    let chain = [
        "POST",
        "send rail",
        "process rail",
        "read input",
        "run processor",
        "write output",
        "finish",
    ];
    let spans = received.wait_for(trace, &chain).await;
    let (request, send, process) = (
        named(&spans, "POST"),
        named(&spans, "send rail"),
        named(&spans, "process rail"),
    );
    assert_eq!(
        request["parentSpanId"], "00f067aa0ba902b7",
        "the caller's span is the parent"
    );
    assert_eq!(send["parentSpanId"], request["spanId"]);
    assert_eq!(
        process["parentSpanId"], send["spanId"],
        "the worker continues the enqueue"
    );
    for step in ["read input", "run processor", "write output", "finish"] {
        assert_eq!(
            named(&spans, step)["parentSpanId"],
            process["spanId"],
            "{step}"
        );
    }
    assert_eq!(
        (request["service"].as_str(), process["service"].as_str()),
        (Some("agensium-api"), Some("agensium-worker"))
    );
    assert_eq!(attribute(process, "messaging.operation.type"), "process");
    assert_eq!(attribute(process, "job"), id.as_str());
    let names: Vec<&Value> = spans.iter().map(|s| &s["name"]).collect();
    eprintln!("trace {trace}: {} spans {names:?}", spans.len());

    // A failed job, retried: its second attempt is a second process span
    // of the same trace, under the same enqueue.
    let failing = "0af7651916cd43dd8448eb211c80319c";
    let id2 = submit_traced(&api, "panic", failing).await;
    assert_eq!(api.wait(&id2).await["status"], "failed");
    let r = api
        .http
        .post(format!("{url}/v1/jobs/{id2}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    api.wait_for(&id2, "the retry's end", Duration::from_secs(60), |j| {
        j["status"] == "failed" && j["attempts"] == 2
    })
    .await;
    let since = Instant::now();
    let processes = loop {
        let spans = received.of(failing);
        let processes: Vec<Value> = spans
            .into_iter()
            .filter(|s| s["name"] == "process rail")
            .collect();
        if processes.len() == 2 || since.elapsed() > Duration::from_secs(30) {
            break processes;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        processes.len(),
        2,
        "one process span per attempt: {processes:#?}"
    );
    assert_eq!(processes[0]["parentSpanId"], processes[1]["parentSpanId"]);
    assert_ne!(processes[0]["spanId"], processes[1]["spanId"]);

    job_lines_carry_the_trace(&log, &id, trace);
}

/// The worker's log is JSON lines; those of job `id` name it and its trace.
fn job_lines_carry_the_trace(log: &std::path::Path, id: &str, trace: &str) {
    let text = std::fs::read_to_string(log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_job: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["job"] == id))
        })
        .collect();
    assert!(!of_job.is_empty(), "no line of job {id} in {text}");
    for line in of_job {
        let process = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["job"] == id)
            .unwrap();
        assert_eq!(process["trace_id"], trace, "{line}");
        for key in ["timestamp", "level", "target"] {
            assert!(line.get(key).is_some(), "{key} in {line}");
        }
        assert_eq!(process["processor"], "hostile");
    }
}
