//! Schema fuzzing: `schemathesis` (PyPI, pinned, installed on first use into
//! `target/tools/schemathesis`) generates requests from `/openapi.json`
//! against a live `agensium serve` (with the example `wordcount`
//! registered) and fails on any 5xx or any response that breaks its schema.

use crate::{root, tools, up};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The schemathesis release used.
const SCHEMATHESIS: &str = "4.32.5";
/// Examples generated per operation.
const EXAMPLES: &str = "30";

fn venv() -> Result<PathBuf> {
    tools::python_venv("schemathesis", "schemathesis", SCHEMATHESIS)
}

/// A child process killed on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs schemathesis against a fresh server; prints how many cases ran.
pub fn fuzz() -> Result<()> {
    let venv = venv()?;
    let data = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Child(
        Command::new(root().join("target/debug/agensium"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--slots",
                "1",
            ])
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting agensium serve")?,
    );
    let key_file = data.path().join("admin.key");
    up::register(&base, &key_file, &["wordcount".into()])?;
    let key = std::fs::read_to_string(&key_file)?;
    let report = root().join("target/schemathesis");
    let out = Command::new(venv.join("bin/schemathesis"))
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", EXAMPLES, "--seed", "1", "--workers", "1"])
        .args(["--header", &format!("Authorization: Bearer {}", key.trim())])
        .arg("--report-dir")
        .arg(&report)
        .env("NO_COLOR", "1")
        // Its cache (.schemathesis/) under target/, not in the checkout.
        .current_dir(root().join("target"))
        .output()
        .context("running schemathesis")?;
    drop(server);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    // "Test cases:" and, on the next line, "N generated, N passed".
    let cases = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Test cases"))
        .nth(1)
        .unwrap_or("(no count printed)");
    println!("schemathesis against /openapi.json: {}", cases.trim());
    if !out.status.success() {
        bail!("schemathesis found server errors or responses that break the schema (above)");
    }
    Ok(())
}
