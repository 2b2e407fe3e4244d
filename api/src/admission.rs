//! Admission: compiling an uploaded component, and running its golden
//! check, without letting the upload take the API down.
//!
//! * **Bounded concurrency, shared fairly.** At most `concurrency` uploads
//!   compile or run their golden check at once, one team at most half of
//!   them (rounded up), and a freed slot goes to the waiting team holding
//!   the fewest ([`FairShare`]): one team's uploads cannot keep every other
//!   team's out. An upload that finds no slot within `wait` gets `503
//!   busy` (with `Retry-After`).
//! * **Compiles run in a child process** (`agensium compile-component`,
//!   see `agensium/src/compile_child.rs`) with a data-segment limit
//!   (`RLIMIT_DATA`: heap and anonymous maps, so a compile cannot take the
//!   API's memory) and a CPU-time limit, under a wall-time limit enforced
//!   here by killing it, and with an empty environment (no secrets). A
//!   client that disconnects drops the request, which kills the child.
//!   Over time: `422 compile_too_slow`; over memory: `422
//!   compile_memory_limit`.
//! * **Golden checks run off the request threads**, on a runtime of their
//!   own, under the operator's limits capped by [`GOLDEN_CAPS`].

use crate::error::ApiError;
use crate::fair::{FairShare, Permit};
use crate::golden::{self, Golden};
use agensium_domain::{GOLDEN_CAPS, Limits, TeamName};
use agensium_engine::{Metering, Processor, Runtime};
use axum::http::StatusCode;
use bytes::Bytes;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// The subcommand of the `agensium` binary that compiles one component.
pub const COMPILE_SUBCOMMAND: &str = "compile-component";
/// Exit code of the compiler child when it refuses the component; its
/// stderr then holds `code<TAB>message`.
pub const REFUSED_EXIT: i32 = 2;
/// Largest artifact read back from the compiler child.
const MAX_ARTIFACT: usize = 1 << 30;
/// Most bytes of the child's stderr kept for the answer and the log.
const MAX_STDERR: usize = 16 << 10;

/// How uploads are compiled and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionSettings {
    /// The `agensium` binary that compiles (`None`: this process's own
    /// executable).
    pub compiler: Option<PathBuf>,
    /// Uploads compiled or golden-checked at once.
    pub concurrency: usize,
    /// How long an upload waits for a slot before `503 busy`.
    pub wait: Duration,
    /// Wall time of one compile.
    pub timeout: Duration,
    /// Data (heap) of the compiler child, in bytes.
    pub memory_bytes: u64,
}

/// An admission slot of one team's, held from before an upload's body is
/// read until its golden check is done.
pub struct Slot(Permit<TeamName>);

/// A component compiled and loaded, with the admission slot it holds
/// until its golden check is done.
pub struct Admitted {
    /// The processor, ready to run.
    pub processor: Processor,
    /// Its artifact, to store for workers.
    pub artifact: Vec<u8>,
    _slot: Permit<TeamName>,
}

/// Compiles uploads in child processes and runs golden checks on a
/// runtime of its own; see the module docs.
pub struct Admission {
    settings: AdmissionSettings,
    compiler: PathBuf,
    slots: Arc<FairShare<TeamName>>,
    sandbox: Option<tokio::runtime::Runtime>,
}

