//! Finding a job a caller names ([`agensium_usecases::jobs::find`]): by
//! id, and only when the caller may see it (404 otherwise, as for a job
//! that does not exist).

use crate::error::ApiError;
use crate::state::AppState;
use agensium_domain::{Caller, Job};
use agensium_ports::JobBody;
use agensium_usecases::jobs;

/// The job `raw` names, when `caller` may see it.
pub(crate) async fn load_job(st: &AppState, caller: &Caller, raw: &str) -> Result<Job, ApiError> {
    Ok(jobs::find(st.backends.meta.as_ref(), caller, raw).await?)
}

/// [`load_job`] with one of its bodies when that is kept inline.
pub(crate) async fn load_job_body(
    st: &AppState,
    caller: &Caller,
    raw: &str,
    body: JobBody,
) -> Result<(Job, Option<bytes::Bytes>), ApiError> {
    Ok(jobs::find_with(st.backends.meta.as_ref(), caller, raw, body).await?)
}
