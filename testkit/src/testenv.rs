//! Connecting tests to the real backends (MariaDB/MySQL, Redis, an S3
//! server). Each helper returns `None` — the test is skipped with a note —
//! when the backend is unreachable outside CI; with `CI=true` an unreachable
//! backend is a test failure, never a skip.
//!
//! Environment: `AGENSIUM_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`),
//! `AGENSIUM_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`),
//! `AGENSIUM_TEST_S3_ENDPOINT` (set by `cargo xtask test`, which starts an
//! S3 server) with `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.

use std::time::Duration;

/// True under CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (outside CI) or fails (in CI) a test whose backend is missing.
pub fn missing(backend: &str, why: impl std::fmt::Display) -> Option<std::convert::Infallible> {
    missing_in(in_ci(), backend, why)
}

fn missing_in(
    ci: bool,
    backend: &str,
    why: impl std::fmt::Display,
) -> Option<std::convert::Infallible> {
    if ci {
        panic!("{backend} is required in CI but unreachable: {why}");
    }
    eprintln!("SKIPPED: {backend} unreachable ({why}); set it up or run `cargo xtask test`");
    None
}

/// A unique, lowercase suffix for per-run names.
pub fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The MySQL server URL for tests (no database part).
pub fn mysql_server() -> String {
    std::env::var("AGENSIUM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// Creates a fresh database for this test and returns its URL.
pub async fn fresh_mysql_database() -> Option<String> {
    use mysql_async::prelude::Queryable;
    let server = mysql_server();
    let name = format!("agensium_test_{}", unique());
    let created = async {
        let opts = mysql_async::Opts::from_url(&server).map_err(|e| e.to_string())?;
        let mut conn = tokio::time::timeout(Duration::from_secs(5), mysql_async::Conn::new(opts))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .map_err(|e| e.to_string())?;
        conn.disconnect().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    }
    .await;
    match created {
        Ok(()) => Some(format!("{}/{name}", server.trim_end_matches('/'))),
        Err(e) => missing(&format!("MySQL at {server}"), e).map(|n| match n {}),
    }
}

/// The Redis URL for tests, after checking that it answers.
pub async fn redis() -> Option<String> {
    let url = std::env::var("AGENSIUM_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let ping = async {
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        let mut conn = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match ping {
        Ok(_) => Some(url),
        Err(e) => missing(&format!("Redis at {url}"), e).map(|n| match n {}),
    }
}

/// A bucket on the test S3 server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Bucket {
    /// Endpoint URL of the server (path-style, region `us-east-1`).
    pub endpoint: String,
    /// The bucket's name, fresh for the test.
    pub bucket: String,
}

/// A fresh, empty bucket on the test S3 server (`AGENSIUM_TEST_S3_ENDPOINT`,
/// credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
pub async fn s3() -> Option<S3Bucket> {
    let Ok(endpoint) = std::env::var("AGENSIUM_TEST_S3_ENDPOINT") else {
        return missing("S3 server", "AGENSIUM_TEST_S3_ENDPOINT is not set").map(|n| match n {});
    };
    // Short (12 random hex digits): the test server names an upload's
    // metadata file after base64(bucket) + base64(key), within 255 bytes,
    // and artifact keys are ~100 bytes.
    let unique = unique();
    let bucket = format!("agensium-test-{}", &unique[unique.len() - 12..]);
    match create_bucket(&endpoint, &bucket).await {
        Ok(()) => Some(S3Bucket { endpoint, bucket }),
        Err(e) => missing(&format!("S3 at {endpoint}"), e).map(|n| match n {}),
    }
}

/// Creates `bucket` on the S3 server at `endpoint` (path-style, `us-east-1`,
/// credentials from the AWS chain).
pub async fn create_bucket(endpoint: &str, bucket: &str) -> Result<(), String> {
    use aws_sdk_s3::config::{BehaviorVersion, Region};
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::from_static("us-east-1"))
        .load()
        .await;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let req = client.create_bucket().bucket(bucket).send();
    match tokio::time::timeout(Duration::from_secs(10), req).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
        Err(_) => Err("CreateBucket timed out".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "required in CI but unreachable")]
    fn a_missing_backend_fails_in_ci() {
        let _ = missing_in(true, "MySQL at mysql://127.0.0.1:1", "connection refused");
    }

    #[test]
    fn a_missing_backend_skips_outside_ci() {
        assert!(missing_in(false, "Redis", "connection refused").is_none());
    }
}
