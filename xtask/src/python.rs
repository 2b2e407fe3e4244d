//! Python processors: `plugins/NAME/app.py` (a `WitWorld` class with
//! `process`) and the pinned packages of its `requirements.txt`, built into
//! a component by componentize-py. The tool is pinned and installed on
//! first use into a project-local virtualenv (`target/tools/python`).

use crate::{root, run, tools};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py release used (PyPI).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The virtualenv holding componentize-py, created on first use.
fn venv() -> Result<PathBuf> {
    tools::python_venv("python", "componentize-py", COMPONENTIZE_PY)
}

/// The packages of `requirements`, installed into a directory of their own
/// (again only when the file changes).
fn packages(venv: &Path, name: &str, requirements: &Path) -> Result<PathBuf> {
    let dir = tools::dir().join("python-packages").join(name);
    let text = std::fs::read(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = dir.join(format!(
        ".requirements-{}",
        hex::encode(Sha256::digest(&text))
    ));
    tools::once(&stamp, || {
        let _ = std::fs::remove_dir_all(&dir);
        run(Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&dir)
            .arg("-r")
            .arg(requirements))
    })?;
    Ok(dir)
}

/// True when `dir` holds a Python processor.
pub fn is_plugin(dir: &Path) -> bool {
    dir.join("app.py").exists()
}

/// Builds the Python processor in `dir` and returns the component.
pub fn build(name: &str, dir: &Path) -> Result<Vec<u8>> {
    let venv = venv()?;
    let out = tools::dir().join(format!("{name}.wasm"));
    let mut cmd = Command::new(venv.join("bin/componentize-py"));
    cmd.arg("-d")
        .arg(root().join("wit"))
        .args(["-w", "processor", "componentize", "-p"])
        .arg(dir);
    let requirements = dir.join("requirements.txt");
    if requirements.exists() {
        cmd.arg("-p").arg(packages(&venv, name, &requirements)?);
    }
    run(cmd.arg("app").arg("-o").arg(&out))?;
    std::fs::read(&out).with_context(|| format!("reading {}", out.display()))
}
