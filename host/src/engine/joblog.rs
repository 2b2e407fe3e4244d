//! A job's bounded log: processor stdout/stderr and `host.log` lines.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

const TRUNCATED: &[u8] = b"\n[agensium: log truncated]\n";

#[derive(Debug, Default)]
struct Inner {
    buf: Vec<u8>,
    truncated: bool,
    dropped: u64,
}

/// A log with a byte limit. A write past the limit keeps what fits and
/// drops (and counts) the rest; the log never blocks a writer. The sandbox
/// then stops the processor, and the job fails with `log_limit`: at once
/// for `host.log`, at the next epoch tick for stdout/stderr (guests often
/// ignore write errors there). Cloning shares the same log.
#[derive(Debug, Clone)]
pub struct JobLog {
    inner: Arc<Mutex<Inner>>,
    limit: usize,
}

impl JobLog {
    /// An empty log holding at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::default(),
            limit,
        }
    }

    /// Appends bytes, dropping what does not fit. Returns false when bytes
    /// were dropped (the log is full).
    pub fn append(&self, bytes: &[u8]) -> bool {
        let mut g = self.inner.lock().expect("log lock");
        let room = self.limit.saturating_sub(g.buf.len());
        let take = room.min(bytes.len());
        g.buf.extend_from_slice(&bytes[..take]);
        if take < bytes.len() {
            g.truncated = true;
            g.dropped += (bytes.len() - take) as u64;
            return false;
        }
        true
    }

    /// Appends one line, e.g. `[agensium] job started`. False when full.
    pub fn line(&self, prefix: &str, msg: &str) -> bool {
        self.append(format!("[{prefix}] {msg}\n").as_bytes())
    }

    /// True once bytes were dropped because the log was full.
    pub fn overflowed(&self) -> bool {
        self.inner.lock().expect("log lock").truncated
    }

    /// The log's contents, with a truncation marker when bytes were dropped.
    pub fn contents(&self) -> Vec<u8> {
        let g = self.inner.lock().expect("log lock");
        let mut out = g.buf.clone();
        if g.truncated {
            out.extend_from_slice(TRUNCATED);
            out.extend_from_slice(format!("[agensium: {} bytes dropped]\n", g.dropped).as_bytes());
        }
        out
    }

    /// Bytes dropped because the log was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().expect("log lock").dropped
    }
}

impl AsyncWrite for JobLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl wasmtime_wasi::cli::IsTerminal for JobLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for JobLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_marked() {
        let log = JobLog::new(10);
        assert!(log.append(b"12345"));
        assert!(!log.overflowed());
        assert!(!log.append(b"6789abcdef"));
        assert!(log.overflowed());
        assert_eq!(log.dropped(), 5);
        let c = log.contents();
        assert!(c.starts_with(b"123456789a"));
        assert!(String::from_utf8_lossy(&c).contains("5 bytes dropped"));
        let small = JobLog::new(100);
        assert!(small.line("info", "hi"));
        assert_eq!(small.contents(), b"[info] hi\n");
    }
}
