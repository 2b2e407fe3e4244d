//! The one way to run a component: [`Runtime::run_draining`]. A job on a
//! worker, a golden check at admission and `agensium run` all call it; they
//! differ only in where the output goes (the object store, a comparison
//! with the expected bytes, a file).

use super::runtime::{Processor, Runtime};
use super::sandbox::{OUTPUT_QUEUE, Outcome, Run};
use bytes::Bytes;
use std::future::Future;
use std::io;
use tokio::sync::mpsc;

/// A run's output as it is written: chunks in order, and when the run
/// fails an `Err` last, so that a store discards the partial output. At
/// most [`OUTPUT_QUEUE`] chunks wait in it: a slow reader slows the guest.
pub type OutputChunks = mpsc::Receiver<io::Result<Bytes>>;

impl Runtime {
    /// Runs `processor` once on `run` and hands its output, as it is
    /// written, to `drain`, which reads it to its end; the run's outcome
    /// (never a panic or an error because of the guest) and what `drain`
    /// returned.
    pub async fn run_draining<T, F>(
        &self,
        processor: &Processor,
        run: Run,
        drain: impl FnOnce(OutputChunks) -> F,
    ) -> (Outcome, T)
    where
        F: Future<Output = T>,
    {
        let (output, chunks) = mpsc::channel(OUTPUT_QUEUE);
        tokio::join!(self.run(processor, run, output), drain(chunks))
    }
}
