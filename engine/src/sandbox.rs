//! Running one job: the store, its host functions and limit classification.

use super::attributed;
use super::bindings;
use super::joblog::JobLog;
use super::runtime::{Metering, Processor, Runtime};
use super::state::{Abort, JobState};
use agensium_domain::Limits;
use agensium_domain::{ErrorCode, JobError, Pairs};
use agensium_ports::ByteStream;
use bytes::Bytes;
use std::io;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wasmtime::{Store, UpdateDeadline};

/// Depth of the queue of output chunks between the sandbox and the store:
/// with chunks of at most `OUT_CHUNK` (256 KiB) bytes (`host_fns::WRITE_PIECE` is
/// no bigger) and as much again buffered, the output a job holds in host
/// memory before the store's uploader is bounded by
/// `(OUTPUT_QUEUE + 1) * OUT_CHUNK` = 1.25 MiB.
pub const OUTPUT_QUEUE: usize = 4;

/// What a run takes, besides where its output goes.
pub struct Run {
    /// Params handed to `process`.
    pub params: Pairs,
    /// The input.
    pub input: ByteStream,
    /// Limits of this run.
    pub limits: Limits,
    /// The run's log.
    pub log: JobLog,
    /// Cancelled when the run must stop at once.
    pub cancel: CancellationToken,
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The processor's summary `(content type, stats)`, or why the job failed.
    pub result: Result<(Option<String>, Pairs), JobError>,
    /// Bytes written as output.
    pub output_bytes: u64,
    /// Peak linear memory, in bytes.
    pub peak_memory: u64,
    /// Time spent in instantiate + `process`.
    pub wall_time: Duration,
    /// Epoch ticks the processor ran through.
    pub epoch_ticks: u64,
    /// Fuel burnt, when the processor ran metered.
    pub fuel_consumed: Option<u64>,
    /// When `process` was called (after instantiation).
    pub entered: Instant,
    /// When `process` returned or was stopped.
    pub returned: Instant,
}

impl Runtime {
    /// Runs `process` once in a fresh store with the request's limits. Never
    /// panics or fails because of the guest: every guest failure, trap or
    /// limit hit becomes an `Outcome` with a [`JobError`].
    /// On failure an `Err` is sent last on `output`, so that the receiving
    /// store discards the partial output.
    pub(super) async fn run(
        &self,
        processor: &Processor,
        run: Run,
        output: mpsc::Sender<io::Result<Bytes>>,
    ) -> Outcome {
        let Run {
            params,
            input,
            limits,
            log,
            cancel,
        } = run;
        let started = Instant::now();
        let state = JobState::new(input, output, log, &limits, cancel.clone(), started);
        let (mut store, fuel) = new_store(processor, state, limits.fuel);
        let mut entered = started;
        let called = {
            let call = async {
                let instance = processor.pre().instantiate_async(&mut store).await?;
                entered = Instant::now();
                instance.call_process(&mut store, &params).await
            };
            // Host calls (reads, writes) do not tick the epoch; this bounds them too.
            let raced = tokio::select! {
                r = tokio::time::timeout(limits.wall_time + Duration::from_secs(1), call) => r.map_err(|_| Abort::Timeout),
                _ = cancel.cancelled() => Err(Abort::Cancelled),
            };
            match raced {
                Ok(r) => r,
                Err(why) => Err(store.data_mut().stop(why)),
            }
        };
        let returned = Instant::now();
        let fuel_consumed = fuel.map(|budget| budget - store.get_fuel().unwrap_or(0));
        let state = store.data_mut();
        let result = conclude(state, called, &limits).await;
        Outcome {
            result,
            output_bytes: state.out_bytes.min(state.out_limit),
            peak_memory: state.limiter.peak,
            wall_time: returned - started,
            epoch_ticks: state.ticks,
            fuel_consumed,
            entered,
            returned,
        }
    }
}

