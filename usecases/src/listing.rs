//! Listing jobs: the caller's team's, or, for an operator, every team's or
//! one named team's.

use crate::{Refusal, Result};
use agensium_domain::{
    Action, Caller, Job, JobId, JobStatus, ProcessorName, Resource, authorize, scope,
};
use agensium_ports::{JobFilter, MetaStore};

/// What a job listing asks for.
#[derive(Debug, Default)]
pub struct JobQuery {
    /// One team's jobs (a caller that may not see it is answered
    /// `team_not_found`); default: the caller's, or every team's for an
    /// operator.
    pub team: Option<String>,
    /// Jobs in this state only.
    pub status: Option<JobStatus>,
    /// Jobs of this processor only.
    pub processor: Option<ProcessorName>,
    /// Jobs older than this one only (the previous page's last).
    pub before: Option<JobId>,
    /// Jobs at most.
    pub limit: u32,
}

/// Jobs, newest first, as `q` says, of the teams `caller` may see.
pub async fn jobs(meta: &dyn MetaStore, caller: &Caller, q: &JobQuery) -> Result<Vec<Job>> {
    let team = match &q.team {
        Some(raw) => Some(
            raw.parse()
                .ok()
                .filter(|t| authorize(caller, Action::Read, Resource::Team(t)).is_ok())
                .ok_or_else(|| {
                    Refusal::not_found("team_not_found", format!("no team named {raw:?}"))
                })?,
        ),
        None => scope(caller).cloned(),
    };
    let filter = JobFilter {
        team: team.as_ref(),
        status: q.status,
        processor: q.processor.as_ref(),
    };
    Ok(meta.list_jobs(&filter, q.before, q.limit).await?)
}
