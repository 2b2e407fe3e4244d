//! The big-file figure: a large CSV, written once to a temporary file and
//! streamed from disk through `csv-to-jsonl`.

use super::load::wait_job;
use super::stack::{Stack, temp_dir};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A CSV file on disk, removed on drop.
pub struct CsvFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its data rows (the header not counted).
    pub rows: u64,
    _dir: tempfile::TempDir,
}

impl CsvFile {
    /// Writes a CSV of at least `bytes` bytes: a header and rows with quoted
    /// fields, embedded commas, doubled quotes and non-ASCII text. Stops
    /// (and removes the file) when `stop` is set.
    pub fn write(bytes: u64, stop: &AtomicBool) -> Result<Self> {
        use std::fmt::Write as _;
        let dir = temp_dir("agensium-bench-csv-")?;
        let path = dir.path().join("big.csv");
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let header = "id,name,comment,amount,city\n";
        w.write_all(header.as_bytes())?;
        let (mut n, mut rows) = (header.len() as u64, 0u64);
        let mut line = String::with_capacity(128);
        while n < bytes {
            let i = rows;
            line.clear();
            writeln!(
                line,
                "{i},\"Name {i}, Jr.\",\"said \"\"hello\"\" to {}\",{}.{:02},Zürich",
                i % 977,
                i * 13 % 100_000,
                i % 100
            )?;
            w.write_all(line.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            n += line.len() as u64;
            rows += 1;
            if rows % 65536 == 0 && stop.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Self {
            path,
            bytes: n,
            rows,
            _dir: dir,
        })
    }
}

/// What the big job measured.
pub struct CsvRun {
    /// Size of the input.
    pub bytes: u64,
    /// From the upload's start to the 202.
    pub upload: Duration,
    /// From the upload's start to the last byte of the result downloaded.
    pub total: Duration,
    /// From the 202 to the result's last byte (followed while it ran).
    pub download: Duration,
    /// The S3 server alone: a PUT and a GET of the input's size, straight
    /// from the S3 client (production only; set by the caller, after the
    /// job's costs were read): the ceiling of a job's `total`.
    pub ceiling: Option<Ceiling>,
    /// The job's own run time (`finished_at - started_at`), in seconds.
    pub run_secs: f64,
    /// Size of the JSON Lines output.
    pub output_bytes: u64,
}

/// Streams `csv` from disk into a `csv-to-jsonl` job, waits for it to
/// succeed and checks its output size and row count.
pub async fn run(stack: &Stack, csv: &CsvFile) -> Result<CsvRun> {
    let Trip {
        id,
        job,
        downloaded,
        upload,
        download,
        total,
    } = round_trip(stack, csv, "csv-to-jsonl", "").await?;
    let output_bytes = job["output_bytes"].as_u64().unwrap_or(0);
    if downloaded != output_bytes {
        bail!("downloaded {downloaded} bytes of the result, the job says {output_bytes}");
    }
    if output_bytes == 0 {
        bail!("the csv-to-jsonl job {id} has no output: {job}");
    }
    let rows: Option<u64> = job["stats"]["rows"].as_str().and_then(|r| r.parse().ok());
    if rows != Some(csv.rows) {
        bail!(
            "the csv-to-jsonl job {id} counted {} rows, the file has {}",
            job["stats"]["rows"],
            csv.rows
        );
    }
    Ok(CsvRun {
        bytes: csv.bytes,
        upload,
        total,
        download,
        ceiling: None,
        run_secs: run_secs(&job).unwrap_or(f64::NAN),
        output_bytes,
    })
}

/// `finished_at - started_at` of a job, in seconds.
fn run_secs(job: &serde_json::Value) -> Option<f64> {
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(job[k].as_str()?).ok();
    Some((t("finished_at")? - t("started_at")?).num_milliseconds() as f64 / 1e3)
}

/// Times of the S3 server alone taken: the best is its speed (this
/// machine's timings swing by a third from one run to the next).
const CEILING_RUNS: usize = 3;

/// The S3 server alone on the input's size: a PUT, then a GET.
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    /// The PUT of the input's bytes.
    pub put: Duration,
    /// The GET of the same bytes.
    pub get: Duration,
    /// The bytes put and got.
    pub bytes: u64,
}

impl Ceiling {
    /// PUT plus GET of the input's size: the ceiling of a job whose
    /// output is as large as its input.
    pub fn same_size(&self) -> Duration {
        self.put + self.get
    }

    /// PUT of the input plus a GET of `output` bytes at the GET's measured
    /// speed: the ceiling of a job whose output has another size.
    pub fn for_output(&self, output: u64) -> Duration {
        let scale = output as f64 / self.bytes.max(1) as f64;
        self.put + self.get.mul_f64(scale)
    }
}