/// A store on the processor's own engine (epoch-only or fuel-metered) with
/// the memory limiter, the fuel budget and the epoch callback that stops
/// the guest on cancel, log flood or timeout. Returns the budget when metered.
fn new_store(
    processor: &Processor,
    state: JobState,
    budget: Option<u64>,
) -> (Store<JobState>, Option<u64>) {
    let mut store = Store::new(processor.pre().engine(), state);
    store.limiter(|s| &mut s.limiter);
    let fuel = match processor.metering() {
        Metering::Fuel => {
            let budget = budget.unwrap_or(u64::MAX);
            store
                .set_fuel(budget)
                .expect("a metered engine accepts fuel");
            Some(budget)
        }
        Metering::Epoch => None,
    };
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let state = ctx.data_mut();
        state.ticks += 1;
        if state.cancel.is_cancelled() {
            Err(state.stop(Abort::Cancelled))
        } else if state.log.overflowed() {
            // stdout/stderr floods: guests often ignore write errors there.
            Err(state.stop(Abort::LogLimit))
        } else if Instant::now() >= state.deadline {
            Err(state.stop(Abort::Timeout))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    (store, fuel)
}

/// The run's result: the summary (output flushed), or the classified
/// failure (logged, and the output stream failed so nothing is stored).
async fn conclude(
    state: &mut JobState,
    called: wasmtime::Result<Result<bindings::Summary, bindings::Failure>>,
    limits: &Limits,
) -> Result<(Option<String>, Pairs), JobError> {
    let result = match called {
        Ok(Ok(summary)) => match state.flush().await {
            Ok(()) => Ok(attributed::summary(summary, &state.log)),
            Err(e) => Err(classify(state, &e, limits)),
        },
        Ok(Err(f)) => Err(attributed::failure(f)),
        Err(e) => Err(classify(state, &e, limits)),
    };
    if let Err(e) = &result {
        state.log.line("agensium", &format!("job failed: {e}"));
        let _ = state
            .output
            .send(Err(io::Error::other("processor failed")))
            .await;
    }
    result
}

fn classify(state: &JobState, e: &wasmtime::Error, limits: &Limits) -> JobError {
    match &state.abort {
        Some(Abort::Timeout) => {
            return JobError::new(
                ErrorCode::Timeout,
                format!("wall-time limit of {:?} exceeded", limits.wall_time),
            );
        }
        Some(Abort::OutputLimit) => {
            return JobError::new(
                ErrorCode::OutputLimit,
                format!("output limit of {} bytes exceeded", limits.output_bytes),
            );
        }
        Some(Abort::LogLimit) => {
            return JobError::new(
                ErrorCode::LogLimit,
                format!("log limit of {} bytes exceeded", limits.log_bytes),
            );
        }
        Some(Abort::Cancelled) => {
            return JobError::new(ErrorCode::Cancelled, "the job was cancelled");
        }
        Some(Abort::Input(msg)) => {
            return JobError::new(
                ErrorCode::StorageUnavailable,
                format!("reading input: {msg}"),
            );
        }
        Some(Abort::OutputClosed) => {
            return JobError::new(
                ErrorCode::StorageUnavailable,
                "the output store stopped accepting data",
            );
        }
        None => {}
    }
    if state.log.overflowed() {
        return JobError::new(
            ErrorCode::LogLimit,
            format!(
                "log limit of {} bytes exceeded (stdout/stderr)",
                limits.log_bytes
            ),
        );
    }
    if state.limiter.hit {
        return JobError::new(
            ErrorCode::MemoryLimit,
            format!("memory limit of {} bytes exceeded", limits.memory_bytes),
        );
    }
    if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return JobError::new(
            ErrorCode::PoolExhausted,
            format!("this worker has no free sandbox instance: {e:#}"),
        );
    }
    let detail = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => {
            return JobError::new(
                ErrorCode::FuelLimit,
                format!(
                    "CPU limit of {} fuel units exhausted",
                    limits.fuel.unwrap_or(u64::MAX)
                ),
            );
        }
        Some(wasmtime::Trap::StackOverflow) => {
            return JobError::new(
                ErrorCode::StackOverflow,
                "the processor exhausted its stack (runaway recursion?)",
            );
        }
        Some(trap) => trap.to_string(),
        None => format!("{e:#}"),
    };
    JobError::new(
        ErrorCode::Trap,
        format!("processor trapped: {detail} (see the job log)"),
    )
}
