//! Progress on stderr: a bar for bytes going up or down (size, rate, ETA),
//! a spinner while a job waits. Drawn only when stderr is a terminal and
//! `--json` is off; otherwise hidden.

use agensium_domain::terminal_safe;
use anyhow::{Context, Result};
use futures::{Stream, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Whether progress is drawn at all.
pub fn visible(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

fn target(json: bool) -> ProgressDrawTarget {
    if visible(json) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A byte bar: `label [bar] 12.0 MiB/1.0 GiB 85 MiB/s ETA 11s`, or a byte
/// counter when the total is unknown.
fn bytes(label: &str, total: Option<u64>, json: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, target(json));
    let template = if total.is_some() {
        "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
    } else {
        "{prefix:>9} {spinner} {bytes} {bytes_per_sec}"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A spinner with a message (the job's state) and the time waited.
pub fn spinner(json: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target(json));
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Sets the message of `bar` (a spinner's: the job's state) to `text`,
/// which may hold the API's: escaped, as a bar only draws on a terminal.
pub fn set_message(bar: &ProgressBar, text: &str) {
    bar.set_message(terminal_safe(text).into_owned());
}

/// A request body streamed from `reader`, counted on `bar`.
fn body(reader: impl AsyncRead + Send + 'static, bar: ProgressBar) -> reqwest::Body {
    let stream = ReaderStream::with_capacity(reader, 256 * 1024).inspect_ok(move |chunk| {
        bar.inc(chunk.len() as u64);
    });
    reqwest::Body::wrap_stream(stream)
}

/// A file (or `-`, stdin) to upload, opened afresh for each sending so a
/// refused upload can be sent again (stdin only once), counted on one bar.
pub struct Upload {
    path: PathBuf,
    bar: ProgressBar,
    /// Whether stdin was handed out (it cannot be read twice).
    stdin_taken: bool,
}

impl Upload {
    /// An upload of `path`, its bar sized from the file as it is now.
    pub fn new(path: &Path, json: bool) -> Result<Self> {
        let size = if path == Path::new("-") {
            None
        } else {
            let meta =
                std::fs::metadata(path).with_context(|| format!("opening {}", path.display()))?;
            Some(meta.len())
        };
        Ok(Self {
            path: path.to_owned(),
            bar: bytes("upload", size, json),
            stdin_taken: false,
        })
    }

    /// A body reading the file from its start, and its size; `None` when
    /// it cannot be read again (stdin, once taken).
    pub fn body(&mut self) -> Result<Option<(reqwest::Body, Option<u64>)>> {
        if self.path == Path::new("-") {
            if std::mem::replace(&mut self.stdin_taken, true) {
                return Ok(None);
            }
            return Ok(Some((body(tokio::io::stdin(), self.bar.clone()), None)));
        }
        let file = std::fs::File::open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        let size = file.metadata()?.len();
        self.bar.set_length(size);
        self.bar.set_position(0);
        let reader = tokio::fs::File::from_std(file);
        Ok(Some((body(reader, self.bar.clone()), Some(size))))
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Writes a response body to `path` (or `-`, stdout), counted on a bar. A
/// file is written as `path.partial` and renamed once complete.
pub async fn download(
    stream: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
    total: Option<u64>,
    path: &Path,
    json: bool,
) -> Result<u64> {
    let to_stdout = path == Path::new("-");
    // Output on the terminal itself is its own progress (and a bar would
    // draw over it).
    let quiet = json || (to_stdout && std::io::stdout().is_terminal());
    let bar = bytes("download", total, quiet);
    let written = if to_stdout {
        copy(stream, &mut tokio::io::stdout(), &bar).await?
    } else {
        let partial = path.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("creating {}", partial.display()))?;
        let written = match copy(stream, &mut file, &bar).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e);
            }
        };
        file.sync_all().await?;
        tokio::fs::rename(&partial, path).await?;
        written
    };
    bar.finish_and_clear();
    Ok(written)
}

async fn copy(
    mut stream: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
    bar: &ProgressBar,
) -> Result<u64> {
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("downloading")?;
        out.write_all(&chunk).await?;
        written += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
    }
    out.flush().await?;
    Ok(written)
}
