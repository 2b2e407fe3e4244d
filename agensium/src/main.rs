//! The `agensium` binary: `serve` (everything in one process), `api` and
//! `worker` (separate processes on shared backends).

mod cli;
mod client;
mod compile_child;
mod local;
mod telemetry;

use agensium::bootstrap;
use anyhow::Result;
use clap::Parser;

fn main() -> Result<std::process::ExitCode> {
    // The API's compiler child: no runtime, no logging, its own limits.
    if compile_child::requested() {
        return Ok(compile_child::run());
    }
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<std::process::ExitCode> {
    cli::load_config_file()?;
    // Logs go to stderr: stdout carries only what a command prints (the
    // settings, a new key), so `$(agensium admin create-key …)` is the key.
    // Spans not yet exported are sent when this is dropped.
    let args: Vec<String> = std::env::args().collect();
    let _telemetry = telemetry::init(&args)?;
    let (role, settings) = match cli::Cli::parse().into_action()? {
        cli::Action::Run(role, settings) => (role, settings),
        cli::Action::Print(settings) => {
            println!("{settings:#?}");
            return Ok(std::process::ExitCode::SUCCESS);
        }
        cli::Action::Admin(command, settings) => {
            admin(command, &settings).await?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        cli::Action::Local(cli::Local::Run(args), settings) => {
            return local::run(args, &settings).await;
        }
        cli::Action::Client(request, conn) => return client::run(request, &conn).await,
        cli::Action::Local(cli::Local::Validate(path), settings) => {
            return local::validate(&path, &settings);
        }
    };
    let server = agensium::start(role, settings).await?;
    let token = server.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing running jobs");
        token.cancel();
    });
    server.wait().await?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Runs an operator command on the configured metadata store.
async fn admin(command: cli::AdminCommand, settings: &agensium::Settings) -> Result<()> {
    match command {
        cli::AdminCommand::WorkerGrants {
            database,
            user,
            host,
        } => {
            for grant in agensium_mysql::worker_grants(&database, &user, &host) {
                println!("{grant};");
            }
        }
        cli::AdminCommand::BacklogGrant {
            database,
            user,
            host,
        } => println!(
            "{};",
            agensium_mysql::backlog_grant(&database, &user, &host)
        ),
        cli::AdminCommand::CreateTeam { name } => {
            let meta = agensium::connect::meta(&settings.backends).await?;
            if !bootstrap::create_team(meta.as_ref(), &name).await? {
                anyhow::bail!("a team named {name} exists");
            }
            eprintln!("created the team {name}");
        }
        cli::AdminCommand::CreateKey {
            team,
            role,
            name,
            expires_in_days,
        } => {
            let meta = agensium::connect::meta(&settings.backends).await?;
            let expires_at = expires_in_days.map(|d| {
                agensium_domain::now_to_the_millisecond() + chrono::Duration::days(i64::from(d))
            });
            let key = bootstrap::create_key(meta.as_ref(), &team, role, &name, expires_at).await?;
            eprintln!(
                "created a {role} key of the team {team} (id {}); it is shown only now:",
                key.id()
            );
            println!("{}", key.expose());
        }
    }
    Ok(())
}

/// glibc gives every thread that allocates its own arena and keeps freed
/// memory in them; with streaming buffers passing between tokio threads that
/// shows up as resident memory. Two arenas keep the footprint flat. And
/// buffers of 1 MiB or more (object-store parts, 5 MiB each, several in
/// flight) are always mapped and unmapped: glibc's default threshold grows
/// to the largest block freed, after which parts stay in the heap.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator tunables; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
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
