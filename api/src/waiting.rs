//! Answers that wait for a job instead of being polled:
//! `GET /v1/jobs/{id}?wait=SECONDS` (long poll: the job once it is final,
//! or as it is after the wait) and `GET /v1/jobs/{id}/events` (Server-Sent
//! Events: a `status` event per state seen, then one `done` event).
//! A job's end reaches them through [`crate::finishes::Finishes`] within
//! milliseconds; they also reread the job row every [`RECHECK`].

use crate::auth::Auth;
use crate::error::ApiError;
use crate::holds::Hold;
use crate::lookup::load_job;
use crate::state::AppState;
use crate::views::JobView;
use agensium_domain::{Job, JobId};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest `?wait=`, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;
/// How often a waiting request rereads its job regardless of announcements
/// (a job that ends without one: dead-lettered by the reconciler, or an
/// announcement lost with a Redis connection). Events also use it to see
/// a job start.
const RECHECK: Duration = Duration::from_secs(1);

/// `GET /v1/jobs/{id}` with an optional `?wait=SECONDS` (0 to 60).
#[utoipa::path(get, path = "/v1/jobs/{id}", operation_id = "get_job", tag = "jobs",
    params(("id" = String, Path, description = "Job id"), ("wait" = Option<u32>, Query, minimum = 0, maximum = 60,
        description = "Hold the answer up to this many seconds, until the job is final")),
    responses((status = 200, description = "The job", body = JobView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn get(
    auth: Auth,
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<JobView>, ApiError> {
    let wait = wait_param(query.as_deref())?;
    let mut ends = st.finishes.subscribe();
    let deadline = Instant::now() + wait;
    let mut job = load_job(&st, &auth.caller, &id).await?;
    let waits = !job.status.is_final() && !wait.is_zero();
    let hold = waits
        .then(|| st.holds.take(&auth.caller.key_id))
        .transpose()?;
    let ended = hold.as_ref().map(Hold::ended).unwrap_or_default();
    while !job.status.is_final() && Instant::now() < deadline {
        let until = deadline.min(Instant::now() + RECHECK);
        tokio::select! {
            _ = next_change(&mut ends, job.id, until) => {}
            () = ended.cancelled() => return Err(key_stopped()),
        }
        job = load_job(&st, &auth.caller, &id).await?;
    }
    Ok(Json(job.into()))
}

/// The answer to a held request whose key stopped working meanwhile.
pub(crate) fn key_stopped() -> ApiError {
    ApiError::unauthorized(crate::holds::KEY_STOPPED)
}

/// The `wait` of a query string: unset is 0; 400 `invalid_wait` unless an
/// integer from 0 to [`MAX_WAIT_SECS`].
fn wait_param(query: Option<&str>) -> Result<Duration, ApiError> {
    let raw = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("wait="));
    raw.map_or(Ok(Duration::ZERO), wait_secs)
}

/// A `wait` value: 400 `invalid_wait` unless an integer from 0 to
/// [`MAX_WAIT_SECS`].
pub(crate) fn wait_secs(raw: &str) -> Result<Duration, ApiError> {
    match raw.parse::<u64>() {
        Ok(s) if s <= MAX_WAIT_SECS => Ok(Duration::from_secs(s)),
        _ => Err(ApiError::bad_request(
            "invalid_wait",
            format!("wait={raw:?}: seconds, 0 to {MAX_WAIT_SECS}"),
        )),
    }
}

/// Returns when `job`'s end is announced or the announcements fell behind
/// (true: reread the job), or at `until` (false).
pub(crate) async fn next_change(
    ends: &mut broadcast::Receiver<JobId>,
    job: JobId,
    until: Instant,
) -> bool {
    loop {
        tokio::select! {
            end = ends.recv() => match end {
                Ok(id) if id == job => return true,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return true,
                Err(RecvError::Closed) => {
                    tokio::time::sleep_until(until).await;
                    return false;
                }
            },
            () = tokio::time::sleep_until(until) => return false,
        }
    }
}

/// `GET /v1/jobs/{id}/events`: Server-Sent Events, `status` with the job
/// document each time its state changes (the first at once), then `done`
/// with the final document, and the stream ends.
#[utoipa::path(get, path = "/v1/jobs/{id}/events", operation_id = "job_events", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Server-Sent Events: `status` with the job at each change, then `done`",
        content_type = "text/event-stream", body = String), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn events(
    auth: Auth,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let ends = st.finishes.subscribe();
    let job = load_job(&st, &auth.caller, &id).await?;
    let hold = st.holds.take(&auth.caller.key_id)?;
    let watch = Watch {
        st,
        auth,
        id,
        ends,
        last: None,
        next: Some(job),
        ended: hold.ended(),
        _hold: hold,
    };
    let stream = futures::stream::unfold(watch, Watch::step);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The state of one events stream.
struct Watch {
    st: AppState,
    auth: Auth,
    id: String,
    ends: broadcast::Receiver<JobId>,
    /// The state last sent; `None` before the first event.
    last: Option<Job>,
    /// A document read but not sent yet.
    next: Option<Job>,
    /// Cancelled when the key stops working: the stream ends.
    ended: CancellationToken,
    /// The key's held answer, given back when the stream ends or its
    /// client goes.
    _hold: Hold,
}

impl Watch {
    /// The next event, or `None` after `done` (or when the job vanished).
    async fn step(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if self.ended.is_cancelled() || self.last.as_ref().is_some_and(|j| j.status.is_final()) {
            return None;
        }
        let job = loop {
            if let Some(job) = self.next.take() {
                if self.last.as_ref().map(|j| j.status) != Some(job.status) {
                    break job;
                }
                let id = job.id;
                tokio::select! {
                    _ = next_change(&mut self.ends, id, Instant::now() + RECHECK) => {}
                    () = self.ended.cancelled() => return None,
                }
            }
            self.next = Some(load_job(&self.st, &self.auth.caller, &self.id).await.ok()?);
        };
        let name = if job.status.is_final() {
            "done"
        } else {
            "status"
        };
        let view: JobView = job.clone().into();
        let event = Event::default()
            .event(name)
            .json_data(&view)
            .unwrap_or_else(|_| Event::default().event(name));
        self.last = Some(job);
        Some((Ok(event), self))
    }
}
