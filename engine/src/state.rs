//! The state of one run's store ([`JobState`]): the sandboxed WASI
//! context, the input and output streams, the log, the limits; and the
//! host calls' work on it. The runtime links host functions over it, the
//! sandbox builds and classifies runs with it; it needs neither.

use super::clocks::{CoarseMonotonicClock, CoarseWallClock};
use super::joblog::{JobLog, Stream};
use super::limiter::Limiter;
use agensium_domain::Limits;
use agensium_ports::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::io;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Output is handed to storage in chunks of about this size.
const OUT_CHUNK: usize = 256 * 1024;
/// A write piece at least this big is handed on as its own chunk.
const OWN_CHUNK: usize = 64 * 1024;
/// Most bytes one `wasi:random` call may ask for (wasmtime's default is 64 MiB).
const MAX_RANDOM: u64 = 64 * 1024;
/// Most WASI resources (streams, pollables, …) a job may hold at once
/// (wasmtime's default is a million).
const MAX_RESOURCES: usize = 4096;

/// Why the host stopped a processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Abort {
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
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: Limiter,
    pub(super) input: ByteStream,
    pub(super) pending: Bytes,
    pub(super) input_done: bool,
    pub(super) output: mpsc::Sender<io::Result<Bytes>>,
    pub(super) out_buf: BytesMut,
    pub(super) out_bytes: u64,
    pub(super) out_limit: u64,
    pub(super) log: JobLog,
    pub(super) abort: Option<Abort>,
    pub(super) deadline: Instant,
    pub(super) cancel: CancellationToken,
    pub(super) ticks: u64,
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
    pub(super) fn stop(&mut self, why: Abort) -> wasmtime::Error {
        let msg = format!("agensium stopped the processor: {why:?}");
        self.abort.get_or_insert(why);
        wasmtime::Error::msg(msg)
    }

    pub(super) async fn flush(&mut self) -> wasmtime::Result<()> {
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

impl JobState {
    /// A store's state for one run of `limits`, started at `started`.
    pub(super) fn new(
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
