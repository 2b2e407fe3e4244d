//! The security review's findings (issue 25), each tried as the attacker
//! did: a key above one's own role, work before authorization, one caller
//! holding every connection, streams of a revoked key, a team's many keys,
//! a disabled team's queued jobs, the docs page's policy.

use agensium_tests::procs::{Proc, free_port, wait_healthy};
use agensium_tests::{Client, TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn revoke(by: &Client, team: &str, id: &str) -> reqwest::Response {
    by.http
        .delete(format!("{}/v1/teams/{team}/keys/{id}", by.url))
        .send()
        .await
        .unwrap()
}

/// Finding 1: an admin revoked (and so locked out) an operator's key of
/// its own team. No key acts on a key above its own role.
#[tokio::test]
async fn no_key_revokes_or_mints_a_key_above_its_own_role() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let (_, me) = app.get_json("/v1/whoami").await;
    let operator_id = me["key_id"].as_str().unwrap();
    let admin = Client::with_key(&app.url, &app.create_key("default", "admin").await.1);
    let r = revoke(&admin, "default", operator_id).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        app.get("/v1/whoami").await.status(),
        StatusCode::OK,
        "the operator is still in"
    );
    let (other_admin, _) = app.create_key("default", "admin").await;
    let (reader, _) = app.create_key("default", "reader").await;
    assert_eq!(
        revoke(&admin, "default", &reader).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        revoke(&admin, "default", &other_admin).await.status(),
        StatusCode::NO_CONTENT,
        "an equal role may"
    );
    let r = admin
        .http
        .post(format!("{}/v1/teams/default/keys", app.url))
        .json(&json!({ "role": "operator" }))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    app.stop().await;
}

/// The resident set of process `pid` and its peak, in bytes.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts `agensium serve` (no job slots) with `extra` settings; answers
/// the process and an operator client.
async fn serve(extra: &[(&str, &str)]) -> (Proc, Client) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut env: Vec<(&str, &str)> = vec![("AGENSIUM_SLOTS", "0")];
    env.extend_from_slice(extra);
    let proc = Proc::spawn("serve", &["serve", "--listen", &listen], &[], &env);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let key = std::fs::read_to_string(proc.data_dir().join("admin.key")).unwrap();
    let key = key.trim();
    (proc, Client::with_key(&url, key))
}

/// Finding 2: a reader's processor uploads were buffered whole (64 MiB
/// each) before the role check. Now refused from the headers, their bodies
/// discarded as they come: 16 at once leave the API's memory flat.
#[tokio::test]
async fn refused_uploads_are_not_buffered() {
    let (api, op) = serve(&[]).await;
    let reader = Client::with_key(&op.url, &op.create_key("default", "reader").await.1);
    let (before, _) = rss(api.pid());
    let body = bytes::Bytes::from(vec![0u8; 64 << 20]);
    let uploads = (0..16).map(|i| {
        let (reader, body) = (reader.clone(), body.clone());
        async move {
            let r = reader
                .http
                .put(format!(
                    "{}/v1/processors/big{i}/versions/1.0.0",
                    reader.url
                ))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
    });
    futures::future::join_all(uploads).await;
    let (_, peak) = rss(api.pid());
    let grew = peak.saturating_sub(before);
    println!(
        "API RSS {} MiB before 16 parallel 64 MiB uploads from a reader, peak {} MiB (+{} MiB)",
        before >> 20,
        peak >> 20,
        grew >> 20
    );
    assert!(grew < 80 << 20, "the API grew by {} MiB", grew >> 20);
}

/// Finding 3: with slow bodies one key held every connection and
/// `/healthz` stopped answering. A key has a share of the requests in
/// flight, and connections past the cap are kept for probes and operators.
#[tokio::test]
async fn one_key_with_slow_bodies_cannot_hold_every_connection() {
    let (_api, op) = serve(&[
        ("AGENSIUM_MAX_CONNECTIONS", "16"),
        ("AGENSIUM_RESERVED_CONNECTIONS", "4"),
        ("AGENSIUM_IN_FLIGHT_PER_KEY", "4"),
        ("AGENSIUM_IN_FLIGHT_PER_TEAM", "8"),
    ])
    .await;
    op.install("wordcount", "1.0.0").await;
    let (_, key) = op.create_key("default", "submitter").await;
    let addr = op.url.trim_start_matches("http://").to_owned();
    // 24 connections, each starting an upload it never finishes.
    let mut slow = Vec::new();
    for _ in 0..24 {
        let Ok(Ok(mut s)) = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(&addr),
        )
        .await
        else {
            continue;
        };
        let head = format!(
            "POST /v1/processors/wordcount/jobs HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {key}\r\nContent-Length: 1000000\r\n\r\nsome"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = 0;
    for s in &mut slow {
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await
            && String::from_utf8_lossy(&buf[..n]).contains(" 429 ")
        {
            refused += 1;
        }
    }
    assert!(refused > 0, "requests past the key's share were refused");
    let probe = reqwest::Client::new();
    let mut took = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            probe.get(format!("{}/healthz", op.url)).send(),
        )
        .await
        .expect("/healthz answers while one key holds its share")
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        took.push(start.elapsed());
    }
    took.sort();
    println!(
        "/healthz while one key holds its share of slow uploads: p50 {:?}, p99 {:?} ({refused} of {} slow requests refused 429)",
        took[took.len() / 2],
        took[took.len() * 99 / 100],
        slow.len()
    );
    assert_eq!(
        op.get("/v1/whoami").await.status(),
        StatusCode::OK,
        "the operator is served"
    );
}

