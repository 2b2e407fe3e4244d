//! The tasks behind `cargo xtask` (src/main.rs) as a library, so that the
//! benchmark harness (`bench/`, agensium-bench) builds the processors and
//! the binary it measures and starts the S3 test server the same way. Only
//! light dependencies: neither xtask nor anything it links compiles the
//! workspace's crates.

pub mod fixtures;
pub mod http;
pub mod javascript;
pub mod new_plugin;
pub mod plugins;
pub mod python;
pub mod s3server;
pub mod schemathesis;
pub mod tools;
pub mod up;
pub mod validate;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

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
pub fn shown(cmd: &Command) -> String {
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
pub fn cargo() -> Command {
    command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// A command for `program` without the variables `cargo run` set for xtask
/// (see [`cargo`]).
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
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
