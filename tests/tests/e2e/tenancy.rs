//! Teams, keys and roles: the authorization matrix (every route × every kind
//! of caller → the status it must get) on the embedded stack and on real
//! `agensium api` processes on MySQL, Redis and S3; quotas, rate limits,
//! revocation across processes, result headers, usage, zero setup.

use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{Client, TestApp, assert_error, fixture, plugin};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const A: &str = "team-a";
const B: &str = "team-b";
/// A's private processor, and A's public one.
const PRIV: &str = "a-private";
const PUBLIC: &str = "a-public";

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    NoKey,
    Malformed,
    Revoked,
    Expired,
    /// A key of team A (the owner of everything under test).
    A(&'static str),
    /// A key of team B.
    B(&'static str),
    Operator,
}

const ROLES: [&str; 4] = ["reader", "submitter", "publisher", "admin"];

fn everyone() -> Vec<Who> {
    let mut all = vec![Who::NoKey, Who::Malformed, Who::Revoked, Who::Expired];
    all.extend(ROLES.map(Who::A));
    all.extend(ROLES.map(Who::B));
    all.push(Who::Operator);
    all
}

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).expect("a team role")
}

/// The routes, each with the status every caller must get.
#[derive(Debug, Clone, Copy)]
enum Route {
    Healthz,
    Metrics,
    Whoami,
    ListProcessors,
    GetPrivate,
    GetPublic,
    PutVersion,
    ListVersions,
    YankVersion,
    PatchPrivate,
    PatchPublic,
    SubmitPrivate,
    SubmitPublic,
    ListJobs,
    GetJob,
    JobResult,
    JobLogs,
    CancelJob,
    RetryJob,
    CreateTeam,
    ListTeams,
    GetTeam,
    PatchTeam,
    PutQuota,
    Usage,
    CreateKey,
    ListKeys,
    RevokeKey,
    GetWebhookSecret,
    RotateWebhookSecret,
}

const ROUTES: [Route; 30] = [
    Route::Healthz,
    Route::Metrics,
    Route::Whoami,
    Route::ListProcessors,
    Route::GetPrivate,
    Route::GetPublic,
    Route::PutVersion,
    Route::ListVersions,
    Route::YankVersion,
    Route::PatchPrivate,
    Route::PatchPublic,
    Route::SubmitPrivate,
    Route::SubmitPublic,
    Route::ListJobs,
    Route::GetJob,
    Route::JobResult,
    Route::JobLogs,
    Route::CancelJob,
    Route::RetryJob,
    Route::CreateTeam,
    Route::ListTeams,
    Route::GetTeam,
    Route::PatchTeam,
    Route::PutQuota,
    Route::Usage,
    Route::CreateKey,
    Route::ListKeys,
    Route::RevokeKey,
    Route::GetWebhookSecret,
    Route::RotateWebhookSecret,
];