impl Admission {
    /// Admission as `settings` say; fails when no compiler binary is known
    /// or the golden runtime cannot start.
    pub fn new(settings: AdmissionSettings) -> anyhow::Result<Self> {
        let compiler = match &settings.compiler {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let sandbox = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("agensium-golden")
            .enable_all()
            .build()?;
        Ok(Self {
            slots: FairShare::halves(settings.concurrency),
            settings,
            compiler,
            sandbox: Some(sandbox),
        })
    }

    /// Compiles `component` in a child process (within its team's `slot`)
    /// and loads the artifact, checking the world and the per-component
    /// maxima.
    pub async fn compile(
        &self,
        runtime: &Arc<Runtime>,
        slot: Slot,
        component: Bytes,
        metering: Metering,
    ) -> Result<Admitted, ApiError> {
        let artifact = self.compile_in_child(component, metering).await?;
        let rt = runtime.clone();
        let (processor, artifact) = tokio::task::spawn_blocking(move || {
            rt.load_artifact(&artifact, metering).map(|p| (p, artifact))
        })
        .await
        .map_err(|e| crashed(&e.to_string()))?
        .map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
        Ok(Admitted {
            processor,
            artifact,
            _slot: slot.0,
        })
    }

    /// Runs `golden` through the admitted processor under `limits` capped
    /// by [`GOLDEN_CAPS`], on the golden runtime (not a request thread).
    pub(crate) async fn golden(
        &self,
        runtime: &Arc<Runtime>,
        admitted: &Admitted,
        golden: Golden,
        limits: Limits,
    ) -> Result<(), ApiError> {
        let (rt, p) = (runtime.clone(), admitted.processor.clone());
        let limits = limits.capped(&GOLDEN_CAPS);
        let handle = self
            .sandbox
            .as_ref()
            .expect("runtime until drop")
            .spawn(async move { golden::check(&rt, &p, &golden, limits).await });
        handle.await.map_err(|e| crashed(&e.to_string()))?
    }

    /// One of `team`'s admission slots, taken before the upload's body is
    /// read: at most `concurrency` components are held in memory at once,
    /// shared fairly among teams; `503 busy` when none comes within `wait`.
    pub async fn slot(&self, team: &TeamName) -> Result<Slot, ApiError> {
        self.slots
            .acquire(team, self.settings.wait)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "{} uploads are being compiled (a team at most {} of them); \
                         try again shortly",
                        self.slots.total(),
                        self.slots.share()
                    ),
                )
                .retry_after(Duration::from_secs(5))
            })
            .map(Slot)
    }

    /// The artifact the compiler child makes of `component`, or why not.
    async fn compile_in_child(
        &self,
        component: Bytes,
        metering: Metering,
    ) -> Result<Vec<u8>, ApiError> {
        let s = &self.settings;
        let cpu_secs = s
            .timeout
            .as_secs()
            .saturating_add(1)
            .saturating_mul(cores());
        let mut child = tokio::process::Command::new(&self.compiler)
            .arg(COMPILE_SUBCOMMAND)
            .arg(metering_arg(metering))
            .arg((s.memory_bytes >> 20).max(1).to_string())
            .arg(cpu_secs.to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| crashed(&format!("starting {}: {e}", self.compiler.display())))?;
        let (mut stdin, stdout, stderr) = (
            child.stdin.take().expect("piped"),
            child.stdout.take().expect("piped"),
            child.stderr.take().expect("piped"),
        );
        let run = async {
            let feed = async move {
                // The child may stop reading (refused, killed): not an error here.
                let _ = stdin.write_all(&component).await;
            };
            let (_, out, err) = tokio::join!(
                feed,
                read_bounded(stdout, MAX_ARTIFACT),
                read_bounded(stderr, MAX_STDERR)
            );
            (child.wait().await, out, err)
        };
        let Ok((status, out, err)) = tokio::time::timeout(s.timeout, run).await else {
            return Err(too_slow(s.timeout));
        };
        let status = status.map_err(|e| crashed(&e.to_string()))?;
        let err = String::from_utf8_lossy(&err).into_owned();
        match outcome(status, &err) {
            Ok(()) => Ok(out),
            Err(Failure::Refused(code, message)) => Err(ApiError::bad_request(code, message)),
            Err(Failure::Memory) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "compile_memory_limit",
                format!(
                    "compiling this component needs more than {} MiB; refused",
                    s.memory_bytes >> 20
                ),
            )),
            Err(Failure::Cpu) => Err(too_slow(s.timeout)),
            Err(Failure::Crashed(what)) => {
                tracing::error!(status = %status, stderr = %err, "the compiler child failed");
                Err(crashed(&what))
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // Dropping a runtime may not block inside another runtime.
        if let Some(rt) = self.sandbox.take() {
            rt.shutdown_background();
        }
    }
}

