//! Building the test fixtures under `tests/fixtures/` for `wasm32-wasip2`.

use crate::plugins::{build_wasm, ensure_target, install};
use crate::root;
use crate::validate::validate;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The fixture workspace: the `hostile` processor and the `not-a-processor`
/// command.
const MANIFEST: &str = "tests/fixtures/hostile/Cargo.toml";

/// Where a built fixture lands: `target/fixtures/<name>.wasm`.
pub fn output(name: &str) -> PathBuf {
    root().join("target/fixtures").join(format!("{name}.wasm"))
}

/// Builds the fixtures like the plugins (release, SIMD, shared target dir)
/// into `target/fixtures/`, checking that `hostile` is a processor and that
/// `not-a-processor` is a component refused for its world, and prints their
/// sizes and digests.
pub fn build_fixtures() -> Result<()> {
    ensure_target()?;
    let names = ["hostile".to_owned(), "not-a-processor".to_owned()];
    let built = build_wasm(MANIFEST, &names)?;
    std::fs::create_dir_all(root().join("target/fixtures"))?;
    for (name, bytes) in names.iter().zip(built) {
        let check = |name: &str, path: &Path| match (name, validate(path)?) {
            ("hostile", v) if v.valid => Ok(()),
            ("hostile", v) => bail!("the hostile fixture is not a valid processor: {}", v.text),
            (_, v) if !v.valid && v.text.contains("does not implement the agensium:processor") => {
                Ok(())
            }
            (_, v) => bail!(
                "{name} should be a component of the wrong world: {}",
                v.text
            ),
        };
        install(name, &bytes, &output(name), check)?;
    }
    Ok(())
}
