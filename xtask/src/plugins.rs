//! Building the example processors for `wasm32-wasip2`.

use crate::{cargo, root, run};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every component is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// What a plugin is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A crate of the plugins' workspace building a `cdylib`.
    Rust,
    /// An `app.py` (see [`crate::python`]).
    Python,
    /// An `app.js` (see [`crate::javascript`]).
    JavaScript,
}

/// The language of the plugin in `dir`, if it is one (the SDK beside the
/// plugins is a plain library).
pub fn lang(dir: &Path) -> Option<Lang> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if manifest.contains("\"cdylib\"") {
        Some(Lang::Rust)
    } else if crate::python::is_plugin(dir) {
        Some(Lang::Python)
    } else if crate::javascript::is_plugin(dir) {
        Some(Lang::JavaScript)
    } else {
        None
    }
}

/// Names of the plugins under `plugins/`, sorted.
pub fn all() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("plugins"))? {
        let entry = entry?;
        if lang(&entry.path()).is_some() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Where a built plugin lands.
pub fn output(name: &str) -> PathBuf {
    root().join("target/plugins").join(format!("{name}.wasm"))
}

/// Adds the `wasm32-wasip2` rustup target when it is missing.
pub fn ensure_target() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match out {
        Ok(o)
            if String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET) =>
        {
            Ok(())
        }
        Ok(_) => run(Command::new("rustup").args(["target", "add", TARGET])),
        Err(e) => {
            eprintln!("rustup not found ({e}); assuming {TARGET} is installed");
            Ok(())
        }
    }
}

/// Builds the named plugins in release mode with SIMD, copies each to
/// `target/plugins/<name>.wasm`, checks that it is a processor component and
/// prints its size and digest.
pub fn build(names: &[String]) -> Result<()> {
    ensure_target()?;
    let known = all()?;
    for n in names {
        if !known.contains(n) {
            bail!("no plugin {n:?}; known: {}", known.join(", "));
        }
    }
    let dir = |n: &String| root().join("plugins").join(n);
    let rust: Vec<String> = names
        .iter()
        .filter(|n| lang(&dir(n)) == Some(Lang::Rust))
        .cloned()
        .collect();
    let mut rust_built = if rust.is_empty() {
        Vec::new()
    } else {
        build_wasm("plugins/Cargo.toml", &rust)?
    }
    .into_iter();
    let built: Vec<Vec<u8>> = names
        .iter()
        .map(|n| match lang(&dir(n)) {
            Some(Lang::Python) => crate::python::build(n, &dir(n)),
            Some(Lang::JavaScript) => crate::javascript::build(n, &dir(n)),
            _ => Ok(rust_built.next().expect("one build per Rust plugin")),
        })
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(root().join("target/plugins"))?;
    for (n, bytes) in names.iter().zip(built) {
        install(n, &bytes, &output(n), crate::validate::require_valid)?;
    }
    Ok(())
}

/// Builds `packages` of the cargo workspace at `manifest` (relative to the
/// repository root) for `wasm32-wasip2` in release mode with SIMD, into the
/// shared `target/` directory, and returns each package's `.wasm`, in order.
pub fn build_wasm(manifest: &str, packages: &[String]) -> Result<Vec<Vec<u8>>> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--manifest-path",
        manifest,
    ])
    .args(["--target-dir", "target"])
    .env(
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-C target-feature=+simd128",
    );
    for p in packages {
        cmd.args(["-p", p]);
    }
    run(&mut cmd)?;
    let release = root().join("target").join(TARGET).join("release");
    packages
        .iter()
        .map(|p| {
            // A library's artifact is named after its crate (`-` → `_`), a
            // binary's after the package.
            let lib = release.join(format!("{}.wasm", p.replace('-', "_")));
            let built = if lib.exists() {
                lib
            } else {
                release.join(format!("{p}.wasm"))
            };
            std::fs::read(&built).with_context(|| format!("reading {}", built.display()))
        })
        .collect()
}

/// Writes a built component to `path` once `check` passed on it (as
/// `path.partial`), and prints it.
pub fn install(
    name: &str,
    bytes: &[u8],
    path: &Path,
    check: impl FnOnce(&str, &Path) -> Result<()>,
) -> Result<()> {
    let partial = path.with_extension("wasm.partial");
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    if let Err(e) = check(name, &partial) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, path)?;
    print_artifact(name, bytes, path);
    Ok(())
}

/// Prints a built component: name, size, digest and where it landed.
pub fn print_artifact(name: &str, bytes: &[u8], path: &Path) {
    println!(
        "{:<14} {:>9} bytes  sha256:{}  {}",
        name,
        bytes.len(),
        hex::encode(Sha256::digest(bytes)),
        path.strip_prefix(root()).unwrap_or(path).display()
    );
}
