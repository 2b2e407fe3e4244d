//! Running one job: the store, its host functions and limit classification.

use super::attributed;
use super::bindings;
use super::clocks::{CoarseMonotonicClock, CoarseWallClock};
use super::joblog::{JobLog, Stream};
use super::limiter::Limiter;
use super::runtime::{Metering, Processor, Runtime};
use agensium_domain::Limits;
use agensium_domain::{ErrorCode, JobError, Pairs};
use agensium_ports::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::io;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Output is handed to storage in chunks of about this size.
const OUT_CHUNK: usize = 256 * 1024;
/// A write piece at least this big is handed on as its own chunk.
const OWN_CHUNK: usize = 64 * 1024;
/// Depth of the queue of output chunks between the sandbox and the store:
/// with chunks of at most [`OUT_CHUNK`] bytes (`host_fns::WRITE_PIECE` is
/// no bigger) and as much again buffered, the output a job holds in host
/// memory before the store's uploader is bounded by
/// `(OUTPUT_QUEUE + 1) * OUT_CHUNK` = 1.25 MiB.
pub const OUTPUT_QUEUE: usize = 4;
/// Most bytes one `wasi:random` call may ask for (wasmtime's default is 64 MiB).
const MAX_RANDOM: u64 = 64 * 1024;
/// Most WASI resources (streams, pollables, …) a job may hold at once
/// (wasmtime's default is a million).
const MAX_RESOURCES: usize = 4096;

/// Why the host stopped a processor.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Abort {
    Timeout,
    OutputLimit,
    LogLimit,
    Cancelled,
    Input(String),
    OutputClosed,
}

/// Per-job state of a store: the sandboxed WASI context, the job's input and
/// output, its log and its limits.
pub struct JobState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    input: ByteStream,
    pending: Bytes,
    input_done: bool,
    output: mpsc::Sender<io::Result<Bytes>>,
    out_buf: BytesMut,
    out_bytes: u64,
    out_limit: u64,
    log: JobLog,
    abort: Option<Abort>,
    deadline: Instant,
    cancel: CancellationToken,
    ticks: u64,
}

impl WasiView for JobState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl JobState {
    fn stop(&mut self, why: Abort) -> wasmtime::Error {
        let msg = format!("agensium stopped the processor: {why:?}");
        self.abort.get_or_insert(why);
        wasmtime::Error::msg(msg)
    }

    async fn flush(&mut self) -> wasmtime::Result<()> {
        if self.out_buf.is_empty() {
            return Ok(());
        }
        let chunk = self.out_buf.split().freeze();
        if self.output.send(Ok(chunk)).await.is_err() {
            return Err(self.stop(Abort::OutputClosed));
        }
        Ok(())
    }
}

impl JobState {
    /// `host.read`: up to `max` bytes of the input (empty at its end).
    pub(super) async fn read(&mut self, max: usize) -> wasmtime::Result<Vec<u8>> {
        while self.pending.is_empty() && !self.input_done {
            match self.input.next().await {
                Some(Ok(chunk)) => self.pending = chunk,
                Some(Err(e)) => return Err(self.stop(Abort::Input(e.to_string()))),
                None => self.input_done = true,
            }
        }
        let n = self.pending.len().min(max);
        Ok(self.pending.split_to(n).to_vec())
    }

    /// Counts a `host.write` of `len` bytes against the output limit,
    /// before any of it is copied.
    pub(super) fn count_output(&mut self, len: usize) -> wasmtime::Result<()> {
        self.out_bytes = self.out_bytes.saturating_add(len as u64);
        if self.out_bytes > self.out_limit {
            return Err(self.stop(Abort::OutputLimit));
        }
        Ok(())
    }

    /// Hands one piece of a `host.write` on towards the store.
    pub(super) async fn write(&mut self, piece: Bytes) -> wasmtime::Result<()> {
        if piece.len() >= OWN_CHUNK {
            self.flush().await?;
            if self.output.send(Ok(piece)).await.is_err() {
                return Err(self.stop(Abort::OutputClosed));
            }
            return Ok(());
        }
        self.out_buf.extend_from_slice(&piece);
        if self.out_buf.len() >= OUT_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// `host.log`: one line at `level`; the job stops once the log is full.
    pub(super) fn log(&mut self, level: &str, message: &str) -> wasmtime::Result<()> {
        if self.log.guest_line(level, message) {
            Ok(())
        } else {
            Err(self.stop(Abort::LogLimit))
        }
    }
}

/// What to run: the job's params, input, output sink, limits and log.
pub(super) struct RunRequest {
    /// Params handed to `process`.
    pub params: Pairs,
    /// The job's input.
    pub input: ByteStream,
    /// Where output chunks go. On failure an `Err` is sent last so that the
    /// receiving store discards the partial output.
    pub output: mpsc::Sender<io::Result<Bytes>>,
    /// Limits of this run.
    pub limits: Limits,
    /// The job's log.
    pub log: JobLog,
    /// Cancelled when the job must stop at once (`DELETE /v1/jobs/{id}`).
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
    pub(super) async fn run(&self, processor: &Processor, req: RunRequest) -> Outcome {
        let RunRequest {
            params,
            input,
            output,
            limits,
            log,
            cancel,
        } = req;
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

impl JobState {
    fn new(
        input: ByteStream,
        output: mpsc::Sender<io::Result<Bytes>>,
        log: JobLog,
        limits: &Limits,
        cancel: CancellationToken,
        started: Instant,
    ) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(log.stream(Stream::Stdout))
            .stderr(log.stream(Stream::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(MAX_RANDOM)
            .wall_clock(CoarseWallClock)
            .monotonic_clock(CoarseMonotonicClock::new());
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self {
            wasi: wasi.build(),
            table,
            limiter: Limiter::new(limits.memory_bytes),
            input,
            pending: Bytes::new(),
            input_done: false,
            output,
            out_buf: BytesMut::new(),
            out_bytes: 0,
            out_limit: limits.output_bytes,
            log,
            abort: None,
            deadline: started + limits.wall_time,
            cancel,
            ticks: 0,
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