/// How the compiler child ended, when it made no artifact.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// It refused the component: a stable code and a message.
    Refused(&'static str, String),
    /// It ran out of its data limit.
    Memory,
    /// It ran out of CPU time.
    Cpu,
    /// Anything else (a bug): what is known.
    Crashed(String),
}

/// The codes the child may answer (`ValidateError::code`).
const REFUSALS: [&str; 6] = [
    "not_wasm",
    "not_a_component",
    "invalid_component",
    "wrong_world",
    "too_many_instances",
    "compile_bomb",
];

fn outcome(status: ExitStatus, stderr: &str) -> Result<(), Failure> {
    use std::os::unix::process::ExitStatusExt;
    let out_of_memory = stderr.contains("memory allocation of")
        || stderr.contains("Cannot allocate memory")
        || stderr.contains("out of memory");
    if status.success() {
        return Ok(());
    }
    if out_of_memory {
        return Err(Failure::Memory);
    }
    if status.code() == Some(REFUSED_EXIT) {
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.contains('\t'))
            .unwrap_or("");
        let (code, message) = line.split_once('\t').unwrap_or(("", line));
        let code = REFUSALS
            .into_iter()
            .find(|c| *c == code)
            .unwrap_or("invalid_component");
        return Err(Failure::Refused(code, message.to_owned()));
    }
    match status.signal() {
        Some(libc::SIGXCPU | libc::SIGKILL) => Err(Failure::Cpu),
        _ => Err(Failure::Crashed(format!("the compiler stopped: {status}"))),
    }
}

async fn read_bounded(mut r: impl AsyncRead + Unpin, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 || out.len() + n > max {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn metering_arg(m: Metering) -> &'static str {
    match m {
        Metering::Epoch => "epoch",
        Metering::Fuel => "fuel",
    }
}

fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

fn too_slow(limit: Duration) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "compile_too_slow",
        format!("compiling this component takes longer than {limit:?}; refused"),
    )
}

fn crashed(what: &str) -> ApiError {
    ApiError::incident(
        StatusCode::INTERNAL_SERVER_ERROR,
        "compiler_crashed",
        "the compiler failed",
        &what,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// Finding 4 of the security review: two admissions of one team held
    /// both slots and every other team's upload answered 503.
    #[tokio::test]
    async fn one_team_cannot_hold_every_slot_while_another_waits() {
        let settings = AdmissionSettings {
            compiler: Some("/bin/false".into()),
            concurrency: 2,
            wait: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            memory_bytes: 1 << 30,
        };
        let admission = Admission::new(settings).unwrap();
        let (a, b): (TeamName, TeamName) = ("a".parse().unwrap(), "b".parse().unwrap());
        let _first = admission.slot(&a).await.unwrap();
        let second = admission.slot(&a).await;
        assert_eq!(
            second.err().map(|e| e.code),
            Some("busy"),
            "a holds its share"
        );
        let other = admission.slot(&b).await;
        assert!(other.is_ok(), "b finds its slot at once");
    }

    #[test]
    fn child_endings_are_classified() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        let signalled = ExitStatus::from_raw;
        assert_eq!(outcome(exited(0), ""), Ok(()));
        assert_eq!(
            outcome(
                exited(REFUSED_EXIT),
                "noise\nwrong_world\tno process export\n"
            ),
            Err(Failure::Refused("wrong_world", "no process export".into()))
        );
        assert_eq!(
            outcome(exited(REFUSED_EXIT), "made_up\tx"),
            Err(Failure::Refused("invalid_component", "x".into()))
        );
        assert_eq!(
            outcome(
                signalled(libc::SIGABRT),
                "memory allocation of 8 bytes failed"
            ),
            Err(Failure::Memory)
        );
        assert_eq!(outcome(signalled(libc::SIGXCPU), ""), Err(Failure::Cpu));
        assert!(matches!(
            outcome(signalled(libc::SIGSEGV), ""),
            Err(Failure::Crashed(_))
        ));
    }
}
