//! Test support: the real app on a random loopback port, an HTTP client and
//! the example processors built by `cargo xtask build-plugin --all`.

pub mod bombs;
pub mod faults;
pub mod procs;
pub mod webdriver;

use agensium::{Role, Server, Settings};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The attempts of job `id` that left output among `keys`: an output is
/// the segments `jobs/{id}/out/{attempt}/{n}` (or, stored before segments,
/// `jobs/{id}/output/{attempt}`), so its objects are counted once per
/// attempt. More than one means duplicate results.
pub fn output_attempts(id: &str, keys: &[String]) -> std::collections::BTreeSet<String> {
    let id: agensium_domain::JobId = id.parse().expect("a job id");
    keys.iter()
        .filter_map(|k| id.output_attempt(k))
        .map(|attempt| attempt.to_string())
        .collect()
}

/// True when any of `keys` is output of job `id`, whole or partial.
pub fn has_output(id: &str, keys: &[String]) -> bool {
    !output_attempts(id, keys).is_empty()
}

/// Bytes of a built example processor.
pub fn plugin(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Build the plugins first: `cargo xtask build-plugin --all` \
             (`cargo xtask test` does it)",
            path.display()
        )
    })
}

/// Bytes of a test fixture component (`target/fixtures/<name>.wasm`, built by
/// `cargo xtask test`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fixtures")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Build the fixtures first: `cargo xtask test` does it",
            path.display()
        )
    })
}

/// A client of a running API.
#[derive(Clone)]
pub struct Client {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// HTTP client.
    pub http: reqwest::Client,
}

/// A running embedded system with a client for it (see [`Client`], which it
/// dereferences to).
pub struct TestApp {
    client: Client,
    /// The data directory.
    pub dir: PathBuf,
    server: Server,
}

impl std::ops::Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestApp {
    /// Starts the system in `dir` with the given config tweaks.
    pub async fn start(dir: &Path, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::embedded(dir);
        // In process, this executable is the test binary: compile uploads
        // with the real `agensium` binary.
        settings.admission.compiler = Some(procs::binary());
        tweak(&mut settings);
        let server = agensium::start(Role::Serve, settings)
            .await
            .expect("server starts");
        let key = std::fs::read_to_string(dir.join("admin.key")).expect("serve wrote admin.key");
        let client = Client::with_key(&server.url(), &key);
        Self {
            client,
            dir: dir.to_path_buf(),
            server,
        }
    }

    /// Stops the system, letting running jobs finish.
    pub async fn stop(self) {
        self.server.stop().await.expect("clean stop");
    }

    /// Files under the object directory, relative, sorted.
    pub fn objects(&self) -> Vec<String> {
        let root = self.dir.join("objects");
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }
}

impl Client {
    /// A client of the API at `url` that sends no key.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A client of the API at `url` sending `Authorization: Bearer <key>`.
    pub fn with_key(url: &str, key: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", key.trim())
                .parse()
                .expect("a key is a header value"),
        );
        Self {
            url: url.to_owned(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    /// `GET` a path of the API.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/jobs/{id}/logs`, asserting 200.
    pub async fn logs(&self, id: &str) -> String {
        let r = self.get(&format!("/v1/jobs/{id}/logs")).await;
        assert_eq!(r.status(), StatusCode::OK, "logs of job {id}");
        r.text().await.unwrap()
    }

    /// `POST /v1/teams/{team}/keys` for a key of `role`, asserting 201:
    /// its id and the key.
    pub async fn create_key(&self, team: &str, role: &str) -> (String, String) {
        let r = self
            .http
            .post(format!("{}/v1/teams/{team}/keys", self.url))
            .json(&serde_json::json!({ "role": role }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "a {role} key of {team}");
        let v: Value = r.json().await.unwrap();
        (
            v["id"].as_str().unwrap().into(),
            v["key"].as_str().unwrap().into(),
        )
    }

    /// `POST /v1/teams` for team `name` with `quota`, asserting 201, and a
    /// key of `role` for it: a client with that key.
    pub async fn create_team(&self, name: &str, quota: Value, role: &str) -> Client {
        let r = self
            .http
            .post(format!("{}/v1/teams", self.url))
            .json(&serde_json::json!({ "name": name, "quota": quota }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "team {name}");
        Client::with_key(&self.url, &self.create_key(name, role).await.1)
    }

    /// `PUT /v1/processors/{name}/versions/{version}`.
    pub async fn register(&self, name: &str, version: &str, bytes: Vec<u8>) -> Response {
        self.http
            .put(format!(
                "{}/v1/processors/{name}/versions/{version}",
                self.url
            ))
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// Registers a built example processor as `version`, asserting success.
    pub async fn install(&self, name: &str, version: &str) -> Value {
        self.install_as(name, name, version).await
    }

    /// Registers the example processor `plugin` under the name `name`.
    pub async fn install_as(&self, name: &str, plugin_name: &str, version: &str) -> Value {
        let r = self.register(name, version, plugin(plugin_name)).await;
        assert_eq!(r.status(), StatusCode::CREATED, "registering {name}");
        r.json().await.unwrap()
    }

    /// `POST /v1/processors/{name}/jobs?{query}` with a raw body.
    pub async fn submit(
        &self,
        name: &str,
        query: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.http
            .post(format!("{}/v1/processors/{name}/jobs?{query}", self.url))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Submits and asserts 202; returns the job id.
    pub async fn submit_ok(
        &self,
        name: &str,
        query: &str,
        body: impl Into<reqwest::Body>,
    ) -> String {
        let r = self.submit(name, query, body).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// `GET` a path, parsed as JSON, with its status.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// Polls a job until it is final (60 s at most) and returns it.
    pub async fn wait(&self, id: &str) -> Value {
        self.wait_for(id, "job done", Duration::from_secs(60), |job| {
            matches!(
                job["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await
    }

    /// Polls a job (asserting 200) until `cond` holds, failing with `what`
    /// after `within`; returns the job.
    pub async fn wait_for(
        &self,
        id: &str,
        what: &str,
        within: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let (status, job) = self.get_json(&format!("/v1/jobs/{id}")).await;
            assert_eq!(status, StatusCode::OK);
            if cond(&job) {
                return job;
            }
            assert!(start.elapsed() < within, "job {id}: {what}: {job}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `DELETE /v1/jobs/{id}`.
    pub async fn cancel(&self, id: &str) -> Response {
        self.http
            .delete(format!("{}/v1/jobs/{id}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/jobs/{id}/retry`.
    pub async fn retry(&self, id: &str) -> Response {
        self.http
            .post(format!("{}/v1/jobs/{id}/retry", self.url))
            .send()
            .await
            .unwrap()
    }

    /// The result of a job as bytes, asserting 200; with its content type.
    pub async fn result(&self, id: &str) -> (String, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}/v1/jobs/{id}/result", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "result of {id}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        (ct, r.bytes().await.unwrap().to_vec())
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

/// Asserts a JSON error answer: status, `error.code`, a non-empty message.
pub async fn assert_error(r: Response, status: StatusCode, code: &str) -> String {
    let got = r.status();
    let v: Value = r.json().await.expect("error body is JSON");
    assert_eq!(got, status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    let msg = v["error"]["message"].as_str().expect("message").to_owned();
    assert!(!msg.is_empty());
    msg
}
