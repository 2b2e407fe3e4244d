//! `cargo xtask`: build plugins, run the system, run the tests, benchmark.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

pub(crate) mod bench;
mod fixtures;
mod http;
mod javascript;
mod new_plugin;
mod plugins;
mod python;
mod s3server;
mod schemathesis;
mod tools;
mod up;
mod validate;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(about = "Agensium development tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build example processors into target/plugins/<name>.wasm.
    BuildPlugin {
        /// Plugin names (directories under plugins/).
        names: Vec<String>,
        /// Build every plugin.
        #[arg(long)]
        all: bool,
    },
    /// Write a new processor under plugins/NAME from a template (with a
    /// test), and add it to the plugins' workspace.
    NewPlugin {
        /// The plugin's name, `[a-z][a-z0-9-]{0,62}`.
        name: String,
        /// The language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: new_plugin::Lang,
    },
    /// Build the plugins, start `agensium serve` on embedded defaults and
    /// register the example processors. Extra arguments go to `serve`.
    Up {
        /// Arguments passed to `agensium serve`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        serve_args: Vec<String>,
    },
    /// Run every test: plugin unit tests, the workspace's tests, and
    /// schemathesis against `/openapi.json` of a live server.
    Test,
    /// Only the schemathesis run of `test` (the binary and `wordcount`
    /// built first).
    FuzzApi,
    /// Measure latency, throughput and peak memory on the embedded and production stacks.
    Bench(bench::Args),
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repo")
        .to_path_buf()
}

/// Runs a command in the repo root, failing when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = shown(cmd);
    eprintln!("$ {shown}");
    let status = cmd
        .current_dir(root())
        .status()
        .with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed: {status}");
    }
    Ok(())
}

/// A command as a shell would read it: the variables it sets, the program
/// and its arguments (not the variables it removes).
fn shown(cmd: &Command) -> String {
    let set = cmd.get_envs().filter_map(|(k, v)| {
        v.map(|v| format!("{}={:?}", k.to_string_lossy(), v.to_string_lossy()))
    });
    let words = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|w| format!("{:?}", w.to_string_lossy()));
    set.chain(words).collect::<Vec<_>>().join(" ")
}

/// A `cargo` command with the environment `cargo run` gave xtask taken
/// out: build scripts that read `CARGO_MANIFEST_DIR` or `CARGO_PKG_*`
/// (ring's) are rerun when those change, and with them everything above
/// them; so a build from here must see what a plain `cargo build` or
/// `cargo clippy` sees, or each undoes the other's artifacts.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if is_set_by_cargo_run(&key) {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// True for the variables `cargo run` sets for the program it runs.
fn is_set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        )
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::BuildPlugin { names, all } => {
            let names = if all { plugins::all()? } else { names };
            if names.is_empty() {
                bail!("name a plugin or pass --all");
            }
            validate::build_workspace()?;
            plugins::build(&names)?;
        }
        Task::NewPlugin { name, lang } => new_plugin::new_plugin(&name, lang)?,
        Task::Up { serve_args } => up::up(&serve_args)?,
        Task::Test => {
            // First, as the multi-process tests spawn the real binary and
            // the plugins are checked with it.
            validate::build_workspace()?;
            plugins::build(&plugins::all()?)?;
            fixtures::build_fixtures()?;
            run(cargo().args([
                "test",
                "--manifest-path",
                "plugins/Cargo.toml",
                "--target-dir",
                "target",
            ]))?;
            let s3 = s3server::start()?;
            // Fault-injection tests append one table row each here.
            let report = std::env::current_dir()?.join("target/fault-scenarios.txt");
            let _ = std::fs::remove_file(&report);
            let tested = run(cargo()
                .args(["test", "--workspace", "--no-fail-fast"])
                .envs(s3.env())
                .env("AGENSIUM_FAULT_REPORT", &report));
            if let Ok(rows) = std::fs::read_to_string(&report) {
                println!("\nFault injection (tests/tests/e2e/faults.rs, multiprocess.rs):");
                print!("{rows}");
            }
            let fuzzed = schemathesis::fuzz();
            tested?;
            fuzzed?;
        }
        Task::FuzzApi => {
            validate::build_workspace()?;
            plugins::build(&["wordcount".to_owned()])?;
            schemathesis::fuzz()?;
        }
        Task::Bench(args) => bench::run(args)?,
    }
    Ok(())
}
