//! Teams as their operators and admins see them: find one, disable one
//! (which cancels its work).

use crate::{Refusal, Result, jobs};
use agensium_domain::{Action, Caller, JobStatus, Resource, Team, TeamName, authorize};
use agensium_ports::{Backends, JobFilter, MetaStore};
use std::time::Duration;

/// Jobs cancelled per page while a disabled team's work is swept.
const SWEEP_PAGE: u32 = 500;

fn not_found(raw: &str) -> Refusal {
    Refusal::not_found("team_not_found", format!("no team named {raw:?}"))
}

/// The team named `raw`, when `caller` may see it and take `action` on it:
/// [`Refusal::NotFound`] when it may not see it (the same answer as for a
/// team that does not exist), [`Refusal::Forbidden`] when it sees it but
/// may not do this.
pub async fn find(
    meta: &dyn MetaStore,
    caller: &Caller,
    raw: &str,
    action: Action,
) -> Result<Team> {
    let name: TeamName = raw.parse().map_err(|_| not_found(raw))?;
    authorize(caller, action, Resource::Team(&name))
        .map_err(|d| Refusal::denied(d, || not_found(raw)))?;
    meta.get_team(&name).await?.ok_or_else(|| not_found(raw))
}

/// Disables (`true`) or enables `team`, as an operator. A disabled team's
/// keys are refused and it runs nothing: its queued and running jobs are
/// cancelled now, and again once no API process accepts its keys (after
/// `keys_trusted_for`, the auth cache's life), for jobs accepted meanwhile.
/// An operator cannot disable its own team (it would lock itself out).
pub async fn set_disabled(
    b: &Backends,
    caller: &Caller,
    mut team: Team,
    disabled: bool,
    keys_trusted_for: Duration,
) -> Result<Team> {
    if disabled && team.name == caller.team {
        return Err(Refusal::conflict(
            "own_team",
            "an operator cannot disable its own team; use an operator key of another team",
        ));
    }
    if !b.meta.set_disabled(&team.name, disabled).await? {
        return Err(not_found(team.name.as_str()));
    }
    tracing::info!(team = %team.name, disabled, by = %caller.key_id, "team changed");
    team.disabled = disabled;
    if disabled {
        // The second sweep is on its way before the first runs: a request
        // that goes away, or a first sweep that fails, still has one.
        let (later, name) = (b.clone(), team.name.clone());
        tokio::spawn(async move {
            tokio::time::sleep(keys_trusted_for + Duration::from_millis(500)).await;
            sweep_if_disabled(&later, &name).await;
        });
        if let Err(e) = cancel_all_jobs(b, &team.name).await {
            tracing::warn!(team = %team.name, error = %e, "sweeping a disabled team's jobs failed; the second sweep follows");
        }
    }
    Ok(team)
}

/// Cancels `team`'s unfinished jobs if it is still disabled (it may have
/// been enabled again meanwhile: then its new jobs run).
async fn sweep_if_disabled(b: &Backends, team: &TeamName) {
    match b.meta.get_team(team).await {
        Ok(Some(t)) if t.disabled => {
            if let Err(e) = cancel_all_jobs(b, team).await {
                tracing::warn!(%team, error = %e, "sweeping a disabled team's jobs again failed");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(%team, error = %e, "rereading a disabled team failed"),
    }
}

/// One pass over `team`'s queued and running jobs, cancelling each; how
/// many it cancelled.
pub async fn cancel_all_jobs(b: &Backends, team: &TeamName) -> Result<u64> {
    let mut cancelled = 0;
    for status in [JobStatus::Queued, JobStatus::Running] {
        let filter = JobFilter {
            team: Some(team),
            status: Some(status),
            processor: None,
        };
        let mut before = None;
        loop {
            let page = b.meta.list_jobs(&filter, before, SWEEP_PAGE).await?;
            for job in &page {
                cancelled += u64::from(jobs::cancel_one(b, job.id).await?);
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
