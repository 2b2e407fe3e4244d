//! An S3 server for tests and benchmarks: `tools/s3-test-server` (s3s-fs's
//! storage behind a listener that sets `TCP_NODELAY` and counts requests)
//! on 127.0.0.1, storing into a fresh temporary directory, stopped when the
//! [`S3Server`] is dropped.

use crate::{cargo, run};
use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's crate, outside the workspace (its dependencies are not
/// built with ours).
const CRATE_DIR: &str = "tools/s3-test-server";
/// The binary `cargo install` makes of it.
const BIN: &str = "agensium-s3-test-server";
/// Where the server answers its request counts.
const COUNTS_PATH: &str = "/_agensium/requests";
/// Access key the server accepts.
pub const ACCESS_KEY: &str = "agensium-test";
/// Secret key the server accepts.
pub const SECRET_KEY: &str = "agensium-test-secret";
/// How long the server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(10);

/// A running S3 test server; killed (and its data removed) on drop.
pub struct S3Server {
    /// Its endpoint URL, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The server's binary.
    pub binary: PathBuf,
    child: Child,
    _data: tempfile::TempDir,
}

impl S3Server {
    /// The environment for a process that uses this server: the endpoint as
    /// `AGENSIUM_TEST_S3_ENDPOINT`, the server's binary as
    /// `AGENSIUM_TEST_S3_SERVER` (tests start private ones), the AWS
    /// credentials and region.
    pub fn env(&self) -> [(&'static str, String); 5] {
        [
            ("AGENSIUM_TEST_S3_ENDPOINT", self.endpoint.clone()),
            ("AGENSIUM_TEST_S3_SERVER", self.binary.display().to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl S3Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Requests the server answered so far, by method (`GET`, `PUT`, …).
    pub fn requests(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let url = format!("{}{COUNTS_PATH}", self.endpoint);
        let resp = crate::http::get(&url)?;
        if !resp.is_success() {
            bail!("reading {url}: {} {}", resp.status_text(), resp.text());
        }
        serde_json::from_slice(&resp.body).with_context(|| format!("decoding {url}"))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the S3 test server (installing it first if needed) on a free local port and
/// waits until it accepts connections.
pub fn start() -> Result<S3Server> {
    start_in(&std::env::temp_dir())
}

/// [`start`], storing under `parent` (the bench: RAM, so that the store's
/// speed is its CPU's rather than this machine's disk writeback).
pub fn start_in(parent: &std::path::Path) -> Result<S3Server> {
    let bin = binary()?;
    let port = free_port()?;
    let data = tempfile::Builder::new()
        .prefix("agensium-s3-")
        .tempdir_in(parent)
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
        binary: bin.clone(),
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
    eprintln!("S3 test server at {}", server.endpoint);
    Ok(server)
}

/// The server from cargo's bin directory, (re)installed there when it is
/// missing or was built from other sources than the tree's (a stamp beside
/// it holds the hash of the sources it was built from).
fn binary() -> Result<PathBuf> {
    let bin = cargo_bin()?;
    let stamp = bin.with_extension("sources");
    let want = sources_hash()?;
    if bin.exists() && std::fs::read_to_string(&stamp).is_ok_and(|h| h == want) {
        return Ok(bin);
    }
    eprintln!("installing {BIN} from {CRATE_DIR} (takes a few minutes, once)");
    run(cargo()
        .args(["install", "--locked", "--force", "--path", CRATE_DIR])
        .args(["--target-dir", "target/s3-test-server"]))?;
    if !bin.exists() {
        bail!("cargo install did not produce {}", bin.display());
    }
    std::fs::write(&stamp, want).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(bin)
}

/// SHA-256 over the server crate's manifest, lockfile and sources.
fn sources_hash() -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
        let path = crate::root().join(CRATE_DIR).join(f);
        h.update(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(hex::encode(h.finalize()))
}

/// Where `cargo install` puts the server.
fn cargo_bin() -> Result<PathBuf> {
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".cargo"),
    };
    Ok(cargo_home.join("bin").join(BIN))
}

/// A port nobody listens on right now (the OS picks it; there is a small
/// window in which another process could take it before the server binds).
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
            assert!(
                std::env::var_os("CI").is_none(),
                "the S3 test server is not installed (cargo xtask test installs it)"
            );
            eprintln!("SKIPPED: the S3 test server is not installed");
            return;
        }
        let server = start().unwrap();
        // An anonymous request: the server wants signed ones.
        let resp = crate::http::get(&format!("{}/", server.endpoint)).unwrap();
        assert_eq!(resp.status, 403);
        let counts = server.requests().unwrap();
        assert_eq!(counts.get("GET"), Some(&1), "{counts:?}");
        let port: u16 = server.endpoint.rsplit(':').next().unwrap().parse().unwrap();
        drop(server);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    }
}
