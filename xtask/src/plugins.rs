//! Building the example processors for `wasm32-wasip2`.

use crate::{cargo, root, run};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Names of the plugins under `plugins/` (each a directory with a Cargo.toml).
pub fn all() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("plugins"))? {
        let entry = entry?;
        if entry.path().join("Cargo.toml").exists() {
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

fn ensure_target() -> Result<()> {
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
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--manifest-path",
        "plugins/Cargo.toml",
    ])
    .args(["--target-dir", "target"])
    .env(
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-C target-feature=+simd128",
    );
    for n in names {
        cmd.args(["-p", n]);
    }
    run(&mut cmd)?;
    let runtime = agensium_host::Runtime::new()?;
    std::fs::create_dir_all(root().join("target/plugins"))?;
    for n in names {
        let built = root()
            .join("target")
            .join(TARGET)
            .join("release")
            .join(format!("{}.wasm", n.replace('-', "_")));
        let bytes =
            std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
        runtime
            .compile(&bytes)
            .with_context(|| format!("{n} is not a valid processor"))?;
        std::fs::write(output(n), &bytes)?;
        println!(
            "{:<14} {:>9} bytes  sha256:{}  {}",
            n,
            bytes.len(),
            hex::encode(Sha256::digest(&bytes)),
            output(n)
                .strip_prefix(root())
                .unwrap_or(&output(n))
                .display()
        );
    }
    Ok(())
}