impl Route {
    /// The status `who` must get. Team A owns every resource under test;
    /// what B may not see answers 404 like something that does not exist.
    fn expect(self, who: Who) -> u16 {
        use Route::*;
        if matches!(self, Healthz) {
            return 200;
        }
        // Owner team's role needed (`None`: operators only), what a member
        // of A with enough of a role gets, and what B gets.
        let (needed, ok, b): (Option<&str>, u16, fn(&str) -> u16) = match self {
            Healthz => unreachable!(),
            Metrics => (None, 200, |_| 403),
            Whoami | ListProcessors | ListJobs => (Some("reader"), 200, |_| 200),
            GetPrivate | ListVersions | GetJob | JobLogs | GetTeam => {
                (Some("reader"), 200, |_| 404)
            }
            YankVersion => (Some("publisher"), 200, |_| 404),
            JobResult => (Some("reader"), 409, |_| 404),
            GetPublic => (Some("reader"), 200, |_| 200),
            PutVersion => (Some("publisher"), 201, |r| {
                if rank(r) >= rank("publisher") {
                    409
                } else {
                    403
                }
            }),
            PatchPrivate => (Some("publisher"), 200, |_| 404),
            PatchPublic => (Some("publisher"), 200, |_| 403),
            SubmitPrivate => (Some("submitter"), 202, |r| {
                if r == "reader" { 403 } else { 404 }
            }),
            SubmitPublic => (Some("submitter"), 202, |r| {
                if r == "reader" { 403 } else { 202 }
            }),
            CancelJob => (Some("submitter"), 200, |_| 404),
            RetryJob => (Some("submitter"), 202, |_| 404),
            CreateTeam => (None, 201, |_| 403),
            ListTeams => (None, 200, |_| 403),
            PatchTeam | PutQuota => (None, 200, |_| 404),
            Usage | ListKeys | GetWebhookSecret | RotateWebhookSecret => {
                (Some("admin"), 200, |_| 404)
            }
            CreateKey => (Some("admin"), 201, |_| 404),
            RevokeKey => (Some("admin"), 204, |_| 404),
        };
        match who {
            Who::NoKey | Who::Malformed | Who::Revoked | Who::Expired => 401,
            Who::Operator => ok,
            Who::A(r) => match needed {
                Some(n) if rank(r) >= rank(n) => ok,
                // A team member who may see it but not do it.
                _ => 403,
            },
            Who::B(r) => match self {
                // Team-scoped operator routes: B does not see team A.
                PatchTeam | PutQuota => 404,
                _ => b(r),
            },
        }
    }

    /// The request, with fresh resources where the route changes them.
    async fn request(self, ctx: &Ctx) -> (Method, String, Option<Body>) {
        use Route::*;
        let json_body = |v: Value| Some(Body::Json(v));
        match self {
            Healthz => (Method::GET, "/healthz".into(), None),
            Metrics => (Method::GET, "/metrics".into(), None),
            Whoami => (Method::GET, "/v1/whoami".into(), None),
            ListProcessors => (Method::GET, "/v1/processors".into(), None),
            GetPrivate => (Method::GET, format!("/v1/processors/{PRIV}"), None),
            GetPublic => (Method::GET, format!("/v1/processors/{PUBLIC}"), None),
            PutVersion => {
                let v = ctx.fresh_version();
                let path = format!("/v1/processors/{PRIV}/versions/{v}");
                (Method::PUT, path, Some(Body::Bytes(plugin("wordcount"))))
            }
            ListVersions => (Method::GET, format!("/v1/processors/{PRIV}/versions"), None),
            // A version below the one jobs use: yanking it (idempotent)
            // leaves `latest` alone.
            YankVersion => (
                Method::DELETE,
                format!("/v1/processors/{PRIV}/versions/0.0.1"),
                None,
            ),
            PatchPrivate => (
                Method::PATCH,
                format!("/v1/processors/{PRIV}"),
                json_body(json!({"visibility": "private"})),
            ),
            PatchPublic => (
                Method::PATCH,
                format!("/v1/processors/{PUBLIC}"),
                json_body(json!({"visibility": "public"})),
            ),
            SubmitPrivate => (
                Method::POST,
                format!("/v1/processors/{PRIV}/jobs"),
                Some(Body::Bytes(b"one two".to_vec())),
            ),
            SubmitPublic => (
                Method::POST,
                format!("/v1/processors/{PUBLIC}/jobs"),
                Some(Body::Bytes(b"one two".to_vec())),
            ),
            ListJobs => (Method::GET, "/v1/jobs".into(), None),
            GetJob => (Method::GET, format!("/v1/jobs/{}", ctx.job), None),
            JobResult => (Method::GET, format!("/v1/jobs/{}/result", ctx.job), None),
            JobLogs => (Method::GET, format!("/v1/jobs/{}/logs", ctx.job), None),
            CancelJob => {
                let id = ctx.queued_job().await;
                (Method::DELETE, format!("/v1/jobs/{id}"), None)
            }
            RetryJob => {
                let id = ctx.queued_job().await;
                let r = ctx.a_admin.cancel(&id).await;
                assert_eq!(r.status(), StatusCode::OK);
                (Method::POST, format!("/v1/jobs/{id}/retry"), None)
            }
            CreateTeam => (
                Method::POST,
                "/v1/teams".into(),
                json_body(json!({"name": format!("t{}", ctx.fresh_version().replace('.', "-"))})),
            ),
            ListTeams => (Method::GET, "/v1/teams".into(), None),
            GetTeam => (Method::GET, format!("/v1/teams/{A}"), None),
            PatchTeam => (
                Method::PATCH,
                format!("/v1/teams/{A}"),
                json_body(json!({"disabled": false})),
            ),
            PutQuota => (
                Method::PUT,
                format!("/v1/teams/{A}/quota"),
                json_body(json!({})),
            ),
            Usage => (Method::GET, format!("/v1/teams/{A}/usage"), None),
            CreateKey => (
                Method::POST,
                format!("/v1/teams/{A}/keys"),
                json_body(json!({"role": "reader", "name": "matrix"})),
            ),
            ListKeys => (Method::GET, format!("/v1/teams/{A}/keys"), None),
            GetWebhookSecret => (Method::GET, format!("/v1/teams/{A}/webhook-secret"), None),
            RotateWebhookSecret => (Method::POST, format!("/v1/teams/{A}/webhook-secret"), None),
            RevokeKey => {
                let (id, _) = ctx.new_key(&ctx.operator, A, "reader", None).await;
                (Method::DELETE, format!("/v1/teams/{A}/keys/{id}"), None)
            }
        }
    }
}

enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

/// The world the matrix runs in: teams A and B with a key per role, a
/// revoked and an expired key, A's processors and a job of A's.
struct Ctx {
    operator: Client,
    a_admin: Client,
    a_submitter: Client,
    url: String,
    keys: Vec<(Who, String)>,
    job: String,
    counter: std::sync::atomic::AtomicU32,
}

impl Ctx {
    async fn new(operator: Client) -> Self {
        let url = operator.url.clone();
        for t in [A, B] {
            let r = operator
                .http
                .post(format!("{url}/v1/teams"))
                .json(&json!({"name": t}))
                .send();
            assert_eq!(r.await.unwrap().status(), StatusCode::CREATED, "team {t}");
        }
        let mut ctx = Self {
            a_admin: operator.clone(),
            a_submitter: operator.clone(),
            operator,
            url,
            keys: Vec::new(),
            job: String::new(),
            counter: 0.into(),
        };
        for role in ROLES {
            for (team, who) in [(A, Who::A(role)), (B, Who::B(role))] {
                let (_, key) = ctx.new_key(&ctx.operator, team, role, None).await;
                ctx.keys.push((who, key));
            }
        }
        ctx.a_admin = ctx.client(Who::A("admin"));
        ctx.a_submitter = ctx.client(Who::A("submitter"));
        let (id, revoked) = ctx.new_key(&ctx.a_admin, A, "submitter", None).await;
        let r = ctx
            .a_admin
            .http
            .delete(format!("{}/v1/teams/{A}/keys/{id}", ctx.url));
        assert_eq!(r.send().await.unwrap().status(), StatusCode::NO_CONTENT);
        ctx.keys.push((Who::Revoked, revoked));
        let (_, expired) = ctx.new_key(&ctx.a_admin, A, "admin", Some(1)).await;
        ctx.keys.push((Who::Expired, expired));
        let publisher = ctx.client(Who::A("publisher"));
        for p in [PRIV, PUBLIC] {
            publisher.install_as(p, "wordcount", "1.0.0").await;
        }
        publisher.install_as(PRIV, "wordcount", "0.0.1").await;
        let r = publisher
            .http
            .patch(format!("{}/v1/processors/{PUBLIC}", ctx.url))
            .json(&json!({"visibility": "public"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        ctx.job = ctx.queued_job().await;
        // Let the expired key expire.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        ctx
    }

    /// `POST /v1/teams/{team}/keys` by `by`: the new key's id and secret.
    async fn new_key(
        &self,
        by: &Client,
        team: &str,
        role: &str,
        expires_in_secs: Option<u64>,
    ) -> (String, String) {
        let r = by
            .http
            .post(format!("{}/v1/teams/{team}/keys", self.url))
            .json(&json!({"role": role, "name": "m", "expires_in_secs": expires_in_secs}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "key {role} of {team}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["role"], role);
        (
            v["id"].as_str().unwrap().into(),
            v["key"].as_str().unwrap().into(),
        )
    }

    fn client(&self, who: Who) -> Client {
        match who {
            Who::NoKey => Client::new(&self.url),
            Who::Malformed => Client::with_key(&self.url, "agk_not-a-key"),
            Who::Operator => self.operator.clone(),
            _ => {
                let key = &self.keys.iter().find(|(w, _)| *w == who).expect("a key").1;
                Client::with_key(&self.url, key)
            }
        }
    }

    fn fresh_version(&self) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("2.0.{n}")
    }

    /// A new queued job of team A (nothing runs: no job slots).
    async fn queued_job(&self) -> String {
        self.a_submitter.submit_ok(PRIV, "", "a b c").await
    }
}

/// Runs the matrix against the API behind `operator`; returns the cells.
async fn matrix(operator: Client) -> usize {
    let ctx = Ctx::new(operator).await;
    let mut cells = 0;
    let mut wrong = Vec::new();
    for route in ROUTES {
        for who in everyone() {
            let (method, path, body) = route.request(&ctx).await;
            let client = ctx.client(who);
            let mut req = client
                .http
                .request(method.clone(), format!("{}{path}", ctx.url));
            req = match body {
                Some(Body::Json(v)) => req.json(&v),
                Some(Body::Bytes(b)) => req.body(b),
                None => req,
            };
            let r = req.send().await.unwrap();
            let got = r.status().as_u16();
            let want = route.expect(who);
            if got != want {
                let text = r.text().await.unwrap_or_default();
                wrong.push(format!(
                    "{route:?} {method} {path} as {who:?}: {got}, want {want}: {text}"
                ));
            } else if got == 401 {
                assert_eq!(r.headers()["www-authenticate"], "Bearer");
            }
            cells += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    cells
}

#[tokio::test]
async fn authorization_matrix_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let cells = matrix((*app).clone()).await;
    println!(
        "authorization matrix (embedded): {} routes x {} callers = {cells} cells",
        ROUTES.len(),
        everyone().len()
    );
    app.stop().await;
}

/// Starts an `agensium api` process on `be`; returns it and its URL.
async fn api_process(be: &SharedBackends) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    (api, url)
}

#[tokio::test]
async fn authorization_matrix_on_mysql_redis_s3() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let (_api, url) = api_process(&be).await;
    let cells = matrix(be.client(&url)).await;
    println!(
        "authorization matrix (MySQL/Redis/S3): {} routes x {} callers = {cells} cells",
        ROUTES.len(),
        everyone().len()
    );
}

#[tokio::test]
async fn a_key_revoked_on_one_api_process_is_refused_by_another() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let (_api1, url1) = api_process(&be).await;
    let (_api2, url2) = api_process(&be).await;
    let op1 = be.client(&url1);
    let r = op1
        .http
        .post(format!("{url1}/v1/teams/ops/keys"))
        .json(&json!({"role": "reader"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    let (id, key) = (v["id"].as_str().unwrap(), v["key"].as_str().unwrap());
    let on2 = Client::with_key(&url2, key);
    assert_eq!(on2.get("/v1/whoami").await.status(), StatusCode::OK);
    let r = op1
        .http
        .delete(format!("{url1}/v1/teams/ops/keys/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let revoked = std::time::Instant::now();
    loop {
        let status = on2.get("/v1/whoami").await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(3),
            "still {status} on process 2"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "revocation reached the other API process after {:?}",
        revoked.elapsed()
    );
}

/// The operator makes team `t` with `quota` and a publisher key for it.
async fn team_with_quota(op: &Client, t: &str, quota: Value) -> Client {
    op.create_team(t, quota, "publisher").await
}

#[tokio::test]
async fn queued_quota_and_input_quota_refuse_before_storing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let t = team_with_quota(
        &app,
        "small",
        json!({"max_queued": 2, "max_input_bytes": 100}),
    )
    .await;
    t.install("wordcount", "1.0.0").await;
    for _ in 0..2 {
        t.submit_ok("wordcount", "", "a b").await;
    }
    let before = app.objects();
    let r = t.submit("wordcount", "", "a b").await;
    assert_eq!(r.headers()["retry-after"], "5");
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert_eq!(app.objects(), before, "nothing stored for the refused job");
    let (_, jobs) = t.get_json("/v1/jobs").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2);
    // Room again after a cancel; an input over the team's cap is 413.
    let id = jobs["jobs"][0]["id"].as_str().unwrap();
    assert_eq!(t.cancel(id).await.status(), StatusCode::OK);
    let r = t.submit("wordcount", "", vec![b'x'; 101]).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    t.submit_ok("wordcount", "", vec![b'x'; 100]).await;
    // The operator raises the quota.
    let r = app
        .http
        .put(format!("{}/v1/teams/small/quota", app.url))
        .json(&json!({"max_queued": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    t.submit_ok("wordcount", "", "a").await;
    let r = app
        .http
        .put(format!("{}/v1/teams/small/quota", app.url))
        .json(&json!({"max_input_bytes": 0}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_quota").await;
    app.stop().await;
}

#[tokio::test]
async fn submissions_over_a_keys_rate_get_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.submit_rate = 3;
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let mut limited = None;
    for _ in 0..10 {
        let r = app.submit("wordcount", "", "a").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let r = limited.expect("the 4th submission within a second is refused");
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another key has its own budget.
    let other = team_with_quota(&app, "other", json!({})).await;
    other.install_as("other-wc", "wordcount", "1.0.0").await;
    other.submit_ok("other-wc", "", "a").await;
    app.stop().await;
}

/// A key may hold `held_per_key` waiting answers (events, `?wait=`, a
/// followed result) open at once: one more gets 429 `too_many_held` with
/// `Retry-After`, answers that do not wait still work, another key has its
/// own bound, and a hold is given back when its answer ends.
#[tokio::test]
async fn a_key_holds_a_bounded_number_of_waiting_answers() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| {
        c.slots = 0;
        c.held_per_key = 2;
    })
    .await;
    app.install("wordcount", "1.0.0").await;
    let id = app.submit_ok("wordcount", "", "a b").await;
    let events = app.get(&format!("/v1/jobs/{id}/events")).await;
    assert_eq!(events.status(), StatusCode::OK);
    let waiting = {
        let (http, url) = (app.http.clone(), format!("{}/v1/jobs/{id}?wait=3", app.url));
        tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for held in [
        format!("/v1/jobs/{id}?wait=30"),
        format!("/v1/jobs/{id}/result?follow=true&wait=1"),
        format!("/v1/jobs/{id}/result?wait=1"),
        format!("/v1/jobs/{id}/events"),
    ] {
        let r = app.get(&held).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{held}");
        assert!(r.headers().contains_key("retry-after"), "{held}");
        assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_held").await;
    }
    let (status, job) = app.get_json(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        (status, job["status"].as_str()),
        (StatusCode::OK, Some("queued"))
    );
    let other = team_with_quota(&app, "other", json!({})).await;
    other.install_as("other-wc", "wordcount", "1.0.0").await;
    let theirs = other.submit_ok("other-wc", "", "a").await;
    let r = other.get(&format!("/v1/jobs/{theirs}?wait=1")).await;
    assert_eq!(r.status(), StatusCode::OK, "another key has its own bound");
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    let r = app.get(&format!("/v1/jobs/{id}?wait=1")).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the ended wait gave its hold back"
    );
    drop(events);
    app.stop().await;
}

#[tokio::test]
async fn jobs_belong_to_the_submitting_team_even_on_another_teams_processor() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let owner = team_with_quota(&app, "owner", json!({})).await;
    let user = team_with_quota(&app, "user", json!({})).await;
    owner.install("wordcount", "1.0.0").await;
    let r = user.submit("wordcount", "", "a b").await;
    assert_error(r, StatusCode::NOT_FOUND, "processor_not_found").await;
    let r = owner
        .http
        .patch(format!("{}/v1/processors/wordcount", app.url))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = user.submit_ok("wordcount", "", "a b c").await;
    let job = user.wait(&id).await;
    assert_eq!(
        (job["status"].as_str(), job["team"].as_str()),
        (Some("succeeded"), Some("user"))
    );
    assert_error(
        owner.get(&format!("/v1/jobs/{id}")).await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    )
    .await;
    assert_error(
        owner.get(&format!("/v1/jobs/{id}/result")).await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    )
    .await;
    assert_eq!(
        app.get(&format!("/v1/jobs/{id}")).await.status(),
        StatusCode::OK,
        "operators see every job"
    );
    let (_, mine) = owner.get_json("/v1/jobs").await;
    assert!(mine["jobs"].as_array().unwrap().is_empty(), "{mine}");
    // The result: never sniffed, an attachment, in a sandbox.
    let r = user.get(&format!("/v1/jobs/{id}/result")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "sandbox");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"{id}\"").as_str()
    );
    // Usage: the user team's day has the job.
    let (s, usage) = user.get_json("/v1/teams/user/usage").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "usage is for admins: {usage}");
    let (s, usage) = app.get_json("/v1/teams/user/usage").await;
    assert_eq!(s, StatusCode::OK);
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{usage}");
    assert_eq!(days[0]["jobs"]["succeeded"], 1);
    assert_eq!(days[0]["bytes_in"], 5);
    assert!(days[0]["bytes_out"].as_u64().unwrap() > 0);
    // Private again: the user team can no longer submit.
    owner
        .http
        .patch(format!("{}/v1/processors/wordcount", app.url))
        .json(&json!({"visibility": "private"}))
        .send()
        .await
        .unwrap();
    let r = user.submit("wordcount", "", "a").await;
    assert_error(r, StatusCode::NOT_FOUND, "processor_not_found").await;
    // A disabled team's keys stop working at once.
    let r = app
        .http
        .patch(format!("{}/v1/teams/owner", app.url))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_error(
        owner.get("/v1/whoami").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn inline_safe_versions_serve_results_inline() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 1).await;
    let r = app
        .http
        .put(format!(
            "{}/v1/processors/wordcount/versions/1.0.0?inline=true",
            app.url
        ))
        .body(plugin("wordcount"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = app.submit_ok("wordcount", "", "x").await;
    app.wait(&id).await;
    let r = app.get(&format!("/v1/jobs/{id}/result")).await;
    assert!(!r.headers().contains_key("content-disposition"));
    assert_eq!(r.headers()["content-security-policy"], "sandbox");
    assert_eq!(r.headers()["content-type"], "application/json");
    app.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn serve_writes_its_first_key_privately_and_only_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = TestApp::start(&data, |c| c.slots = 0).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("admin.key")), 0o600);
    assert_eq!(mode(&data), 0o700);
    let (s, me) = app.get_json("/v1/whoami").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (me["team"].as_str(), me["role"].as_str()),
        (Some("default"), Some("operator"))
    );
    let key = std::fs::read_to_string(data.join("admin.key")).unwrap();
    app.stop().await;
    // A restart keeps the key (and makes no new one).
    let app = TestApp::start(&data, |c| c.slots = 0).await;
    assert_eq!(
        std::fs::read_to_string(data.join("admin.key")).unwrap(),
        key
    );
    let (_, keys) = app.get_json("/v1/teams/default/keys").await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "{keys}");
    assert!(
        keys["keys"][0].get("key").is_none(),
        "listings never show a key"
    );
    app.stop().await;
}

/// `max_running`: however many slots are free, a team runs at most that
/// many jobs at once; starts over it are given back uncounted, and every
/// job still runs.
#[tokio::test]
async fn a_teams_running_quota_holds_across_free_slots() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 4).await;
    let t = team_with_quota(&app, "one-at-a-time", json!({"max_running": 1})).await;
    let r = t.register("sleeper", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t
        .http
        .put(format!("{}/v1/teams/one-at-a-time/quota", app.url))
        .json(&json!({"max_running": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "quotas are the operator's"
    );
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            t.submit_ok("sleeper", "param.mode=sleep&param.ms=300", "x")
                .await,
        );
    }
    let mut runs = Vec::new();
    for id in &ids {
        let job = t.wait(id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(
            job["attempts"], 1,
            "given-back starts are not attempts: {job}"
        );
        let at = |k: &str| {
            job[k]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        };
        runs.push((at("started_at"), at("finished_at")));
    }
    runs.sort();
    for w in runs.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "two of the team's jobs ran at once: {runs:?}"
        );
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("agensium_jobs_throttled_total") && !l.ends_with(" 0")),
        "with 4 free slots, starts were given back"
    );
    app.stop().await;
}

