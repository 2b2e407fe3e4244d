//! JavaScript processors: `plugins/NAME/app.js` (an ES module exporting
//! `process`), built into a component by componentize-js with its HTTP
//! features left out (the sandbox has no network). The tool is pinned and
//! installed on first use into a project-local directory
//! (`target/tools/js`).

use crate::{root, run, tools};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-js release used (npm).
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The directory holding componentize-js, filled on first use.
fn tool() -> Result<PathBuf> {
    let dir = tools::dir().join("js");
    let stamp = dir.join(format!(".componentize-js-{COMPONENTIZE_JS}"));
    tools::once(&stamp, || {
        eprintln!(
            "installing componentize-js {COMPONENTIZE_JS} into {} (once)",
            dir.display()
        );
        std::fs::create_dir_all(&dir)?;
        run(Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(format!(
                "@bytecodealliance/componentize-js@{COMPONENTIZE_JS}"
            )))
    })?;
    Ok(dir.join("node_modules/.bin/componentize-js"))
}

/// True when `dir` holds a JavaScript processor.
pub fn is_plugin(dir: &Path) -> bool {
    dir.join("app.js").exists()
}

/// Builds the JavaScript processor in `dir` and returns the component.
pub fn build(name: &str, dir: &Path) -> Result<Vec<u8>> {
    let out = tools::dir().join(format!("{name}.wasm"));
    run(Command::new(tool()?)
        .arg(dir.join("app.js"))
        .arg("--wit")
        .arg(root().join("wit"))
        .args([
            "--world-name",
            "processor",
            "--disable",
            "http",
            "fetch-event",
            "--out",
        ])
        .arg(&out))?;
    std::fs::read(&out).with_context(|| format!("reading {}", out.display()))
}
