//! `agensium job submit | status | logs | result | cancel | retry | list`.

use super::api::{Api, cell, eprint_line, print_json, print_line, print_table};
use super::progress;
use agensium_domain::terminal_safe;
use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// A job command.
#[derive(clap::Subcommand, Debug)]
pub enum JobCommand {
    /// Submits a file to a processor: prints the job's id, or with
    /// `--wait` waits for it and exits 1 when it fails.
    Submit(SubmitArgs),
    /// Prints a job's state.
    Status {
        /// The job's id.
        id: String,
    },
    /// Prints a job's log.
    Logs {
        /// The job's id.
        id: String,
    },
    /// Writes a succeeded job's result.
    Result {
        /// The job's id.
        id: String,
        /// Where to write it (`-`: stdout).
        #[arg(long, short, default_value = "-")]
        output: PathBuf,
    },
    /// Cancels a queued or running job.
    Cancel {
        /// The job's id.
        id: String,
    },
    /// Runs a failed or cancelled job again.
    Retry {
        /// The job's id.
        id: String,
    },
    /// Lists the team's jobs, newest first.
    List {
        /// Only jobs in this state: queued, running, succeeded, failed, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// How many (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// `agensium job submit NAME FILE`.
#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    /// The processor's name.
    pub processor: String,
    /// The input file (`-`: stdin).
    pub file: PathBuf,
    /// The processor's version; unset: the latest.
    #[arg(long)]
    pub version: Option<String>,
    /// A param, `KEY=VALUE`; repeat for more.
    #[arg(long = "param", short, value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Wait for the job to end; exit 1 when it does not succeed.
    #[arg(long)]
    pub wait: bool,
    /// With `--wait`: write the result here (`-`: stdout).
    #[arg(long, short, requires = "wait")]
    pub output: Option<PathBuf>,
}

/// Runs a job command.
pub async fn run(command: JobCommand, api: &Api) -> Result<ExitCode> {
    match command {
        JobCommand::Submit(args) => submit(args, api).await,
        JobCommand::Status { id } => {
            let job = api.get(&job_path(&id)).await?;
            print_job(&job, api.json);
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Logs { id } => {
            let response = api
                .send(api.request(Method::GET, &format!("{}/logs", job_path(&id))))
                .await?;
            print_log(&response.bytes().await?)?;
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Result { id, output } => {
            result(&id, &output, api).await?;
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Cancel { id } => control(Method::DELETE, &job_path(&id), api).await,
        JobCommand::Retry { id } => {
            control(Method::POST, &format!("{}/retry", job_path(&id)), api).await
        }
        JobCommand::List { status, limit } => list(status, limit, api).await,
    }
}

fn job_path(id: &str) -> String {
    format!("/v1/jobs/{id}")
}

/// Writes a job's log to stdout: byte for byte when stdout is not a
/// terminal; on a terminal, line by line through [`terminal_safe`] (newlines
/// kept), so a processor's log cannot drive the terminal.
fn print_log(log: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        for line in String::from_utf8_lossy(log).split_inclusive('\n') {
            out.write_all(terminal_safe(line).as_bytes())?;
        }
    } else {
        out.write_all(log)?;
    }
    out.flush()?;
    Ok(())
}

async fn submit(args: SubmitArgs, api: &Api) -> Result<ExitCode> {
    let mut query: Vec<(String, String)> = crate::local::params(&args.params)?
        .iter()
        .map(|(k, v)| (format!("param.{k}"), v.to_owned()))
        .collect();
    if let Some(v) = &args.version {
        query.push(("version".into(), v.clone()));
    }
    let path = format!("/v1/processors/{}/jobs", args.processor);
    let mut upload = progress::Upload::new(&args.file, api.json)?;
    let accepted = match api
        .send_with(|| {
            let Some((body, size)) = upload.body()? else {
                return Ok(None);
            };
            let request = api.request(Method::POST, &path).query(&query).body(body);
            Ok(Some(match size {
                Some(n) => request.header(reqwest::header::CONTENT_LENGTH, n),
                None => request,
            }))
        })
        .await
    {
        Ok(response) => response
            .json::<Value>()
            .await
            .context("reading the API's answer"),
        Err(e) => Err(e),
    };
    upload.finish();
    let accepted = accepted?;
    let id = accepted["id"]
        .as_str()
        .context("the API's answer has no job id")?
        .to_owned();
    if !args.wait {
        if api.json {
            print_json(&accepted);
        } else {
            print_line(&id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Into a file, the result is followed while the job runs (kept as
    // `.partial` until complete), so the download overlaps the run.
    let followed = match args.output.as_deref().filter(|p| *p != Path::new("-")) {
        Some(file) => follow(&id, file, api).await,
        None => false,
    };
    let job = wait(&id, &accepted, api).await?;
    let succeeded = job["status"] == "succeeded";
    if succeeded
        && !followed
        && let Some(output) = &args.output
    {
        result(&id, output, api).await?;
    }
    if api.json {
        print_json(&job);
    } else if !succeeded {
        eprint_line(&format!(
            "job {id} {}: {}: {}",
            cell(&job["status"]),
            cell(&job["error"]["code"]),
            cell(&job["error"]["message"])
        ));
    } else if args.output.is_none() {
        print_line(&format!("{id} succeeded"));
    }
    Ok(if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How long one waiting request may be held.
const STATE_EVERY: Duration = Duration::from_secs(2);

/// Waits for the job to end, showing its state (from `accepted`, the
/// submit's answer, on); returns the final document. Each request asks the
/// API to answer at the job's end or after [`STATE_EVERY`] (`?wait=`), so
/// the spinner also sees the job start; should an API answer at once
/// instead, the requests back off.
async fn wait(id: &str, accepted: &Value, api: &Api) -> Result<Value> {
    let spinner = progress::spinner(api.json);
    progress::set_message(&spinner, &format!("job {id} {}", cell(&accepted["status"])));
    let mut pause = Duration::from_millis(50);
    loop {
        let asked = std::time::Instant::now();
        let request = api
            .request(Method::GET, &job_path(id))
            .query(&[("wait", STATE_EVERY.as_secs().to_string())]);
        let job = api.json(request).await?;
        let status = cell(&job["status"]);
        if matches!(status.as_str(), "succeeded" | "failed" | "cancelled") {
            spinner.finish_and_clear();
            return Ok(job);
        }
        progress::set_message(&spinner, &format!("job {id} {status}"));
        if asked.elapsed() < STATE_EVERY / 2 {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

/// Follows the job's result into `file` as it is written
/// (`?follow=true&wait=60`): true when it arrived whole; false when there
/// was nothing to follow within the wait, or the attempt was cut off (the
/// caller then waits for the job and reads its result).
async fn follow(id: &str, file: &Path, api: &Api) -> bool {
    let request = api
        .request(Method::GET, &format!("{}/result", job_path(id)))
        .query(&[("follow", "true"), ("wait", "60")]);
    let Ok(response) = api.send(request).await else {
        return false;
    };
    let total = response.content_length();
    progress::download(response.bytes_stream(), total, file, api.json)
        .await
        .is_ok()
}

async fn result(id: &str, output: &Path, api: &Api) -> Result<()> {
    let response = api
        .send(api.request(Method::GET, &format!("{}/result", job_path(id))))
        .await?;
    let total = response.content_length();
    progress::download(response.bytes_stream(), total, output, api.json).await?;
    Ok(())
}

async fn control(method: Method, path: &str, api: &Api) -> Result<ExitCode> {
    let job = api.json(api.request(method, path)).await?;
    print_job(&job, api.json);
    Ok(ExitCode::SUCCESS)
}

async fn list(status: Option<String>, limit: u32, api: &Api) -> Result<ExitCode> {
    let mut request = api
        .request(Method::GET, "/v1/jobs")
        .query(&[("limit", limit.to_string())]);
    if let Some(s) = &status {
        request = request.query(&[("status", s)]);
    }
    let page = api.json(request).await?;
    if api.json {
        print_json(&page);
        return Ok(ExitCode::SUCCESS);
    }
    print_table(
        &["ID", "PROCESSOR", "VERSION", "STATUS", "CREATED"],
        &["id", "processor", "version", "status", "created_at"],
        page["jobs"].as_array().into_iter().flatten(),
    );
    Ok(ExitCode::SUCCESS)
}

/// A job as `key: value` lines (escaped on a terminal), or its JSON.
fn print_job(job: &Value, json: bool) {
    if json {
        print_json(job);
        return;
    }
    for key in [
        "id",
        "processor",
        "version",
        "status",
        "attempts",
        "input_bytes",
        "output_bytes",
        "content_type",
        "created_at",
        "started_at",
        "finished_at",
    ] {
        print_line(&format!("{key}: {}", cell(&job[key])));
    }
    if !job["error"].is_null() {
        print_line(&format!(
            "error: {}: {}",
            cell(&job["error"]["code"]),
            cell(&job["error"]["message"])
        ));
    }
    for (section, value) in [
        ("params", &job["params"]),
        ("stats", &job["stats"]),
        ("usage", &job["usage"]),
    ] {
        if let Some(map) = value.as_object().filter(|m| !m.is_empty()) {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", cell(v)))
                .collect();
            print_line(&format!("{section}: {}", pairs.join(" ")));
        }
    }
}