/// Finding 5: a revoked key's open answers (events, `?wait=`, a waiting
/// result) went on. They end within the auth cache's life.
#[tokio::test]
async fn a_revoked_keys_open_answers_end() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    app.install("wordcount", "1.0.0").await;
    let (id, k) = app.create_key("default", "submitter").await;
    let user = Client::with_key(&app.url, &k);
    let job = user.submit_ok("wordcount", "", "a b c").await;
    let events = user.get(&format!("/v1/jobs/{job}/events")).await;
    assert_eq!(events.status(), StatusCode::OK);
    let (u1, u2, j1, j2) = (user.clone(), user.clone(), job.clone(), job.clone());
    let waiting = tokio::spawn(async move { u1.get(&format!("/v1/jobs/{j1}?wait=60")).await });
    let result =
        tokio::spawn(async move { u2.get(&format!("/v1/jobs/{j2}/result?wait=60")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        revoke(&app, "default", &id).await.status(),
        StatusCode::NO_CONTENT
    );
    let revoked = Instant::now();
    let within = Duration::from_secs(5);
    let r = tokio::time::timeout(within, waiting)
        .await
        .expect("?wait= ends")
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = tokio::time::timeout(within, result)
        .await
        .expect("the waiting result ends")
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    tokio::time::timeout(within, events.text())
        .await
        .expect("the event stream ends")
        .ok();
    println!(
        "a revoked key's held answers ended {:?} after the revocation",
        revoked.elapsed()
    );
    app.stop().await;
}

/// Finding 10: rate limits were per key, so a team with many keys was
/// unlimited. The team's keys together share its rate.
#[tokio::test]
async fn a_teams_keys_share_its_rate() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.submit_rate = 100;
        c.team_submit_rate = 3;
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let keys: Vec<Client> =
        futures::future::join_all((0..4).map(|_| app.create_key("default", "submitter")))
            .await
            .into_iter()
            .map(|(_, k)| Client::with_key(&app.url, &k))
            .collect();
    for k in &keys[..3] {
        k.submit_ok("wordcount", "", "a").await;
    }
    let r = keys[3].submit("wordcount", "", "a").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    app.stop().await;
}