/// The fastest (PUT + GET) of [`CEILING_RUNS`] [`ceiling`]s, printing each.
pub async fn best_ceiling(s3: &xtask::s3server::S3Server, csv: &CsvFile) -> Result<Ceiling> {
    let mut best: Option<Ceiling> = None;
    for i in 1..=CEILING_RUNS {
        let took = ceiling(s3, csv)
            .await
            .context("timing the S3 server alone")?;
        println!(
            "S3 server alone, run {i}: PUT {:.1} s + GET {:.1} s = {:.1} s",
            took.put.as_secs_f64(),
            took.get.as_secs_f64(),
            took.same_size().as_secs_f64()
        );
        if best.is_none_or(|b| took.same_size() < b.same_size()) {
            best = Some(took);
        }
    }
    best.context("no ceiling run")
}

/// PUT of `csv` (streamed from disk) then its GET (streamed, counted),
/// straight through the S3 adapter to the S3 server, on a bucket of its own.
async fn ceiling(s3: &xtask::s3server::S3Server, csv: &CsvFile) -> Result<Ceiling> {
    use agensium_ports::ObjectStore;
    use futures::{StreamExt, TryStreamExt};
    let mut cfg = agensium_s3::S3Config::new(format!(
        "agensium-ceiling-{}",
        uuid::Uuid::now_v7().simple()
    ));
    cfg.endpoint = Some(s3.endpoint.clone());
    cfg.region = Some("us-east-1".into());
    agensium_s3::S3Store::create_bucket(&cfg).await?;
    let store = agensium_s3::S3Store::connect(cfg).await?;
    let t = Instant::now();
    let file = tokio::fs::File::open(&csv.path).await?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).map_err(Into::into);
    store.put("ceiling", Box::pin(body)).await?;
    let put = t.elapsed();
    let t = Instant::now();
    let mut got = 0u64;
    let mut stream = store.get("ceiling").await?;
    while let Some(chunk) = stream.next().await {
        got += chunk?.len() as u64;
    }
    let get = t.elapsed();
    store.delete("ceiling").await?;
    if got != csv.bytes {
        bail!("the S3 server returned {got} bytes of {}", csv.bytes);
    }
    Ok(Ceiling {
        put,
        get,
        bytes: csv.bytes,
    })
}

/// One big job's trip: uploaded, run, its result downloaded.
struct Trip {
    id: String,
    /// The job as it finished.
    job: serde_json::Value,
    /// Bytes of the result downloaded.
    downloaded: u64,
    /// From the upload's start to the 202.
    upload: Duration,
    /// From the 202 to the result's last byte (followed while it ran).
    download: Duration,
    /// From the upload's start to the last byte downloaded.
    total: Duration,
}

/// Streams `csv` from disk into a job of `name` (with `query`), waits for
/// it to succeed and downloads its result.
async fn round_trip(stack: &Stack, csv: &CsvFile, name: &str, query: &str) -> Result<Trip> {
    let t = Instant::now();
    let file = tokio::fs::File::open(&csv.path)
        .await
        .with_context(|| format!("opening {}", csv.path.display()))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let id = stack
        .api
        .submit_with(name, query, reqwest::Body::wrap_stream(stream))
        .await
        .with_context(|| format!("uploading the big file to {name}"))?;
    let upload = t.elapsed();
    // Followed: the result streams as the worker writes it, so the
    // download overlaps the run (a client that waits for the job's end
    // first adds the whole download after it).
    let d = Instant::now();
    let downloaded = match stack.api.result(&id, "?follow=true&wait=60").await {
        Ok(n) => n,
        // A build from before `follow` (`--binary`): the result once the
        // job ended, as its clients had to.
        Err(e) if format!("{e:#}").contains("job_not_finished") => {
            wait_job(stack, &id, Duration::from_millis(100)).await?;
            stack.api.result(&id, "").await?
        }
        Err(e) => return Err(e.context(format!("following the result of {id}"))),
    };
    let (download, total) = (d.elapsed(), t.elapsed());
    let job = wait_job(stack, &id, Duration::from_millis(100)).await?;
    Ok(Trip {
        id,
        job,
        downloaded,
        upload,
        download,
        total,
    })
}

/// What the big echo job measured: the file through a processor that
/// copies its input to its output (same size out as in).
pub struct EchoRun {
    /// From the upload's start to the 202.
    pub upload: Duration,
    /// The job's own run time, in seconds.
    pub run_secs: f64,
    /// From the 202 to the result's last byte (followed while it ran).
    pub download: Duration,
    /// From the upload's start to the last byte downloaded.
    pub total: Duration,
}

/// Streams `csv` into the hostile fixture's `echo` mode (registered as
/// `echo`), waits for it and downloads the result: end to end for an
/// output as large as the input.
pub async fn echo(stack: &Stack, csv: &CsvFile) -> Result<EchoRun> {
    let fixture =
        std::fs::read(xtask::fixtures::output("hostile")).context("the hostile fixture")?;
    stack.api.register("echo", fixture).await?;
    let Trip {
        job,
        downloaded,
        upload,
        download,
        total,
        ..
    } = round_trip(stack, csv, "echo", "param.mode=echo").await?;
    if downloaded != csv.bytes {
        bail!("echo gave back {downloaded} bytes of {}", csv.bytes);
    }
    Ok(EchoRun {
        upload,
        run_secs: run_secs(&job).unwrap_or(f64::NAN),
        download,
        total,
    })
}
