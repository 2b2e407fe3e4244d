//! `agensium processor push | list | show`.

use super::api::{Api, cell, print_json, print_line, print_table};
use super::progress;
use anyhow::{Context, Result};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// A processor command.
#[derive(clap::Subcommand, Debug)]
pub enum ProcessorCommand {
    /// Uploads a component as a new version (the publisher role).
    Push(Box<PushArgs>),
    /// Lists the processors the caller sees (the team's and public ones).
    List,
    /// Shows a processor and its newest versions.
    Show {
        /// The processor's name.
        name: String,
    },
}

/// `agensium processor push NAME VERSION FILE.wasm`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The processor's name.
    pub name: String,
    /// The version, semver (`1.2.0`).
    pub version: String,
    /// The component (`.wasm`).
    pub component: PathBuf,
    #[command(flatten)]
    pub limits: crate::local::DeclaredArgs,
    /// Input limit of a job, in MiB.
    #[arg(long)]
    pub input_mib: Option<u64>,
    /// Mark the results safe to show inline in a browser.
    #[arg(long)]
    pub inline: bool,
    /// Admission test: an input the processor must turn into
    /// `--golden-output` exactly, or the version is refused.
    #[arg(long, requires = "golden_output")]
    pub golden_input: Option<PathBuf>,
    /// The exact output expected from `--golden-input`.
    #[arg(long, requires = "golden_input")]
    pub golden_output: Option<PathBuf>,
    /// A param for the golden run, `KEY=VALUE`; repeat for more.
    #[arg(
        long = "param",
        short,
        value_name = "KEY=VALUE",
        requires = "golden_input"
    )]
    pub params: Vec<String>,
}

/// Runs a processor command.
pub async fn run(command: ProcessorCommand, api: &Api) -> Result<ExitCode> {
    match command {
        ProcessorCommand::Push(args) => push(*args, api).await,
        ProcessorCommand::List => list(api).await,
        ProcessorCommand::Show { name } => show(&name, api).await,
    }
}

async fn push(args: PushArgs, api: &Api) -> Result<ExitCode> {
    let path = format!("/v1/processors/{}/versions/{}", args.name, args.version);
    let mut query: Vec<(String, String)> = [
        ("memory_mib", args.limits.memory_mib),
        ("timeout_ms", args.limits.timeout_ms),
        ("output_mib", args.limits.output_mib),
        ("log_kib", args.limits.log_kib),
        ("input_mib", args.input_mib),
        ("fuel", args.limits.fuel),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_string())))
    .collect();
    if args.inline {
        query.push(("inline".into(), "true".into()));
    }
    let mut upload = progress::Upload::new(&args.component, api.json)?;
    let (body, size) = upload.body()?.context("nothing to upload")?;
    let request = api.request(Method::PUT, &path).query(&query);
    let request = match (&args.golden_input, &args.golden_output) {
        (Some(input), Some(output)) => {
            let mut form = Form::new()
                .part("component", Part::stream(body).file_name("component.wasm"))
                .part("golden_input", file_part(input).await?)
                .part("golden_output", file_part(output).await?);
            for (k, v) in crate::local::params(&args.params)?.iter() {
                form = form.text(format!("param.{k}"), v.to_owned());
            }
            request.multipart(form)
        }
        _ => {
            let request = request.body(body);
            match size {
                Some(n) => request.header(reqwest::header::CONTENT_LENGTH, n),
                None => request,
            }
        }
    };
    let response = api.send(request).await;
    upload.finish();
    let response = response?;
    let fresh = response.status() == reqwest::StatusCode::CREATED;
    let version: Value = response.json().await?;
    if api.json {
        print_json(&version);
    } else {
        let what = if fresh {
            "registered"
        } else {
            "already registered, same bytes:"
        };
        print_line(&format!(
            "{what} {} {} {} ({} bytes)",
            cell(&version["name"]),
            cell(&version["version"]),
            cell(&version["digest"]),
            cell(&version["size"])
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn file_part(path: &PathBuf) -> Result<Part> {
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Part::bytes(bytes).file_name(path.display().to_string()))
}

async fn list(api: &Api) -> Result<ExitCode> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut request = api
            .request(Method::GET, "/v1/processors")
            .query(&[("limit", "200")]);
        if let Some(a) = &after {
            request = request.query(&[("after", a)]);
        }
        let page = api.json(request).await?;
        all.extend(page["processors"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    if api.json {
        print_json(&Value::Array(all));
        return Ok(ExitCode::SUCCESS);
    }
    print_table(
        &["NAME", "TEAM", "VISIBILITY", "LATEST"],
        &["name", "team", "visibility", "latest"],
        &all,
    );
    Ok(ExitCode::SUCCESS)
}

async fn show(name: &str, api: &Api) -> Result<ExitCode> {
    let p = api.get(&format!("/v1/processors/{name}")).await?;
    if api.json {
        print_json(&p);
        return Ok(ExitCode::SUCCESS);
    }
    print_line(&format!(
        "{} (team {}, {}), latest {}",
        cell(&p["name"]),
        cell(&p["team"]),
        cell(&p["visibility"]),
        cell(&p["latest"])
    ));
    // Derived columns first: whether yanked, the declared limits.
    let versions: Vec<Value> = p["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let mut v = v.clone();
            v["state"] = Value::from(if v["yanked_at"].is_null() {
                ""
            } else {
                "yanked"
            });
            v["declared"] = Value::from(limits(&v["limits"]));
            v
        })
        .collect();
    print_table(
        &["VERSION", "DIGEST", "SIZE", "UPLOADED", "LIMITS", ""],
        &[
            "version",
            "digest",
            "size",
            "created_at",
            "declared",
            "state",
        ],
        &versions,
    );
    Ok(ExitCode::SUCCESS)
}

/// A version's declared limits as `k=v` pairs, or `-`.
fn limits(value: &Value) -> String {
    let pairs: Vec<String> = value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{k}={}", cell(v)))
        .collect();
    if pairs.is_empty() {
        "-".into()
    } else {
        pairs.join(" ")
    }
}
