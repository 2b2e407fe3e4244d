//! The project-local tool directory (`target/tools`): pinned tools that
//! build processors, each installed once and marked by a stamp file.

use crate::root;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Where xtask installs tools and leaves their outputs.
pub fn dir() -> PathBuf {
    root().join("target/tools")
}

/// Runs `install` unless `stamp` exists, then writes `stamp`: a failed
/// install leaves no stamp and is tried again next time.
pub fn once(stamp: &Path, install: impl FnOnce() -> Result<()>) -> Result<()> {
    if stamp.exists() {
        return Ok(());
    }
    install()?;
    std::fs::write(stamp, "")?;
    Ok(())
}

/// A virtualenv `dir()/NAME` holding the PyPI package `package==version`,
/// created on first use (again when the version changes).
pub fn python_venv(name: &str, package: &str, version: &str) -> Result<PathBuf> {
    let venv = dir().join(name);
    let stamp = venv.join(format!(".{package}-{version}"));
    once(&stamp, || {
        eprintln!(
            "installing {package} {version} into {} (once)",
            venv.display()
        );
        crate::run(
            std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv),
        )?;
        crate::run(std::process::Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("{package}=={version}"),
        ]))
    })?;
    Ok(venv)
}
