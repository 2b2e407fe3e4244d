//! `cargo xtask bench`: figures of the embedded system, measured end to end
//! over real HTTP on loopback.

use crate::plugins;
use agensium_api::serve::{self, ServeConfig};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::io::Write;
use std::time::{Duration, Instant};

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Small wordcount jobs timed one after another.
    #[arg(long, default_value_t = 200)]
    jobs: usize,
    /// Size of the CSV pushed through csv-to-jsonl, in MiB.
    #[arg(long, default_value_t = 200)]
    csv_mib: u64,
}

pub fn run(args: Args) -> Result<()> {
    plugins::build(&plugins::all()?)?;
    tokio::runtime::Runtime::new()?.block_on(bench(args))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn bench(args: Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = serve::start(ServeConfig::for_dir(dir.path())).await?;
    let base = server.url();
    let http = reqwest::Client::new();
    for name in ["wordcount", "csv-to-jsonl"] {
        let bytes = std::fs::read(plugins::output(name))?;
        let t = Instant::now();
        let r = http
            .put(format!("{base}/v1/processors/{name}/versions/1.0.0"))
            .body(bytes)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("registering {name}: {}", r.text().await?);
        }
        println!(
            "upload + validate + compile {name:<13} {:>8.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    // End-to-end latency: submit → job row final (polled every 1 ms).
    let mut lat = Vec::with_capacity(args.jobs);
    for i in 0..args.jobs {
        let t = Instant::now();
        let id = submit(
            &http,
            &base,
            "wordcount",
            format!("job {i}: a small input of a few words\n"),
        )
        .await?;
        wait(&http, &base, &id, Duration::from_millis(1)).await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "wordcount small job, submit → succeeded ({} jobs): p50 {:.2} ms  p99 {:.2} ms",
        args.jobs,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );

    // csv-to-jsonl throughput on a large file streamed from disk.
    let csv = dir.path().join("big.csv");
    let size = write_csv(&csv, args.csv_mib << 20)?;
    let t = Instant::now();
    let file = tokio::fs::File::open(&csv).await?;
    let body = reqwest::Body::wrap_stream(tokio_util_stream(file));
    let id = submit(&http, &base, "csv-to-jsonl", body).await?;
    let upload = t.elapsed();
    let job = wait(&http, &base, &id, Duration::from_millis(10)).await?;
    let total = t.elapsed();
    let run = job_run_secs(&job).unwrap_or(f64::NAN);
    let mb = size as f64 / 1e6;
    println!(
        "csv-to-jsonl {mb:.0} MB ({} rows): upload {:.2} s, run {run:.2} s = {:.0} MB/s in the worker, {:.0} MB/s end to end (output {} MB)",
        job["stats"]["rows"].as_str().unwrap_or("?"),
        upload.as_secs_f64(),
        mb / run,
        mb / total.as_secs_f64(),
        job["output_bytes"].as_u64().unwrap_or(0) / 1_000_000
    );
    server.stop().await?;
    Ok(())
}

fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

fn job_run_secs(job: &Value) -> Option<f64> {
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(job[k].as_str()?).ok();
    Some((t("finished_at")? - t("started_at")?).num_milliseconds() as f64 / 1e3)
}

fn write_csv(path: &std::path::Path, bytes: u64) -> Result<u64> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut n = 0u64;
    let header = b"id,name,comment,amount,city\n";
    w.write_all(header)?;
    n += header.len() as u64;
    let mut i = 0u64;
    while n < bytes {
        let line = format!(
            "{i},\"Name {i}, Jr.\",\"said \"\"hello\"\" to {}\",{}.{:02},Zürich\n",
            i % 977,
            i * 13 % 100_000,
            i % 100
        );
        w.write_all(line.as_bytes())?;
        n += line.len() as u64;
        i += 1;
    }
    w.flush()?;
    Ok(n)
}

async fn submit(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    body: impl Into<reqwest::Body>,
) -> Result<String> {
    let r = http
        .post(format!("{base}/v1/processors/{name}/jobs"))
        .body(body)
        .send()
        .await?;
    if r.status().as_u16() != 202 {
        bail!("submit: {} {}", r.status(), r.text().await?);
    }
    let v: Value = r.json().await?;
    Ok(v["id"].as_str().context("id")?.to_owned())
}

async fn wait(http: &reqwest::Client, base: &str, id: &str, every: Duration) -> Result<Value> {
    loop {
        let job: Value = http
            .get(format!("{base}/v1/jobs/{id}"))
            .send()
            .await?
            .json()
            .await?;
        match job["status"].as_str() {
            Some("succeeded") => return Ok(job),
            Some("failed" | "cancelled") => bail!("job {id} did not succeed: {job}"),
            _ => tokio::time::sleep(every).await,
        }
    }
}