/// Finding 10: disabling a team left its queued jobs to run. They are
/// cancelled (so are running ones: a disabled team runs nothing).
#[tokio::test]
async fn disabling_a_team_cancels_its_unfinished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    app.install("wordcount", "1.0.0").await;
    let r = app
        .http
        .patch(format!("{}/v1/processors/wordcount", app.url))
        .json(&json!({ "visibility": "public" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let acme = app.create_team("acme", json!({}), "submitter").await;
    let jobs = [
        acme.submit_ok("wordcount", "", "a").await,
        acme.submit_ok("wordcount", "", "b").await,
    ];
    let r = app
        .http
        .patch(format!("{}/v1/teams/acme", app.url))
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for id in &jobs {
        let (_, job) = app.get_json(&format!("/v1/jobs/{id}")).await;
        assert_eq!(job["status"], "cancelled", "{job}");
    }
    app.stop().await;
}

/// Finding 10: `/docs` was served without a Content-Security-Policy.
#[tokio::test]
async fn the_docs_page_has_a_content_security_policy() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    for path in ["/docs/", "/docs/swagger-initializer.js"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    }
    app.stop().await;
}

/// Finding 10: `max_queued` was counted before the insert, so concurrent
/// submissions at the limit all passed. 64 at once against a quota of 10,
/// on `agensium api` over MySQL: exactly 10 are accepted.
#[tokio::test]
async fn the_queued_quota_holds_under_64_parallel_submits() {
    let Some(be) = agensium_tests::procs::SharedBackends::fresh().await else {
        return;
    };
    let listen = format!("127.0.0.1:{}", free_port());
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let op = be.client(&url);
    op.install("wordcount", "1.0.0").await;
    let r = op
        .http
        .put(format!("{url}/v1/teams/ops/quota"))
        .json(&json!({ "max_queued": 10 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let submits = (0..64).map(|_| op.submit("wordcount", "", "a b c"));
    let answers = futures::future::join_all(submits).await;
    let accepted = answers
        .iter()
        .filter(|r| r.status() == StatusCode::ACCEPTED)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (accepted, refused),
        (10, 54),
        "64 parallel submits at a quota of 10"
    );
    let (_, page) = op.get_json("/v1/jobs?status=queued&team=ops").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 10);
}

/// Finding 8: workers used the API's MySQL account with every right. A
/// worker runs on an account with only `agensium admin worker-grants`,
/// which can neither read keys nor delete jobs.
#[tokio::test]
async fn a_worker_runs_with_only_the_worker_grants() {
    use mysql_async::prelude::Queryable;
    let Some(mut be) = agensium_tests::procs::SharedBackends::fresh().await else {
        return;
    };
    let url = be.var("AGENSIUM_DATABASE_URL").to_owned();
    let (server, db) = url.rsplit_once('/').unwrap();
    let user = format!("wk{}", &agensium_testkit::testenv::unique()[..12]);
    let mut root = mysql_async::Conn::from_url(&url).await.unwrap();
    root.query_drop(format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw-{user}'"
    ))
    .await
    .unwrap();
    let grants = agensium_tests::procs::admin(
        &be.env,
        &[
            "worker-grants",
            "--database",
            db,
            "--user",
            &user,
            "--host",
            "127.0.0.1",
        ],
    );
    for grant in grants.lines() {
        root.query_drop(grant).await.unwrap();
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let api_url = format!("http://{listen}");
    wait_healthy(&api_url).await;
    let op = be.client(&api_url);
    op.install("wordcount", "1.0.0").await;
    let host = server.rsplit_once('@').map_or(server, |(_, h)| h);
    let worker_url = format!("mysql://{user}:pw-{user}@{host}/{db}");
    be.set("AGENSIUM_DATABASE_URL", &worker_url);
    let _worker = Proc::spawn("worker", &["worker", "--slots", "2"], &be.env, &[]);
    let id = op.submit_ok("wordcount", "", "a b c").await;
    let job = op.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let mut worker = mysql_async::Conn::from_url(&worker_url).await.unwrap();
    assert!(
        worker.query_drop("SELECT * FROM api_keys").await.is_err(),
        "keys are not the worker's"
    );
    assert!(
        worker.query_drop("DELETE FROM jobs").await.is_err(),
        "nor is deleting jobs"
    );
    assert!(worker.query_drop("CREATE TABLE x (a INT)").await.is_err());
    drop(worker);
    root.query_drop(format!("DROP USER '{user}'@'127.0.0.1'"))
        .await
        .unwrap();
}

/// Finding 4: two admissions of one team held both compile slots and the
/// other teams' uploads waited (or answered 503). A team holds half of
/// them: an operator's upload goes through while team A compiles two
/// bombs (90,000 functions: seconds each, stopped at the 4 s limit).
#[tokio::test]
async fn an_upload_is_not_held_behind_another_teams_compiles() {
    let (_api, op) = serve(&[
        ("AGENSIUM_COMPILE_TIMEOUT_SECS", "4"),
        ("AGENSIUM_COMPILE_CONCURRENCY", "2"),
    ])
    .await;
    let a = op.create_team("bombers", json!({}), "publisher").await;
    let bombs: Vec<_> = (0..2)
        .map(|i| {
            let a = a.clone();
            let bomb = agensium_tests::bombs::compile_heavy(90_000, 1, 0);
            tokio::spawn(async move { a.register(&format!("bomb{i}"), "1.0.0", bomb).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let r = op
        .register("wordcount", "1.0.0", agensium_tests::plugin("wordcount"))
        .await;
    let took = started.elapsed();
    assert_eq!(r.status(), StatusCode::CREATED);
    println!("an operator's upload while another team filled the compile slots: {took:?}");
    assert!(
        took < Duration::from_secs(4),
        "it waited for a bomb's compile: {took:?}"
    );
    for b in bombs {
        let status = b.await.unwrap().status();
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{status}"
        );
    }
}
