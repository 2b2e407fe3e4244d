//! Coalesced acceptance: submissions that arrive together are written
//! together — their job rows in one multi-row `INSERT`, their tickets in one
//! rail round trip — and each is answered only once its row is stored, so
//! "accepted means it will run" holds exactly as for a single submission.
//!
//! A job of a team with a `max_queued` quota is written on its own, its
//! count and insert one step ([`MetaStore::insert_job_within`]), so that
//! concurrent submissions on any number of API processes never queue more
//! than the quota.
//!
//! There is no linger: a few flushers each take whatever is waiting when
//! they become free. A submission that arrives alone is written at once;
//! under load, the submissions that arrived while the previous statements
//! ran form the next batch (group commit).

use agensium_domain::{Job, JobId, TeamName};
use agensium_ports::segments::Segments;
use agensium_ports::{Backends, MetaError, NewJob};
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// How many batches may be written at once (each holds one metadata-store
/// connection while its statement runs).
const FLUSHERS: usize = 4;

/// The most rows one batch writes. Batches are written in chunks whose
/// sizes are powers of two (64, 32, …, 1), so the SQL stores see at most
/// seven distinct statements, each prepared once per connection.
const MAX_BATCH: usize = 64;

/// A batch stops growing once its inline inputs reach this many bytes, so a
/// statement stays far below MySQL's `max_allowed_packet` (16 MiB by
/// default) even with the largest inline limit (1 MiB) on its last row.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Submissions waiting for a flusher, at most; senders wait beyond that.
const QUEUE: usize = 1024;

/// A submission waiting for its row to be written.
struct Pending {
    job: Job,
    input: Option<Bytes>,
    /// The team's `max_queued`, if it has one.
    max_queued: Option<u32>,
    done: oneshot::Sender<Result<Accepted, MetaError>>,
}

/// What became of a submission whose row could be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored and queued.
    Queued,
    /// Not stored: its team has `max_queued` jobs queued already (its
    /// stored input is deleted).
    QueueFull,
}

/// Writes accepted jobs' rows and tickets, coalescing those that wait.
#[derive(Clone)]
pub struct Acceptor {
    tx: mpsc::Sender<Pending>,
}

impl Acceptor {
    /// Starts the flushers on the current Tokio runtime. They stop when the
    /// last clone of the acceptor is dropped, after writing what waits.
    pub fn new(backends: &Backends) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..FLUSHERS {
            tokio::spawn(flush(rx.clone(), backends.clone()));
        }
        Self { tx }
    }

    /// Stores `job` (with its input when inline; otherwise the input is
    /// already under its input key) and puts its ticket on the rail. `Ok`
    /// once the row is stored: a rail that is down leaves the job queued,
    /// and recovery puts it back on the rail. When the row cannot be
    /// stored, the stored input is deleted.
    pub async fn accept(
        &self,
        job: Job,
        input: Option<Bytes>,
        max_queued: Option<u32>,
    ) -> Result<Accepted, MetaError> {
        let (done, stored) = oneshot::channel();
        let stopped = || MetaError::backend("the API is shutting down");
        let pending = Pending {
            job,
            input,
            max_queued,
            done,
        };
        self.tx.send(pending).await.map_err(|_| stopped())?;
        stored.await.map_err(|_| stopped())?
    }
}

/// One flusher: takes the waiting submissions, writes them, again.
async fn flush(rx: Arc<Mutex<mpsc::Receiver<Pending>>>, backends: Backends) {
    loop {
        let batch = next_batch(&mut *rx.lock().await).await;
        if batch.is_empty() {
            return;
        }
        let (quota, free): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|p| p.max_queued.is_some());
        let chunks = power_of_two_chunks(free);
        let written = futures::future::join_all(chunks.into_iter().map(|c| write(&backends, c)));
        let counted =
            futures::future::join_all(quota.into_iter().map(|p| write_within(&backends, p)));
        futures::future::join(written, counted).await;
    }
}

