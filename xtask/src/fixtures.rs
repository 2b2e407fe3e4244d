//! Building the test fixtures under `tests/fixtures/` for `wasm32-wasip2`.

use crate::plugins::{build_wasm, ensure_target, print_artifact};
use crate::root;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

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
    let runtime = agensium_host::Runtime::new()?;
    std::fs::create_dir_all(root().join("target/fixtures"))?;
    for (name, bytes) in names.iter().zip(built) {
        match (
            name.as_str(),
            runtime.compile(&bytes, agensium_host::Metering::Epoch),
        ) {
            ("hostile", r) => {
                r.context("the hostile fixture is not a valid processor")?;
            }
            (_, Err(agensium_host::ValidateError::WrongWorld(_))) => {}
            (_, r) => bail!(
                "{name} should be a component of the wrong world, got {:?}",
                r.err()
            ),
        }
        std::fs::write(output(name), &bytes)
            .with_context(|| format!("writing {}", output(name).display()))?;
        print_artifact(name, &bytes, &output(name));
    }
    Ok(())
}
