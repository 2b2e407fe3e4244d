//! A thin HTTP client of the Agensium API, as the bench's load uses it.

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A client of one Agensium API.
#[derive(Clone)]
pub struct Api {
    /// `http://host:port`.
    pub base: String,
    /// The pooled HTTP client.
    pub http: reqwest::Client,
}

impl Api {
    /// A client of the API at `base` that sends no key (for `/healthz`).
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    /// The same client, sending `key` as `Authorization: Bearer` on every request.
    pub fn with_key(self, key: &str) -> Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.trim()))
            .context("the API key is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        Ok(Self {
            base: self.base,
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()?,
        })
    }

    /// Registers `bytes` as `name` 1.0.0 and returns how long it took.
    pub async fn register(&self, name: &str, bytes: Vec<u8>) -> Result<Duration> {
        let url = format!("{}/v1/processors/{name}/versions/1.0.0", self.base);
        let t = Instant::now();
        let r = self
            .http
            .put(&url)
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        let took = t.elapsed();
        if !matches!(r.status().as_u16(), 200 | 201) {
            bail!("registering {name}: {} {}", r.status(), r.text().await?);
        }
        Ok(took)
    }

    /// Submits `body` to processor `name` (202 expected) and returns the job id.
    pub async fn submit(&self, name: &str, body: impl Into<reqwest::Body>) -> Result<String> {
        self.submit_with(name, "", body).await
    }

    /// [`Api::submit`] with a query (`version=…`, `param.K=V`).
    pub async fn submit_with(
        &self,
        name: &str,
        query: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<String> {
        let url = format!("{}/v1/processors/{name}/jobs?{query}", self.base);
        let r = self
            .http
            .post(&url)
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        if r.status().as_u16() != 202 {
            bail!("submit to {name}: {} {}", r.status(), r.text().await?);
        }
        let v: Value = r.json().await.context("reading the submit answer")?;
        Ok(v["id"]
            .as_str()
            .context("submit answer without id")?
            .to_owned())
    }

    /// `GET url`, failing unless it answers 2xx.
    async fn get_ok(&self, url: &str) -> Result<reqwest::Response> {
        let r = self
            .http
            .get(url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !r.status().is_success() {
            bail!("GET {url}: {} {}", r.status(), r.text().await?);
        }
        Ok(r)
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> Result<Value> {
        let url = format!("{}/v1/jobs/{id}", self.base);
        let r = self.get_ok(&url).await?;
        r.json().await.with_context(|| format!("reading GET {url}"))
    }

    /// Streams `GET /v1/jobs/{id}/result` and returns how many bytes came.
    pub async fn result(&self, id: &str, query: &str) -> Result<u64> {
        let url = format!("{}/v1/jobs/{id}/result{query}", self.base);
        let r = self.get_ok(&url).await?;
        let mut body = r.bytes_stream();
        let mut n = 0u64;
        while let Some(chunk) = body.next().await {
            n += chunk.with_context(|| format!("reading GET {url}"))?.len() as u64;
        }
        Ok(n)
    }

    /// One page of `GET /v1/jobs?status=S&limit=N[&before=B]`: its jobs and
    /// the next page's `before`.
    async fn list(
        &self,
        status: &str,
        limit: u32,
        before: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>)> {
        let mut url = format!("{}/v1/jobs?status={status}&limit={limit}", self.base);
        if let Some(b) = before {
            url.push_str(&format!("&before={b}"));
        }
        let r = self.get_ok(&url).await?;
        let mut v: Value = r
            .json()
            .await
            .with_context(|| format!("reading GET {url}"))?;
        let jobs = match v["jobs"].take() {
            Value::Array(jobs) => jobs,
            other => bail!("GET {url}: jobs is not a list: {other}"),
        };
        Ok((jobs, v["next"].as_str().map(str::to_owned)))
    }

    /// Whether any job has `status` right now.
    pub(crate) async fn any(&self, status: &str) -> Result<bool> {
        Ok(!self.list(status, 1, None).await?.0.is_empty())
    }

    /// How many jobs have `status`, and the first of them (newest).
    pub async fn count(&self, status: &str) -> Result<(usize, Option<Value>)> {
        let (mut n, mut first, mut before) = (0, None, None);
        loop {
            let (jobs, next) = self.list(status, 1000, before.as_deref()).await?;
            n += jobs.len();
            if first.is_none() {
                first = jobs.into_iter().next();
            }
            match next {
                Some(b) => before = Some(b),
                None => return Ok((n, first)),
            }
        }
    }
}
