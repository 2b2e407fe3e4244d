//! The `agensium` binary.

use agensium_api::ApiLimits;
use agensium_api::serve::{self, ServeConfig};
use agensium_host::Limits;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Agensium: run WebAssembly processors on uploaded files.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API and workers in one process, on embedded backends (SQLite, a local
    /// directory, an in-process rail). Needs nothing else.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address the API listens on.
    #[arg(long, env = "AGENSIUM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding the database and the objects.
    #[arg(long, env = "AGENSIUM_DATA_DIR", default_value = "./agensium-data")]
    data_dir: PathBuf,
    #[command(flatten)]
    jobs: JobArgs,
}

/// Settings of the workers and of job limits.
#[derive(Args)]
struct JobArgs {
    /// Jobs run at once.
    #[arg(long, env = "AGENSIUM_WORKERS", default_value_t = 2)]
    workers: usize,
    /// Memory limit of a job, in MiB.
    #[arg(long, env = "AGENSIUM_MEMORY_LIMIT_MIB", default_value_t = 256)]
    memory_limit_mib: u64,
    /// Wall-time limit of a job, in seconds.
    #[arg(long, env = "AGENSIUM_TIME_LIMIT_SECS", default_value_t = 60)]
    time_limit_secs: u64,
    /// Output limit of a job, in MiB.
    #[arg(long, env = "AGENSIUM_OUTPUT_LIMIT_MIB", default_value_t = 16384)]
    output_limit_mib: u64,
    /// Largest job input accepted, in MiB (413 beyond).
    #[arg(long, env = "AGENSIUM_MAX_UPLOAD_MIB", default_value_t = 10240)]
    max_upload_mib: u64,
}

impl JobArgs {
    fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_limit_mib << 20,
            wall_time: Duration::from_secs(self.time_limit_secs),
            output_bytes: self.output_limit_mib << 20,
            ..Limits::default()
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info,wasmtime=warn,cranelift=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(a) => {
            let cfg = ServeConfig {
                listen: a.listen,
                data_dir: a.data_dir,
                workers: a.jobs.workers,
                limits: a.jobs.limits(),
                api: ApiLimits {
                    max_upload_bytes: a.jobs.max_upload_mib << 20,
                    ..ApiLimits::default()
                },
            };
            let server = serve::start(cfg).await?;
            let token = server.shutdown_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: finishing running jobs");
                token.cancel();
            });
            server.wait().await
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
