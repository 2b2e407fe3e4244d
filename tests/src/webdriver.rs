//! A small W3C WebDriver client (over the workspace's reqwest) for the
//! dashboard's browser test: a chromedriver child, a headless Chromium
//! session, and the handful of commands the test needs. (A WebDriver crate
//! would bring a Unicode segmenter and other dependencies this workspace
//! builds nowhere else, compiling them twice per CI run.)

use base64::Engine as _;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process, killed on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port, or `None` when it is not
    /// installed (a failure under `CI=true`: CI installs it).
    pub async fn start() -> Option<Self> {
        let bin = [
            "chromedriver",
            "/usr/bin/chromedriver",
            "/usr/lib/chromium/chromedriver",
        ]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok());
        let Some(bin) = bin else {
            assert!(
                std::env::var("CI").is_err(),
                "chromedriver is missing (apt-get install chromium chromium-driver)"
            );
            eprintln!("SKIPPED: chromedriver is not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver listens"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(driver)
    }

    /// A new headless Chromium session.
    pub async fn session(&self) -> Browser {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,860"]}
        }}});
        let v = call(
            &http,
            reqwest::Method::POST,
            &format!("{}/session", self.url),
            Some(caps),
        )
        .await
        .expect("a Chromium session");
        let id = v["sessionId"].as_str().expect("a session id").to_owned();
        Browser {
            http,
            base: format!("{}/session/{id}", self.url),
        }
    }
}

/// What a WebDriver command answered when it failed.
#[derive(Debug)]
pub struct WdError(pub String);

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WdError> {
    let r = http
        .request(method, url)
        .json(&body.unwrap_or_else(|| json!({})))
        .send()
        .await
        .map_err(|e| WdError(e.to_string()))?;
    let ok = r.status().is_success();
    let v: Value = r.json().await.map_err(|e| WdError(e.to_string()))?;
    if ok {
        Ok(v["value"].clone())
    } else {
        Err(WdError(v["value"].to_string()))
    }
}

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    base: String,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WdError> {
        call(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await
            .expect("navigate");
    }

    /// The page's URL.
    pub async fn url(&self) -> String {
        let v = self
            .cmd(reqwest::Method::GET, "/url", None)
            .await
            .expect("url");
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The element matching the CSS `selector`, if any.
    pub async fn find(&self, selector: &str) -> Result<Element, WdError> {
        let body = json!({"using": "css selector", "value": selector});
        let v = self
            .cmd(reqwest::Method::POST, "/element", Some(body))
            .await?;
        v[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| WdError(format!("no element reference in {v}")))
    }

    /// Waits (20 s at most) for an element matching `selector`.
    pub async fn wait_for(&self, selector: &str) -> Element {
        let start = Instant::now();
        loop {
            match self.find(selector).await {
                Ok(e) => return e,
                Err(e) => assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "{selector} never appeared: {e:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element's visible text.
    pub async fn text(&self, e: &Element) -> Result<String, WdError> {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.0),
                None,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The element's property `name` (e.g. `href`, `value`).
    pub async fn property(&self, e: &Element, name: &str) -> Result<Value, WdError> {
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{}/property/{name}", e.0),
            None,
        )
        .await
    }

    /// Types `text` into the element (a file input takes a path).
    pub async fn send_keys(&self, e: &Element, text: &str) {
        let path = format!("/element/{}/value", e.0);
        self.cmd(reqwest::Method::POST, &path, Some(json!({"text": text})))
            .await
            .expect("send keys");
    }

    /// Clicks the element.
    pub async fn click(&self, e: &Element) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            None,
        )
        .await
        .expect("click");
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self
            .cmd(reqwest::Method::GET, "/screenshot", None)
            .await
            .expect("screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a base64 PNG")
    }

    /// Ends the session (the browser quits).
    pub async fn quit(self) {
        let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
    }
}
