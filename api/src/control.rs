//! Changing a job's course: cancel and retry.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::lookup::load_job;
use crate::state::AppState;
use crate::views::JobView;
use agensium_domain::{Action, Job, JobId, JobStatus, TeamName, TransitionError};
use agensium_ports::segments::Segments;
use agensium_ports::{JobFilter, Signal, StoreError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use std::time::Duration;

/// `DELETE /v1/jobs/{id}`: cancels a queued or running job. A queued job
/// never starts; a running one is stopped by its worker (within a fraction
/// of a second). A finished job answers 409.
#[utoipa::path(delete, path = "/v1/jobs/{id}", operation_id = "cancel_job", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Cancelled", body = JobView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn cancel(
    auth: Auth,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = load_job(&st, &auth.caller, &id).await?;
    auth.require(Action::Control)?;
    if !cancel_one(&st, job.id).await? {
        let now = load_job(&st, &auth.caller, &id).await?;
        return Err(ApiError::conflict(
            "job_finished",
            refusal(&now, now.status.cancel()),
        ));
    }
    tracing::info!(job = %job.id, was = %job.status, by = %auth.caller.key_id, "job cancelled");
    Ok(Json(load_job(&st, &auth.caller, &id).await?.into()))
}

/// `POST /v1/jobs/{id}/retry`: runs a `failed` (or `cancelled`) job again
/// with its pinned processor digest, params and original input, under the
/// same id. Its attempts keep counting; `max_attempts` counts from here.
/// 409 for a job in any other state, 410 when its input is gone.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", operation_id = "retry_job", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 202, description = "Queued again", body = JobView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn retry(
    auth: Auth,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let (job, inline_input) =
        crate::lookup::load_job_body(&st, &auth.caller, &id, agensium_ports::JobBody::Input)
            .await?;
    auth.require(Action::Control)?;
    crate::jobs::check_queued_quota(&st, &auth).await?;
    if let Err(e) = job.status.retry() {
        return Err(ApiError::conflict(
            "job_not_retryable",
            refusal(&job, Err(e)),
        ));
    }
    // An inline input is in the row; only a larger one can be gone.
    let stored = match inline_input {
        Some(_) => Ok(Some(0)),
        None => {
            Segments::input_of(st.backends.objects.clone(), job.id)
                .first_size()
                .await
        }
    };
    match stored {
        Ok(Some(_)) => {}
        Ok(None) | Err(StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "input_gone",
                format!("the input of job {} is no longer stored", job.id),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    if !st.backends.meta.retry_job(job.id).await? {
        let now = load_job(&st, &auth.caller, &id).await?;
        return Err(ApiError::conflict(
            "job_not_retryable",
            refusal(&now, now.status.retry()),
        ));
    }
    // The answer is the job as the retry left it: read before its ticket
    // is on the rail, where a worker could start it first.
    let queued = load_job(&st, &auth.caller, &id).await?;
    if let Err(e) = st.backends.rail.push(job.id, &job.team).await {
        // The row is queued: the reconciler puts it back on the rail.
        tracing::warn!(job = %job.id, error = %e, "rail push failed; the job stays queued");
    }
    tracing::info!(job = %job.id, was = %job.status, by = %auth.caller.key_id, "job retried");
    Ok((StatusCode::ACCEPTED, Json(queued.into())))
}

/// Cancels job `id` if it is queued or running, and announces it: the fast
/// path to the worker running it (which also watches the row) and to the
/// requests waiting for the job's end. False when it was already final.
async fn cancel_one(st: &AppState, id: JobId) -> Result<bool, ApiError> {
    if !st.backends.meta.cancel_job(id).await? {
        return Ok(false);
    }
    for signal in Signal::ALL {
        if let Err(e) = st.backends.rail.announce(signal, id).await {
            tracing::warn!(job = %id, error = %e, ?signal, "announcing the cancellation failed");
        }
    }
    Ok(true)
}

/// Jobs cancelled per page while a disabled team's work is swept.
const SWEEP_PAGE: u32 = 500;

/// A disabled team runs nothing: cancels every queued and running job of
/// `team` now, and again once no API process accepts its keys any more
/// (the auth cache's life), for jobs accepted in between. Returns how
/// many the first sweep cancelled.
pub(crate) async fn cancel_team_jobs(st: &AppState, team: &TeamName) -> Result<u64, ApiError> {
    let cancelled = sweep_team(st, team).await?;
    let (later, team) = (st.clone(), team.clone());
    let wait = st.cache.ttl + Duration::from_millis(500);
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if let Err(e) = sweep_team(&later, &team).await {
            tracing::warn!(%team, error = %e, "sweeping a disabled team's jobs again failed");
        }
    });
    Ok(cancelled)
}

/// One pass over `team`'s queued and running jobs, cancelling each.
async fn sweep_team(st: &AppState, team: &TeamName) -> Result<u64, ApiError> {
    let mut cancelled = 0;
    for status in [JobStatus::Queued, JobStatus::Running] {
        let filter = JobFilter {
            team: Some(team),
            status: Some(status),
            processor: None,
        };
        let mut before = None;
        loop {
            let page = st
                .backends
                .meta
                .list_jobs(&filter, before, SWEEP_PAGE)
                .await?;
            for job in &page {
                cancelled += u64::from(cancel_one(st, job.id).await?);
            }
            match page.last() {
                Some(last) if page.len() == SWEEP_PAGE as usize => before = Some(last.id),
                _ => break,
            }
        }
    }
    if cancelled > 0 {
        tracing::info!(%team, cancelled, "a disabled team's jobs were cancelled");
    }
    Ok(cancelled)
}

/// Why the state machine refused a transition, for a 409.
fn refusal(job: &Job, t: Result<JobStatus, TransitionError>) -> String {
    match t {
        Err(e) => format!("job {}: {e}", job.id),
        Ok(_) => format!(
            "job {} changed meanwhile (now {}); try again",
            job.id, job.status
        ),
    }
}
