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
