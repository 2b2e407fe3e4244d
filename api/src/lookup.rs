//! Finding a job a caller names: by id, and only when the caller may see
//! it (404 otherwise, as for a job that does not exist).

use crate::error::ApiError;
use crate::state::AppState;
use agensium_domain::{Caller, Job, JobId, sees_team};
use agensium_ports::JobBody;

/// The job `raw` names, when `caller` may see it (its team's, or any for
/// an operator); 404 otherwise, the same answer as for a job that does
/// not exist.
pub(crate) async fn load_job(st: &AppState, caller: &Caller, raw: &str) -> Result<Job, ApiError> {
    let id = job_id(raw)?;
    st.backends
        .meta
        .get_job(id)
        .await?
        .filter(|j| sees_team(caller, &j.team))
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job {id}")))
}

/// [`load_job`] with one of its bodies when that is kept inline.
pub(crate) async fn load_job_body(
    st: &AppState,
    caller: &Caller,
    raw: &str,
    body: JobBody,
) -> Result<(Job, Option<bytes::Bytes>), ApiError> {
    let id = job_id(raw)?;
    st.backends
        .meta
        .get_job_body(id, body)
        .await?
        .filter(|(j, _)| sees_team(caller, &j.team))
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job {id}")))
}

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse()
        .map_err(|e: agensium_domain::InvalidInput| ApiError::not_found("job_not_found", e.0))
}
