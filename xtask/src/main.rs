//! `cargo xtask`: build plugins, run the system, run the tests, benchmark.

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use xtask::{
    cargo, fixtures, new_plugin, plugins, root, run, s3server, schemathesis, up, validate,
};

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
    /// Measure latency, throughput and peak memory on the embedded and
    /// production stacks: runs the harness, `bench/` (agensium-bench), with
    /// the arguments as given (its options: `cargo xtask bench --help`).
    #[command(disable_help_flag = true)]
    Bench {
        /// Arguments passed to agensium-bench.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `cargo xtask bench ARGS`. The harness is built by the command that
/// `cargo xtask test` and CI build the workspace with (dev profile, every
/// target), so that none of its dependencies is compiled a second time; it
/// builds the `agensium` binary it measures itself (release unless told
/// otherwise). xtask then becomes the harness: its options, its Ctrl-C
/// handling and its exit status are the harness's own.
fn bench(args: &[String]) -> Result<()> {
    validate::build_workspace()?;
    let mut cmd = xtask::command(root().join("target/debug/agensium-bench"));
    cmd.args(args);
    eprintln!("$ {}", xtask::shown(&cmd));
    #[cfg(unix)]
    {
        use anyhow::Context as _;
        use std::os::unix::process::CommandExt as _;
        let err = cmd.exec();
        Err(err).with_context(|| format!("starting {}", cmd.get_program().display()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
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
        Task::Bench { args } => bench(&args)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask bench ARGS` hands ARGS to the harness untouched, its
    /// `--help` included.
    #[test]
    fn bench_passes_its_arguments_verbatim() {
        for args in [
            vec![],
            vec!["--help"],
            vec![
                "--stack",
                "production",
                "--profile",
                "debug",
                "--rates=100,200",
            ],
            vec![
                "--binary",
                "/tmp/old agensium",
                "--csv-mib",
                "0",
                "--",
                "-x",
            ],
        ] {
            let cli = Cli::try_parse_from(["xtask", "bench"].into_iter().chain(args.clone()))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let Task::Bench { args: passed } = cli.command else {
                panic!("{args:?}: not the bench task");
            };
            assert_eq!(passed, args, "{args:?}");
        }
    }
}
