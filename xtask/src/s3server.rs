//! An S3 server for tests and benchmarks: `s3s-fs` on 127.0.0.1, storing
//! into a fresh temporary directory, stopped when the [`S3Server`] is dropped.

use crate::{cargo, run};
use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The s3s-fs release we install (later ones need a newer rustc).
const VERSION: &str = "0.14.1";
/// Access key the server accepts.
pub const ACCESS_KEY: &str = "agensium-test";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "agensium-test-secret";
/// How long the server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(10);

/// A running s3s-fs; killed (and its data removed) on drop.
pub struct S3Server {
    /// Its endpoint URL, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Child,
    _data: tempfile::TempDir,
}

impl S3Server {
    /// The environment for a process that uses this server: the endpoint as
    /// `AGENSIUM_TEST_S3_ENDPOINT`, the AWS credentials and region.
    pub fn env(&self) -> [(&'static str, String); 4] {
        [
            ("AGENSIUM_TEST_S3_ENDPOINT", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts s3s-fs (installing it first if needed) on a free local port and
/// waits until it accepts connections.
pub fn start() -> Result<S3Server> {
    let bin = binary()?;
    let port = free_port()?;
    let data = tempfile::Builder::new()
        .prefix("agensium-s3-")
        .tempdir()
        .context("creating the S3 server's data directory")?;
    let mut cmd = Command::new(&bin);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    eprintln!("$ {cmd:?}");
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
        _data: data,
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "{} exited at startup ({status}); see its output above",
                bin.display()
            );
        }
        if started.elapsed() > STARTUP {
            bail!(
                "{} did not accept connections on {addr} within {}s",
                bin.display(),
                STARTUP.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("S3 server (s3s-fs) at {}", server.endpoint);
    Ok(server)
}

/// `s3s-fs` from cargo's bin directory, installed there when missing.
fn binary() -> Result<PathBuf> {
    let bin = cargo_bin()?;
    if !bin.exists() {
        eprintln!("s3s-fs is not installed; installing {VERSION} (takes a few minutes)");
        run(cargo()
            .args(["install", "s3s-fs", "--version", VERSION])
            .args(["--features", "binary", "--locked"]))?;
        if !bin.exists() {
            bail!("cargo install s3s-fs did not produce {}", bin.display());
        }
    }
    Ok(bin)
}

/// Where `cargo install` puts s3s-fs.
fn cargo_bin() -> Result<PathBuf> {
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".cargo"),
    };
    Ok(cargo_home.join("bin").join("s3s-fs"))
}

/// A port nobody listens on right now (the OS picks it; there is a small
/// window in which another process could take it before s3s-fs binds).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs only when s3s-fs is already installed (installing takes minutes).
    #[test]
    fn starts_answers_s3_and_stops_on_drop() {
        if !cargo_bin().is_ok_and(|b| b.exists()) {
            eprintln!("SKIPPED: s3s-fs is not installed");
            return;
        }
        let server = start().unwrap();
        // An anonymous request: the server wants signed ones.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let resp = rt
            .block_on(reqwest::get(format!("{}/", server.endpoint)))
            .unwrap();
        assert_eq!(resp.status().as_u16(), 403);
        let port: u16 = server.endpoint.rsplit(':').next().unwrap().parse().unwrap();
        drop(server);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    }
}