/// A key holder cannot make the API buffer a large JSON body: the control
/// routes read at most 64 KiB (before the fix, the body limit was off on
/// every route and a team's JSON was read whole).
#[tokio::test]
async fn json_bodies_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let big = json!({"name": "padded", "quota": {}, "pad": "x".repeat(80 << 10)});
    let r = app
        .http
        .post(format!("{}/v1/teams", app.url))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let r = app
        .http
        .post(format!("{}/v1/teams", app.url))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_body").await;
    app.stop().await;
}

/// `agensium admin` works on the configured store with no API running and
/// prints the key, and nothing else, on stdout.
#[test]
fn admin_cli_makes_teams_and_prints_only_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(agensium_tests::procs::binary())
            .env_clear()
            .env("AGENSIUM_DATA_DIR", dir.path())
            .env("RUST_LOG", "debug")
            .arg("admin")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["create-team", "acme"]).status.success());
    let again = run(&["create-team", "acme"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let out = run(&["create-key", "--team", "acme", "--role", "publisher"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap();
    let (id, secret) = key
        .strip_prefix("agk_")
        .and_then(|k| k.strip_suffix('\n'))
        .and_then(|k| k.split_once('_'))
        .unwrap_or_else(|| panic!("stdout is the key alone: {key:?}"));
    assert!(id.len() == 16 && secret.len() == 64, "{key:?}");
    let missing = run(&["create-key", "--team", "nobody", "--role", "reader"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no team nobody"));
    let bad = run(&["create-key", "--team", "acme", "--role", "root"]);
    assert!(!bad.status.success(), "an unknown role is refused");
}

/// A caller cannot lock itself out: an operator does not disable its own
/// team, a key does not revoke itself (schema fuzzing did both, and every
/// later request answered 401).
#[tokio::test]
async fn a_caller_cannot_lock_itself_out() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let r = app
        .http
        .patch(format!("{}/v1/teams/default", app.url))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::CONFLICT, "own_team").await;
    let (_, me) = app.get_json("/v1/whoami").await;
    let id = me["key_id"].as_str().unwrap();
    let r = app
        .http
        .delete(format!("{}/v1/teams/default/keys/{id}", app.url))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::CONFLICT, "own_key").await;
    assert_eq!(
        app.get("/v1/whoami").await.status(),
        StatusCode::OK,
        "still in"
    );
    app.stop().await;
}
