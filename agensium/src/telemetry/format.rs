//! [`LogFormat`]: text or JSON lines on stderr (stdout carries only what a
//! command prints: the settings, a new key).

use anyhow::{Result, bail};
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people at a terminal.
    Text,
    /// One JSON object per line: timestamp, level, target, fields (the
    /// message), and the spans it happened in with their fields (the
    /// job id, processor, version, team and trace id on a job's lines).
    Json,
}

impl LogFormat {
    /// `--log-format X` (or `=X`) on the command line, else
    /// `AGENSIUM_LOG_FORMAT`, else text.
    pub fn chosen(args: &[String]) -> Result<Self> {
        let flag = args.iter().enumerate().find_map(|(i, a)| match a.as_str() {
            "--log-format" => args.get(i + 1).cloned(),
            a => a.strip_prefix("--log-format=").map(str::to_owned),
        });
        let value = flag.or_else(|| std::env::var("AGENSIUM_LOG_FORMAT").ok());
        match value.as_deref().map(str::trim) {
            None | Some("" | "text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => bail!("log format {other:?}: expected text or json"),
        }
    }

    /// The formatting layer, writing to stderr.
    pub fn layer<S>(self) -> Box<dyn Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        match self {
            Self::Text => fmt.boxed(),
            Self::Json => fmt
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .boxed(),
        }
    }
}
