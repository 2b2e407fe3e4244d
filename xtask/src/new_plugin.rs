//! `cargo xtask new-plugin NAME`: a processor from a template, with a test,
//! that builds and passes as written.

use crate::root;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// The Rust template's files: (path in the new crate, text).
const RUST: [(&str, &str); 2] = [
    (
        "Cargo.toml",
        include_str!("../templates/rust/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/rust/src/lib.rs.tmpl"),
    ),
];

/// The Python template's files: the logic, its native test, the glue.
const PYTHON: [(&str, &str); 4] = [
    ("app.py", include_str!("../templates/python/app.py.tmpl")),
    (
        "lines.py",
        include_str!("../templates/python/lines.py.tmpl"),
    ),
    (
        "test_lines.py",
        include_str!("../templates/python/test_lines.py.tmpl"),
    ),
    (
        "requirements.txt",
        include_str!("../templates/python/requirements.txt.tmpl"),
    ),
];

/// The JavaScript template's files: the processor, its native test with a
/// stand-in host, and the `npm test` wiring.
const JS: [(&str, &str); 6] = [
    ("app.js", include_str!("../templates/js/app.js.tmpl")),
    (
        "package.json",
        include_str!("../templates/js/package.json.tmpl"),
    ),
    (
        "test/app.test.mjs",
        include_str!("../templates/js/test/app.test.mjs.tmpl"),
    ),
    (
        "test/host.mjs",
        include_str!("../templates/js/test/host.mjs.tmpl"),
    ),
    (
        "test/hooks.mjs",
        include_str!("../templates/js/test/hooks.mjs.tmpl"),
    ),
    (
        "test/register.mjs",
        include_str!("../templates/js/test/register.mjs.tmpl"),
    ),
];

/// What a new plugin is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A crate on the SDK (`plugins/sdk`).
    Rust,
    /// An `app.py` built with componentize-py.
    Python,
    /// An `app.js` built with componentize-js.
    Js,
}

/// Writes `plugins/NAME` from the template of `lang` (a Rust one is also
/// added to the plugins' workspace).
pub fn new_plugin(name: &str, lang: Lang) -> Result<()> {
    check_name(name)?;
    let dir = root().join("plugins").join(name);
    if dir.exists() {
        bail!("{} exists", dir.display());
    }
    let test = match lang {
        Lang::Rust => {
            render(&dir, name, "../sdk", &RUST)?;
            add_member(&root().join("plugins/Cargo.toml"), name)?;
            format!("cargo test --manifest-path plugins/Cargo.toml -p {name}")
        }
        Lang::Python => {
            render(&dir, name, "", &PYTHON)?;
            format!("(cd plugins/{name} && python3 -m unittest)")
        }
        Lang::Js => {
            render(&dir, name, "", &JS)?;
            format!("(cd plugins/{name} && npm test)")
        }
    };
    println!(
        "created plugins/{name}: edit it, then\n  {test}\n  \
         cargo xtask build-plugin {name}          # target/plugins/{name}.wasm\n  \
         target/debug/agensium run target/plugins/{name}.wasm --input FILE\n\
         (docs/processors.md says the rest)"
    );
    Ok(())
}

/// A plugin name: what a processor may be called, and a crate name too.
fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok || name == "sdk" {
        bail!("{name:?}: a plugin name is [a-z][a-z0-9-]{{0,62}} (and not \"sdk\")");
    }
    Ok(())
}

/// Writes the template into `dir` for the plugin `name`, depending on the
/// SDK at `sdk` (a path, relative to `dir` or absolute).
pub fn render(dir: &Path, name: &str, sdk: &str, files: &[(&str, &str)]) -> Result<()> {
    for (path, text) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("a file in a directory"))?;
        let text = text.replace("{{name}}", name).replace("{{sdk}}", sdk);
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}

/// Adds `name` to the `members` of the workspace manifest at `manifest`.
fn add_member(manifest: &Path, name: &str) -> Result<()> {
    let text = std::fs::read_to_string(manifest)?;
    let Some(start) = text.find("members = [") else {
        bail!("{}: no `members = [` line", manifest.display());
    };
    let close = start
        + text[start..]
            .find(']')
            .context("an unclosed members list")?;
    let edited = format!("{}, \"{name}\"{}", &text[..close], &text[close..]);
    std::fs::write(manifest, edited)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::require_valid;
    use crate::{cargo, plugins, run};

    #[test]
    fn names_are_checked() {
        assert!(check_name("line-numbers2").is_ok());
        for bad in ["", "Caps", "1st", "sdk", "a_b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn members_grow_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("Cargo.toml");
        std::fs::write(&m, "[workspace]\nmembers = [\"sdk\", \"a\"]\n").unwrap();
        add_member(&m, "b").unwrap();
        let text = std::fs::read_to_string(&m).unwrap();
        assert!(text.contains("members = [\"sdk\", \"a\", \"b\"]"), "{text}");
    }

    /// What `new-plugin` writes passes its own tests and builds into a
    /// component the host accepts.
    #[test]
    fn the_rust_template_passes_its_tests_and_builds_a_processor() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("numbered");
        let sdk = root().join("plugins/sdk");
        render(&dir, "numbered", sdk.to_str().unwrap(), &RUST).unwrap();
        // The plugins' pinned versions, so nothing new is resolved.
        std::fs::copy(root().join("plugins/Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        let manifest = dir.join("Cargo.toml");
        let target = root().join("target/template-check");
        run(cargo()
            .args(["test", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target))
        .unwrap();
        run(cargo()
            .args(["build", "--quiet", "--release", "--target", plugins::TARGET])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target))
        .unwrap();
        let wasm = target.join(plugins::TARGET).join("release/numbered.wasm");
        require_valid("numbered", &wasm).expect("the template builds a processor");
    }

    /// The Python template's logic passes its tests natively, and it builds
    /// into a component the host accepts.
    #[test]
    fn the_python_template_passes_its_tests_and_builds_a_processor() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("numbered-py");
        render(&dir, "numbered-py", "", &PYTHON).unwrap();
        run(std::process::Command::new("python3")
            .args(["-m", "unittest", "discover", "-q", "-s"])
            .arg(&dir))
        .unwrap();
        let bytes = crate::python::build("numbered-py", &dir).unwrap();
        let wasm = tmp.path().join("numbered-py.wasm");
        std::fs::write(&wasm, bytes).unwrap();
        require_valid("numbered-py", &wasm).expect("the template builds a processor");
    }

    /// The JavaScript template passes its tests under node with a stand-in
    /// host, and builds into a component the host accepts.
    #[test]
    fn the_js_template_passes_its_tests_and_builds_a_processor() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("numbered-js");
        render(&dir, "numbered-js", "", &JS).unwrap();
        run(std::process::Command::new("npm")
            .args(["test", "--silent", "--prefix"])
            .arg(&dir))
        .unwrap();
        let bytes = crate::javascript::build("numbered-js", &dir).unwrap();
        let wasm = tmp.path().join("numbered-js.wasm");
        std::fs::write(&wasm, bytes).unwrap();
        require_valid("numbered-js", &wasm).expect("the template builds a processor");
    }
}
