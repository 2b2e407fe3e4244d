//! A job's result, read whole or followed while it is written:
//! `GET /v1/jobs/{id}/result?wait=SECONDS&follow=true`.
//!
//! `wait` holds the request until the job ends (as on the job itself).
//! `follow` also starts the answer as soon as the running attempt has
//! stored its first output segment ([`agensium_ports::segments`]): the body
//! is the output as the worker writes it, so the download overlaps the
//! run. The processor's content type and the size are not known then: a
//! followed answer is `application/octet-stream`, chunked, marked
//! `Agensium-Streaming: true`. It ends normally only when that attempt
//! finished the job with exactly those bytes; if the attempt fails, is
//! cancelled or loses its lease, the body is cut off without its last
//! chunk, so no client takes a partial output for a result.

use crate::error::ApiError;
use crate::holds::Hold;
use crate::state::AppState;
use crate::waiting::next_change;
use agensium_domain::{Job, JobId, JobStatus};
use agensium_ports::ByteStream;
use agensium_ports::segments::Segments;
use agensium_usecases::results;
use axum::body::Body;
use axum::http::HeaderValue;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use std::io;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How soon a follower looks again for a segment not stored yet; the wait
/// doubles while it stays missing, up to [`MAX_POLL`].
const POLL: Duration = Duration::from_millis(25);
/// The longest wait between two looks for a segment (a slow processor's
/// follower makes at most a few object-store requests a second).
const MAX_POLL: Duration = Duration::from_millis(500);
/// How often it rereads the job row meanwhile (its end is also announced).
const RECHECK: Duration = Duration::from_secs(1);
/// Chunks queued between the reading task and the connection.
const QUEUE: usize = 8;
/// The header that marks a followed answer.
pub const STREAMING: &str = "agensium-streaming";

/// The stored output of the attempt that finished `job`: its segments, or
/// the one object of a job finished before outputs were segmented.
pub async fn stored(st: &AppState, job: &Job) -> Result<ByteStream, ApiError> {
    let segments = output(st, job.id, job.attempts);
    Ok(segments
        .read_or_whole(job.output_bytes.unwrap_or(0))
        .await?)
}

