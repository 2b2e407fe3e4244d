//! `cargo xtask up`: the whole system on embedded defaults, plugins installed.

use crate::{http, plugins, root};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Builds the workspace and the example processors, runs `agensium serve`
/// with `serve_args`, registers the processors and waits for the server.
pub fn up(serve_args: &[String]) -> Result<()> {
    let names = plugins::all()?;
    // The binary first (the plugins are checked with it), built like the
    // tests build it, so that `cargo xtask test` after `up` compiles
    // nothing twice.
    crate::validate::build_workspace()?;
    plugins::build(&names)?;
    let bin = root().join("target/debug/agensium");
    let listen = listen_addr(serve_args);
    let mut child = Command::new(&bin)
        .arg("serve")
        .args(serve_args)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let base = format!("http://{listen}");
    let key_file = data_dir(serve_args).join("admin.key");
    if let Err(e) = register(&base, &key_file, &names) {
        let _ = child.kill();
        return Err(e);
    }
    let key_path = key_file.canonicalize().unwrap_or(key_file);
    println!("\nAgensium is up at {base} with: {}", names.join(", "));
    println!(
        "Your operator key is in {0}. In another shell:\n  export AGENSIUM_URL={base} AGENSIUM_KEY=$(cat {0})\n  \
         target/debug/agensium job submit wordcount README.md --wait --output -",
        key_path.display()
    );
    println!("Press Ctrl-C to stop.");
    let status = child.wait()?;
    if !status.success() {
        bail!("agensium serve exited with {status}");
    }
    Ok(())
}

/// The value of `--flag V` / `--flag=V` in `serve`'s arguments, else of
/// the environment variable `env`.
fn serve_setting(args: &[String], flag: &str, env: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            if let Some(v) = it.next() {
                return Some(v.clone());
            }
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_owned());
        }
    }
    std::env::var(env).ok()
}

fn listen_addr(args: &[String]) -> String {
    serve_setting(args, "--listen", "AGENSIUM_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into())
}

fn data_dir(args: &[String]) -> PathBuf {
    serve_setting(args, "--data-dir", "AGENSIUM_DATA_DIR")
        .map_or_else(|| PathBuf::from("./agensium-data"), PathBuf::from)
}

/// Waits until the server at `base` answers `/healthz`, then registers
/// each of `names` as version 1.0.0 with the operator key in `key_file`.
pub(crate) fn register(base: &str, key_file: &Path, names: &[String]) -> Result<()> {
    let start = Instant::now();
    loop {
        match http::get(&format!("{base}/healthz")) {
            Ok(r) if r.is_success() => break,
            _ if start.elapsed() > Duration::from_secs(60) => {
                bail!("agensium did not answer on {base}")
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let key = std::fs::read_to_string(key_file).with_context(|| {
        format!(
            "reading the operator key `serve` writes to {}",
            key_file.display()
        )
    })?;
    let authorization = format!("Bearer {}", key.trim());
    for n in names {
        let bytes = std::fs::read(plugins::output(n))?;
        let url = format!("{base}/v1/processors/{n}/versions/1.0.0");
        let resp = http::request("PUT", &url, &[("Authorization", &authorization)], &bytes)?;
        let body = resp.text();
        match resp.status {
            200 | 201 => println!("registered {n} 1.0.0: {body}"),
            409 => println!("{n} 1.0.0 already registered with other bytes; keeping it ({body})"),
            _ => bail!("registering {n}: {} {body}", resp.status_text()),
        }
    }
    Ok(())
}
