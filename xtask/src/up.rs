//! `cargo xtask up`: the whole system on embedded defaults, plugins installed.

use crate::{cargo, plugins, root, run};
use anyhow::{Context, Result, bail};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn up(serve_args: &[String]) -> Result<()> {
    let names = plugins::all()?;
    plugins::build(&names)?;
    run(cargo().args(["build", "--package", "agensium", "--bin", "agensium"]))?;
    let bin = root().join("target/debug/agensium");
    let listen = listen_addr(serve_args);
    let mut child = Command::new(&bin)
        .arg("serve")
        .args(serve_args)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let base = format!("http://{listen}");
    let rt = tokio::runtime::Runtime::new()?;
    let registered = rt.block_on(register(&base, &names));
    if let Err(e) = registered {
        let _ = child.kill();
        return Err(e);
    }
    println!("\nAgensium is up at {base} with: {}", names.join(", "));
    println!(
        "Try:\n  curl -s -X POST --data-binary @README.md {base}/v1/processors/wordcount/jobs"
    );
    println!("Press Ctrl-C to stop.");
    let status = child.wait()?;
    if !status.success() {
        bail!("agensium serve exited with {status}");
    }
    Ok(())
}

fn listen_addr(args: &[String]) -> String {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--listen" {
            if let Some(v) = it.next() {
                return v.clone();
            }
        } else if let Some(v) = a.strip_prefix("--listen=") {
            return v.to_owned();
        }
    }
    std::env::var("AGENSIUM_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into())
}

async fn register(base: &str, names: &[String]) -> Result<()> {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        match http.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if start.elapsed() > Duration::from_secs(60) => {
                bail!("agensium did not answer on {base}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    for n in names {
        let bytes = std::fs::read(plugins::output(n))?;
        let url = format!("{base}/v1/processors/{n}/versions/1.0.0");
        let resp = http.put(&url).body(bytes).send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        match status.as_u16() {
            200 | 201 => println!("registered {n} 1.0.0: {body}"),
            409 => println!("{n} 1.0.0 already registered with other bytes; keeping it ({body})"),
            _ => bail!("registering {n}: {status} {body}"),
        }
    }
    Ok(())
}
