//! A job's bounded log: the host's lines, the processor's `host.log` lines
//! and its stdout/stderr, each line marked with where it came from.
//!
//! Every line starts with its source in brackets: `[agensium]` for the
//! host, `[debug]`…`[error]` for `host.log`, `[stdout]`/`[stderr]` for the
//! processor's streams. Guest text never starts a line itself: its newlines
//! end its own line (streams) or are escaped (`host.log`), and its control
//! characters are escaped, so a processor cannot forge an `[agensium]` line
//! or rewrite a terminal that shows the log.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

const TRUNCATED: &[u8] = b"\n[agensium: log truncated]\n";

/// A processor stream that lands in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// WASI stdout.
    Stdout,
    /// WASI stderr.
    Stderr,
}

impl Stream {
    fn prefix(self) -> &'static [u8] {
        match self {
            Self::Stdout => b"[stdout] ",
            Self::Stderr => b"[stderr] ",
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    buf: Vec<u8>,
    truncated: bool,
    dropped: u64,
    /// The stream whose line is open (written without its newline yet).
    open: Option<Stream>,
}

impl Inner {
    /// Appends what fits; false when bytes were dropped.
    fn push(&mut self, limit: usize, bytes: &[u8]) -> bool {
        let room = limit.saturating_sub(self.buf.len());
        let take = room.min(bytes.len());
        self.buf.extend_from_slice(&bytes[..take]);
        if take < bytes.len() {
            self.truncated = true;
            self.dropped += (bytes.len() - take) as u64;
            return false;
        }
        true
    }

    /// Ends a stream's open line, so the next line starts fresh.
    fn close_line(&mut self, limit: usize) -> bool {
        match self.open.take() {
            Some(_) => self.push(limit, b"\n"),
            None => true,
        }
    }
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends one line of the host's own, e.g. `[agensium] job started`.
    /// `prefix` and `msg` are trusted text. False when the log is full.
    pub fn line(&self, prefix: &str, msg: &str) -> bool {
        let mut g = self.lock();
        g.close_line(self.limit) && g.push(self.limit, format!("[{prefix}] {msg}\n").as_bytes())
    }

    /// Appends one `host.log` line of the processor at `level`, its
    /// newlines and control characters escaped. False when the log is full.
    pub fn guest_line(&self, level: &str, msg: &str) -> bool {
        let mut line = Vec::with_capacity(level.len() + msg.len() + 4);
        line.push(b'[');
        line.extend_from_slice(level.as_bytes());
        line.extend_from_slice(b"] ");
        for &b in msg.as_bytes() {
            escape(b, &mut line);
        }
        line.push(b'\n');
        let mut g = self.lock();
        g.close_line(self.limit) && g.push(self.limit, &line)
    }

    /// Appends bytes the processor wrote to `stream`: each of its lines is
    /// prefixed with the stream's name, control characters escaped.
    pub fn stream_bytes(&self, stream: Stream, bytes: &[u8]) -> bool {
        let mut out = Vec::with_capacity(bytes.len() + 16);
        let mut g = self.lock();
        let mut open = g.open;
        if open.is_some_and(|s| s != stream) {
            out.push(b'\n');
            open = None;
        }
        for &b in bytes {
            if open.is_none() {
                out.extend_from_slice(stream.prefix());
                open = Some(stream);
            }
            if b == b'\n' {
                out.push(b'\n');
                open = None;
            } else {
                escape(b, &mut out);
            }
        }
        g.open = open;
        g.push(self.limit, &out)
    }

    /// A writer for the processor's `stream` (WASI stdout/stderr).
    pub fn stream(&self, stream: Stream) -> GuestStream {
        GuestStream {
            log: self.clone(),
            stream,
        }
    }

    /// True once bytes were dropped because the log was full.
    pub fn overflowed(&self) -> bool {
        self.lock().truncated
    }

    /// The log's contents, with a truncation marker when bytes were dropped.
    pub fn contents(&self) -> Vec<u8> {
        let g = self.lock();
        let mut out = g.buf.clone();
        if g.open.is_some() {
            out.push(b'\n');
        }
        if g.truncated {
            out.extend_from_slice(TRUNCATED);
            out.extend_from_slice(format!("[agensium: {} bytes dropped]\n", g.dropped).as_bytes());
        }
        out
    }

    /// Bytes dropped because the log was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

/// Tabs and printable bytes as they are (UTF-8 included); other control
/// characters as `\xNN`, so no guest byte moves the cursor or ends a line.
fn escape(b: u8, out: &mut Vec<u8>) {
    if b == b'\t' || (b >= 0x20 && b != 0x7f) {
        out.push(b);
    } else {
        out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
    }
}

/// One of the processor's streams, writing into its job's log.
#[derive(Debug, Clone)]
pub struct GuestStream {
    log: JobLog,
    stream: Stream,
}

impl AsyncWrite for GuestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.log.stream_bytes(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl wasmtime_wasi::cli::IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for GuestStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(log: &JobLog) -> String {
        String::from_utf8(log.contents()).unwrap()
    }

    #[test]
    fn bounded_and_marked() {
        let log = JobLog::new(10);
        assert!(log.line("a", "1"));
        assert!(!log.overflowed());
        assert!(!log.line("b", "6789abcdef"));
        assert!(log.overflowed());
        let c = text(&log);
        assert!(c.starts_with("[a] 1\n[b] "), "{c}");
        assert!(c.contains("bytes dropped"), "{c}");
        let small = JobLog::new(100);
        assert!(small.line("info", "hi"));
        assert_eq!(small.contents(), b"[info] hi\n");
    }

    /// Before: a processor's stdout or `host.log` text went into the log
    /// verbatim, so `\n[agensium] job succeeded` read like a host line.
    #[test]
    fn guest_text_cannot_start_a_host_line() {
        let log = JobLog::new(1 << 10);
        log.guest_line("info", "ok\n[agensium] job succeeded\x1b[2J");
        log.stream_bytes(Stream::Stdout, b"partial");
        log.line("agensium", "processor loaded");
        log.stream_bytes(Stream::Stdout, b" rest\n[agensium] forged\r\n");
        log.stream_bytes(Stream::Stderr, b"e1\ne2");
        log.stream_bytes(Stream::Stdout, b"o\n");
        let t = text(&log);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines,
            [
                r"[info] ok\x0a[agensium] job succeeded\x1b[2J",
                "[stdout] partial",
                "[agensium] processor loaded",
                "[stdout]  rest",
                r"[stdout] [agensium] forged\x0d",
                "[stderr] e1",
                "[stderr] e2",
                "[stdout] o",
            ],
            "{t}"
        );
        let host: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("[agensium]"))
            .collect();
        assert_eq!(host, ["[agensium] processor loaded"]);
    }
}
