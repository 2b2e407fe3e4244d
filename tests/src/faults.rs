//! Fault injection: a TCP proxy that can cut a backend off, private Redis and
//! S3 servers that can be flushed or restarted, and the per-scenario report.

use crate::procs::free_port;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A loopback TCP proxy to `target`. [`TcpProxy::cut`] drops every open
/// connection and refuses new ones (accepted, then closed at once) until
/// [`TcpProxy::restore`]: what a process sees when a backend's network goes.
pub struct TcpProxy {
    /// `127.0.0.1:PORT` to connect to instead of the target.
    pub addr: String,
    cut: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts proxying to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let (target, is_cut, gen_tx) = (target.to_owned(), cut.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if is_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (target, mut cut_rx) = (target.clone(), gen_tx.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut c, mut s) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut c, &mut s) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            cut,
            generation,
            task,
        }
    }

    /// Cuts the backend off: open connections drop, new ones are refused.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A private `redis-server` (nothing on disk) that a test may `FLUSHALL`
/// without touching other tests' data.
pub struct OwnRedis {
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
}

impl OwnRedis {
    /// Starts one on a free port (`redis-server` from PATH).
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("starting redis-server (is it installed?)");
        let url = format!("redis://127.0.0.1:{port}");
        wait_port(port).await;
        Self { url, child }
    }

    /// `FLUSHALL`: every key of this server is gone.
    pub async fn flushall(&self) {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private S3 server (the one `cargo xtask test` installed and names in
/// `AGENSIUM_TEST_S3_SERVER`)
/// that a test may stop and start again on the same port and data.
pub struct OwnS3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    data: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnS3 {
    /// Starts one with a bucket named `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir(data.path().join(bucket)).unwrap();
        let port = free_port();
        let mut s = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            data,
            child: None,
        };
        s.resume().await;
        s
    }

    /// Kills the server: requests fail until [`OwnS3::resume`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub async fn resume(&mut self) {
        let bin = PathBuf::from(env("AGENSIUM_TEST_S3_SERVER"));
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &env("AWS_ACCESS_KEY_ID")])
            .args(["--secret-key", &env("AWS_SECRET_ACCESS_KEY")])
            .arg(self.data.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        self.child = Some(child);
        wait_port(self.port).await;
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        self.stop();
    }
}

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set (run `cargo xtask test`)"))
}

async fn wait_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing listens on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One row of the fault-injection table.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// What was done.
    pub name: &'static str,
    /// Jobs answered 202.
    pub accepted: usize,
    /// Jobs that ended `succeeded` with the right output.
    pub succeeded: usize,
    /// Jobs that ended `failed` or `cancelled`.
    pub failed: usize,
    /// Jobs with more than one result object.
    pub duplicates: usize,
    /// Submissions refused with 503 during the fault.
    pub refused: usize,
    /// From the end of the fault until every accepted job was final.
    pub recovery: Duration,
}

impl Scenario {
    /// Appends the row to the report file (`AGENSIUM_FAULT_REPORT`, which
    /// `cargo xtask test` sets and prints at the end), headed by
    /// [`Scenario::header`] when it is the first, and prints it to stderr.
    pub fn record(&self) {
        let line = format!(
            "{:<44} {:>8} {:>9} {:>6} {:>10} {:>7} {:>9.1}",
            self.name,
            self.accepted,
            self.succeeded,
            self.failed,
            self.duplicates,
            self.refused,
            self.recovery.as_secs_f64()
        );
        eprintln!("{}\n{line}", Self::header());
        if let Ok(path) = std::env::var("AGENSIUM_FAULT_REPORT") {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            // Tests in one binary run in parallel: one header, whole rows.
            f.lock().unwrap();
            if f.metadata().unwrap().len() == 0 {
                writeln!(f, "{}", Self::header()).unwrap();
            }
            writeln!(f, "{line}").unwrap();
            f.unlock().unwrap();
        }
    }

    /// The table's header line.
    pub fn header() -> String {
        format!(
            "{:<44} {:>8} {:>9} {:>6} {:>10} {:>7} {:>9}",
            "scenario", "accepted", "succeeded", "failed", "duplicates", "503s", "recover s"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server() -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// `Some(reply)` when a round trip works, `None` when the connection drops.
    async fn round_trip(s: &mut TcpStream) -> Option<Vec<u8>> {
        s.write_all(b"ping").await.ok()?;
        let mut buf = [0u8; 4];
        match tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await {
            Ok(Ok(_)) => Some(buf.to_vec()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn the_proxy_cuts_open_and_new_connections_until_restored() {
        let proxy = TcpProxy::start(&echo_server().await).await;
        let mut open = TcpStream::connect(&proxy.addr).await.unwrap();
        assert_eq!(round_trip(&mut open).await.unwrap(), b"ping");
        proxy.cut();
        assert_eq!(round_trip(&mut open).await, None, "open connections drop");
        let mut new = TcpStream::connect(&proxy.addr).await.unwrap();
        assert_eq!(round_trip(&mut new).await, None, "new ones are refused");
        proxy.restore();
        let mut again = TcpStream::connect(&proxy.addr).await.unwrap();
        assert_eq!(round_trip(&mut again).await.unwrap(), b"ping");
    }
}