/// Waits for one submission, then takes those already waiting behind it,
/// up to the batch bounds. Empty when the acceptor is gone.
async fn next_batch(rx: &mut mpsc::Receiver<Pending>) -> Vec<Pending> {
    let Some(first) = rx.recv().await else {
        return Vec::new();
    };
    let mut bytes = inline_len(&first);
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
        let Ok(next) = rx.try_recv() else { break };
        bytes += inline_len(&next);
        batch.push(next);
    }
    batch
}

fn inline_len(p: &Pending) -> usize {
    p.input.as_ref().map_or(0, Bytes::len)
}

/// Splits a batch into chunks of decreasing powers of two (13 → 8, 4, 1).
fn power_of_two_chunks<T>(mut batch: Vec<T>) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    while !batch.is_empty() {
        let size = 1 << batch.len().ilog2();
        let rest = batch.split_off(size);
        chunks.push(std::mem::replace(&mut batch, rest));
    }
    chunks
}

/// Writes one chunk's rows (all or none), then its tickets, and answers
/// each submission.
async fn write(backends: &Backends, chunk: Vec<Pending>) {
    let rows: Vec<NewJob<'_>> = chunk
        .iter()
        .map(|p| NewJob {
            job: &p.job,
            input: p.input.as_ref(),
        })
        .collect();
    let stored = backends.meta.insert_jobs(&rows).await;
    if stored.is_err() {
        forget_inputs(backends, &chunk).await;
    }
    if stored.is_ok() {
        let tickets: Vec<(JobId, TeamName)> = chunk
            .iter()
            .map(|p| (p.job.id, p.job.team.clone()))
            .collect();
        if let Err(e) = backends.rail.push_many(&tickets).await {
            tracing::warn!(jobs = tickets.len(), error = %e, "rail push failed; the jobs stay queued");
        }
    }
    let message = stored.as_ref().err().map(ToString::to_string);
    let mut first = Some(stored.map(|()| Accepted::Queued));
    for p in chunk {
        // Every row of the chunk shares the statement's outcome.
        let outcome = match (first.take(), &message) {
            (Some(r), _) => r,
            (None, None) => Ok(Accepted::Queued),
            (None, Some(m)) => Err(MetaError::backend(m.clone())),
        };
        let _ = p.done.send(outcome);
    }
}

/// Writes the row of a job whose team has a `max_queued` quota, counted
/// and inserted in one step, then its ticket; answers the submission.
async fn write_within(backends: &Backends, p: Pending) {
    let max = p.max_queued.unwrap_or(u32::MAX);
    let stored = backends
        .meta
        .insert_job_within(&p.job, p.input.as_ref(), max)
        .await;
    let outcome = match stored {
        Ok(true) => {
            if let Err(e) = backends.rail.push(p.job.id, &p.job.team).await {
                tracing::warn!(job = %p.job.id, error = %e, "rail push failed; the job stays queued");
            }
            Ok(Accepted::Queued)
        }
        Ok(false) => Ok(Accepted::QueueFull),
        Err(e) => Err(e),
    };
    if !matches!(outcome, Ok(Accepted::Queued)) {
        forget_inputs(backends, std::slice::from_ref(&p)).await;
    }
    let _ = p.done.send(outcome);
}

/// Deletes the stored inputs of jobs whose rows were not written: here, not
/// in the handler, so nothing is left behind even when the client is gone.
async fn forget_inputs(backends: &Backends, chunk: &[Pending]) {
    for p in chunk.iter().filter(|p| p.input.is_none()) {
        let stored = Segments::input_of(backends.objects.clone(), p.job.id);
        if let Err(e) = stored.delete_all().await {
            tracing::warn!(job = %p.job.id, error = %e, "deleting the input of a job not accepted failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::power_of_two_chunks;

    #[test]
    fn batches_split_into_powers_of_two() {
        let sizes = |n: usize| -> Vec<usize> {
            power_of_two_chunks((0..n).collect())
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(13), [8, 4, 1]);
        assert_eq!(sizes(64), [64]);
        assert_eq!(sizes(63), [32, 16, 8, 4, 2, 1]);
        let order: Vec<Vec<u8>> = power_of_two_chunks(vec![1, 2, 3]);
        assert_eq!(order, [vec![1, 2], vec![3]]);
    }
}