/// Waits until `wait` passes, the job ends, or (with `follow`) its running
/// attempt stored a first segment. Returns the followed answer in the last
/// case, else `None`: the caller answers from the job row. `hold` is the
/// caller's held answer, kept by a followed answer until it ends.
pub async fn wait(
    st: &AppState,
    mut job: Job,
    wait: Duration,
    follow: bool,
    hold: Hold,
) -> Result<Option<Response>, ApiError> {
    let mut ends = st.finishes.subscribe();
    let ended = hold.ended();
    let deadline = Instant::now() + wait;
    let (mut reread, mut poll) = (Instant::now() + RECHECK, POLL);
    loop {
        if job.status.is_final() {
            return Ok(None);
        }
        if follow {
            // Queued: its next attempt; running: the current one.
            let attempt = match job.status {
                JobStatus::Queued => job.attempts + 1,
                _ => job.attempts,
            };
            let segments = output(st, job.id, attempt);
            if let Some(first) = segments.open(0).await? {
                let followed = streaming(st, job.id, attempt, segments, first, hold);
                return Ok(Some(followed));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let tick = if follow { now + poll } else { reread };
        let until = tick.min(deadline).min(reread);
        let announced = tokio::select! {
            a = next_change(&mut ends, job.id, until) => a,
            () = ended.cancelled() => return Err(crate::waiting::key_stopped()),
        };
        poll = (poll * 2).min(MAX_POLL);
        if announced || Instant::now() >= reread {
            job = current(st, job.id).await?;
            reread = Instant::now() + RECHECK;
        }
    }
}

fn output(st: &AppState, id: JobId, attempt: u32) -> Segments {
    results::output(&st.backends, id, attempt)
}

/// The job as the store has it now.
async fn current(st: &AppState, id: JobId) -> Result<Job, ApiError> {
    Ok(results::current(st.backends.meta.as_ref(), id).await?)
}

/// The followed answer: segment 0 (`first`) and the next ones of
/// `attempt` as they are stored, read by a task of its own that keeps the
/// caller's `hold` until it ends.
fn streaming(
    st: &AppState,
    id: JobId,
    attempt: u32,
    segments: Segments,
    first: ByteStream,
    hold: Hold,
) -> Response {
    let (tx, rx) = mpsc::channel(QUEUE);
    let follower = Follower {
        st: st.clone(),
        id,
        attempt,
        segments,
        ends: st.finishes.subscribe(),
        tx,
        sent: 0,
        ended: hold.ended(),
        _hold: hold,
    };
    tokio::spawn(follower.run(first));
    let body =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut resp = Response::new(Body::from_stream(body));
    crate::result_headers::set(resp.headers_mut(), id, None, false);
    resp.headers_mut()
        .insert(STREAMING, HeaderValue::from_static("true"));
    resp
}

/// Reads one attempt's segments in order as they appear.
struct Follower {
    st: AppState,
    id: JobId,
    attempt: u32,
    segments: Segments,
    ends: broadcast::Receiver<JobId>,
    tx: mpsc::Sender<io::Result<Bytes>>,
    sent: u64,
    /// Cancelled when the caller's key stops working: the body is cut off.
    ended: CancellationToken,
    /// The caller's held answer, given back when the follower ends.
    _hold: Hold,
}

/// The error that cuts off a followed body whose key stopped working.
fn key_stopped() -> io::Error {
    io::Error::other(crate::holds::KEY_STOPPED)
}

impl Follower {
    /// Forwards every segment; ends the body normally only when the
    /// attempt finished the job with as many bytes, else with an error.
    async fn run(mut self, first: ByteStream) {
        let (mut n, mut body) = (0u32, first);
        loop {
            if !self.forward(body).await {
                return;
            }
            n += 1;
            body = match self.next_segment(n).await {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(why) => {
                    let e = io::Error::other(format!(
                        "job {}: attempt {} did not finish with this output: {why}",
                        self.id, self.attempt
                    ));
                    tracing::info!(job = %self.id, "a followed result was cut off: {e}");
                    let _ = self.tx.send(Err(e)).await;
                    return;
                }
            };
        }
    }

    /// Sends a segment's chunks; false when the client left or a read failed.
    async fn forward(&mut self, mut body: ByteStream) -> bool {
        loop {
            let chunk = tokio::select! {
                c = body.next() => match c {
                    Some(c) => c,
                    None => return true,
                },
                () = self.ended.cancelled() => Err(key_stopped()),
            };
            let failed = chunk.is_err();
            if let Ok(c) = &chunk {
                self.sent += c.len() as u64;
            }
            if self.tx.send(chunk).await.is_err() || failed {
                return false;
            }
        }
    }

    /// Segment `n` once stored; `None` when the output is complete or the
    /// client left; an error when the attempt ended otherwise.
    async fn next_segment(&mut self, n: u32) -> Result<Option<ByteStream>, String> {
        let (mut reread, mut poll) = (Instant::now() + RECHECK, POLL);
        loop {
            // The client left: no reason to watch the job any longer.
            if self.tx.is_closed() {
                return Ok(None);
            }
            if let Some(s) = self.segments.open(n).await.map_err(|e| e.to_string())? {
                return Ok(Some(s));
            }
            let until = (Instant::now() + poll).min(reread);
            let announced = tokio::select! {
                a = next_change(&mut self.ends, self.id, until) => a,
                () = self.ended.cancelled() => return Err(crate::holds::KEY_STOPPED.into()),
            };
            poll = (poll * 2).min(MAX_POLL);
            if !announced && Instant::now() < reread {
                continue;
            }
            reread = Instant::now() + RECHECK;
            let job = current(&self.st, self.id)
                .await
                .map_err(|e| e.to_string())?;
            match job.status {
                JobStatus::Running if job.attempts == self.attempt => {}
                JobStatus::Succeeded if job.attempts == self.attempt => {
                    return self.complete(&job, n).await;
                }
                s => return Err(format!("the job is {s} (attempt {})", job.attempts)),
            }
        }
    }

    /// The attempt finished the job: the body is complete when every byte
    /// was sent, else the segment it stored before finishing comes next.
    async fn complete(&mut self, job: &Job, n: u32) -> Result<Option<ByteStream>, String> {
        let total = job.output_bytes.unwrap_or(0);
        if self.sent == total {
            return Ok(None);
        }
        match self.segments.open(n).await.map_err(|e| e.to_string())? {
            Some(s) if self.sent < total => Ok(Some(s)),
            _ => Err(format!(
                "{} bytes sent, the job's output has {total}",
                self.sent
            )),
        }
    }
}
