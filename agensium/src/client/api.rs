//! The HTTP side of the client: where the API is, the key, and its errors;
//! and how the API's text is printed.

use agensium_domain::terminal_safe;
use anyhow::{Context, Result};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::io::IsTerminal;
use std::time::Duration;

/// Where the API is and who is calling: flags, else `AGENSIUM_URL` and
/// `AGENSIUM_KEY`.
#[derive(clap::Args, Debug, Clone)]
pub struct Conn {
    /// The API's base URL.
    #[arg(
        long,
        env = "AGENSIUM_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// The API key (`agensium serve` writes the first one to
    /// `<data dir>/admin.key`).
    #[arg(long, env = "AGENSIUM_KEY", hide_env_values = true, global = true)]
    pub key: Option<String>,
    /// Print the API's JSON instead of text, and no progress.
    #[arg(long, global = true)]
    pub json: bool,
}

/// An error the API answered: its status, code and message.
#[derive(Debug, thiserror::Error)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `error.code`, or the status's reason when the body had none.
    pub code: String,
    /// `error.message`.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (HTTP {})",
            self.code,
            self.message,
            self.status.as_u16()
        )
    }
}

/// A client of one API.
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
    /// `--json`.
    pub json: bool,
}

impl Api {
    /// A client for `conn`.
    pub fn new(conn: &Conn) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("agensium-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: conn.url.trim_end_matches('/').to_owned(),
            key: conn.key.as_ref().map(|k| k.trim().to_owned()),
            json: conn.json,
        })
    }

    /// A request to `path` (from `/v1/…`), with the key.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    /// Sends `request`; a non-2xx answer becomes an [`ApiError`]. A
    /// request the API refuses for now is sent again (see
    /// [`Self::send_with`]) when it can be copied: every one but a streamed
    /// upload.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let template = request.try_clone();
        let mut first = Some(request);
        self.send_with(|| {
            Ok(first
                .take()
                .or_else(|| template.as_ref().and_then(RequestBuilder::try_clone)))
        })
        .await
    }

    /// Sends the request `make` builds; a non-2xx answer becomes an
    /// [`ApiError`]. An answer that says when to come back (429, or 503,
    /// with `Retry-After`) is waited out, at most [`LONGEST_PAUSE`] at a
    /// time, and `make`'s next request sent, up to [`RESENDS`] times;
    /// `make` answers `None` when it cannot build another (its first call
    /// must build one).
    pub async fn send_with(
        &self,
        mut make: impl FnMut() -> Result<Option<RequestBuilder>>,
    ) -> Result<Response> {
        let mut request = make()?.context("no request to send")?;
        let mut resends = 0;
        loop {
            let response = request
                .send()
                .await
                .with_context(|| format!("calling the API at {}", self.base))?;
            if response.status().is_success() {
                return Ok(response);
            }
            let pause = come_back_after(&response).filter(|_| resends < RESENDS);
            let error = api_error(response).await;
            match pause.map(|p| (p, make())) {
                Some((pause, Ok(Some(next)))) => {
                    eprint_line(&format!("{error}; sending again in {} s", pause.as_secs()));
                    tokio::time::sleep(pause).await;
                    request = next;
                    resends += 1;
                }
                Some((_, Err(e))) => return Err(e.context(error.to_string())),
                _ => return Err(error.into()),
            }
        }
    }

    /// Sends `request` and reads its JSON answer.
    pub async fn json(&self, request: RequestBuilder) -> Result<Value> {
        let response = self.send(request).await?;
        response.json().await.context("reading the API's answer")
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.json(self.request(reqwest::Method::GET, path)).await
    }
}

/// How many times a request the API refused for now is sent again.
pub const RESENDS: u32 = 5;

/// The longest the client waits, at a time, before sending a refused
/// request again.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(30);

/// The pause a 429 or 503 asks for in its `Retry-After` (whole seconds, at
/// most [`LONGEST_PAUSE`]); `None` for any other answer, or without one.
fn come_back_after(response: &Response) -> Option<Duration> {
    let status = response.status();
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let secs: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(LONGEST_PAUSE))
}

async fn api_error(response: Response) -> ApiError {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let field = |k: &str| body["error"][k].as_str().map(str::to_owned);
    ApiError {
        status,
        code: field("code").unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("error")
                .to_lowercase()
                .replace(' ', "_")
        }),
        message: field("message").unwrap_or_default(),
    }
}

/// `text` (from the API) as it may go to a stream: through
/// [`terminal_safe`] when the stream is a terminal, so no escape sequence
/// or control character of the API's reaches it; as it is otherwise, so
/// scripts get the API's text byte for byte.
fn shown(text: &str, terminal: bool) -> Cow<'_, str> {
    if terminal {
        terminal_safe(text)
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` as it may go to stdout (see [`shown`]).
fn for_stdout(text: &str) -> Cow<'_, str> {
    shown(text, std::io::stdout().is_terminal())
}

/// `text` as it may go to stderr (see [`shown`]).
fn for_stderr(text: &str) -> Cow<'_, str> {
    shown(text, std::io::stderr().is_terminal())
}

/// Prints `line`, text that holds the API's, and a newline on stdout,
/// escaped on a terminal ([`for_stdout`]).
pub fn print_line(line: &str) {
    println!("{}", for_stdout(line));
}

/// Prints `line`, text that holds the API's, and a newline on stderr,
/// escaped on a terminal ([`for_stderr`]).
pub fn eprint_line(line: &str) {
    eprintln!("{}", for_stderr(line));
}

/// Prints `value` as pretty JSON on stdout, never escaped (`--json` is
/// for scripts).
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints a table: `header`, then one line per row of `rows` (the JSON
/// fields `keys` of each, through [`cell`], escaped when stdout is a
/// terminal), columns as wide as their widest cell; the last column is not
/// padded.
pub fn print_table<'a>(header: &[&str], keys: &[&str], rows: impl IntoIterator<Item = &'a Value>) {
    let terminal = std::io::stdout().is_terminal();
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    lines.extend(rows.into_iter().map(|r| {
        keys.iter()
            .map(|k| shown(&cell(&r[*k]), terminal).into_owned())
            .collect()
    }));
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let last = line.len() - 1;
        let text: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c == last {
                    v.clone()
                } else {
                    format!("{v:<w$}", w = widths[c])
                }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    }
}

/// A JSON field as text for a table: strings bare, null as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
