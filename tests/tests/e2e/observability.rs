//! `deploy/observability/`: the Grafana dashboard and the Prometheus alert
//! rules name only metrics the processes export (a running app is scraped
//! after a job, an upload and a webhook delivery), and the rules file has
//! the shape Prometheus loads (groups of rules, each with an alert name,
//! an expression, a severity and a summary).

use agensium_tests::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

fn file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/observability")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `agensium_…` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("agensium_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The dashboard's queries.
fn dashboard_exprs() -> Vec<String> {
    let doc: Value = serde_json::from_str(&file("grafana-dashboard.json")).unwrap();
    let panels = doc["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| {
            t["expr"]
                .as_str()
                .expect("every target has an expr")
                .to_owned()
        })
        .collect();
    assert!(exprs.len() >= panels.len(), "a query per panel at least");
    exprs
}

/// The rules' expressions, once their shape is checked.
fn rule_exprs() -> Vec<String> {
    let doc: Value = serde_norway::from_str(&file("prometheus-rules.yaml")).unwrap();
    let groups = doc["groups"].as_array().expect("groups");
    let mut exprs = Vec::new();
    for g in groups {
        assert!(g["name"].is_string(), "a group has a name: {g}");
        for r in g["rules"].as_array().expect("rules") {
            let alert = r["alert"].as_str().expect("an alert name");
            assert!(alert.starts_with("Agensium"), "{alert}");
            let severity = r["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("warning" | "critical")),
                "{alert}: {severity:?}"
            );
            assert!(
                r["annotations"]["summary"].is_string(),
                "{alert}: a summary"
            );
            if let Some(d) = r.get("for") {
                let d = d.as_str().unwrap();
                assert!(
                    d.ends_with('m') || d.ends_with('s') || d.ends_with('h'),
                    "{alert}: for {d}"
                );
            }
            let expr = r["expr"].as_str().expect("an expr");
            assert_eq!(
                expr.matches('(').count(),
                expr.matches(')').count(),
                "{alert}: {expr}"
            );
            exprs.push(expr.to_owned());
        }
    }
    assert!(
        exprs.len() >= 5,
        "backlog, failures, dead letter, saturation, no worker"
    );
    exprs
}

/// A metric name as scraped may carry a summary's or counter's suffix.
fn exported(name: &str, scraped: &BTreeSet<String>) -> bool {
    scraped.contains(name)
        || ["_sum", "_count"]
            .iter()
            .any(|s| scraped.contains(&format!("{name}{s}")))
}

#[tokio::test]
async fn the_dashboard_and_the_alerts_use_only_exported_metrics() {
    let mut wanted = BTreeSet::new();
    for e in dashboard_exprs().iter().chain(rule_exprs().iter()) {
        wanted.extend(metric_names(e));
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |s| s.webhooks.allow_private = true).await;
    app.install("wordcount", "1.0.0").await;
    let (port, done) = hook().await;
    let query = format!("callback_url=http%3A%2F%2F127.0.0.1%3A{port}%2Fhook");
    let id = app.submit_ok("wordcount", &query, "one two\n").await;
    app.wait_for(&id, "delivered", Duration::from_secs(30), |j| {
        j["callback"]["state"] == "delivered"
    })
    .await;
    assert!(*done.lock().unwrap() >= 1);
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    let scraped: BTreeSet<String> = r
        .text()
        .await
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = wanted.iter().filter(|n| !exported(n, &scraped)).collect();
    assert!(
        missing.is_empty(),
        "used by deploy/observability but not exported: {missing:?}\nexported: {scraped:?}"
    );
}

/// A webhook receiver answering 204: its port and how many it got.
async fn hook() -> (u16, std::sync::Arc<std::sync::Mutex<usize>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(0));
    let counter = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                *counter.lock().unwrap() += 1;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, got)
}

#[test]
fn metric_names_are_read_out_of_expressions() {
    let names =
        metric_names(r#"sum(rate(agensium_jobs_total{code="x"}[5m])) / agensium_worker_slots"#);
    let want: BTreeSet<String> = ["agensium_jobs_total", "agensium_worker_slots"]
        .map(String::from)
        .into();
    assert_eq!(names, want);
}
