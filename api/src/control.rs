//! Changing a job's course: cancel and retry (the use cases of
//! [`agensium_usecases::jobs`]).

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::JobView;
use agensium_usecases::jobs;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

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
    let job = jobs::cancel(&st.backends, &auth.caller, &id).await?;
    Ok(Json(job.into()))
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
    let job = jobs::retry(&st.backends, &auth.caller, &auth.team, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}
