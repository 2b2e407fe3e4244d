//! Checking built components with `agensium validate`, the host's own
//! admission check (world, size, compile), so that xtask does not link the
//! host and stays a light build.

use crate::{cargo, root, run};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `agensium` binary the checks and the bench's stacks run, when one
/// was chosen by [`use_binary`].
static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `path` the `agensium` binary that is run (first call wins).
pub fn use_binary(path: PathBuf) {
    let _ = BINARY.set(path);
}

/// The `agensium` binary the checks run: the one chosen, else the debug
/// build.
pub fn binary() -> PathBuf {
    BINARY
        .get()
        .cloned()
        .unwrap_or_else(|| root().join("target/debug/agensium"))
}

/// Builds the workspace (and with it `target/debug/agensium`) with the
/// same package selection as `cargo test --workspace`, dev dependencies
/// included, so that every dependency is compiled once with one feature
/// set whichever task builds first.
pub fn build_workspace() -> Result<()> {
    run(cargo().args(["build", "--workspace", "--all-targets"]))
}

/// What `agensium validate` said of one component.
pub struct Verdict {
    /// It is a processor this host accepts.
    pub valid: bool,
    /// What it printed: the report, or why not.
    pub text: String,
}

/// Runs `agensium validate` on the component at `path`.
pub fn validate(path: &Path) -> Result<Verdict> {
    let out = Command::new(binary())
        .arg("validate")
        .arg(path)
        .env_remove("AGENSIUM_CONFIG")
        .output()
        .with_context(|| format!("starting {}", binary().display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => Ok(Verdict { valid: true, text }),
        Some(1) => Ok(Verdict { valid: false, text }),
        _ => bail!(
            "{} validate {} failed: {text}",
            binary().display(),
            path.display()
        ),
    }
}

/// Fails unless the component at `path` is a valid processor.
pub fn require_valid(name: &str, path: &Path) -> Result<()> {
    let verdict = validate(path)?;
    if !verdict.valid {
        bail!("{name} is not a valid processor: {}", verdict.text.trim());
    }
    Ok(())
}
