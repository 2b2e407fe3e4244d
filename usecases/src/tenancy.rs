//! The rest of a team's administration: create and list teams, set a
//! quota (operators); add up a team's usage, read or rotate its webhook
//! signing secret (its admins).

use crate::{Refusal, Result};
use agensium_domain::{
    Action, Caller, Quota, Resource, Team, UsageReport, WebhookSecret, authorize,
};
use agensium_ports::MetaStore;
use chrono::{DateTime, Utc};

/// Finished jobs read per page while a usage report is added up.
const REPORT_PAGE: u32 = 1000;

fn operator(caller: &Caller) -> Result<()> {
    authorize(caller, Action::Operate, Resource::Fleet)
        .map_err(|d| Refusal::denied(d, || Refusal::Forbidden("not allowed to this key".into())))
}

/// Creates `team` (operators); `team_exists` when the name is taken.
pub async fn create(meta: &dyn MetaStore, caller: &Caller, team: Team) -> Result<Team> {
    operator(caller)?;
    if !meta.create_team(&team).await? {
        return Err(Refusal::conflict(
            "team_exists",
            format!("a team named {} exists", team.name),
        ));
    }
    tracing::info!(team = %team.name, by = %caller.key_id, "team created");
    Ok(team)
}

/// Every team, by name (operators).
pub async fn list(meta: &dyn MetaStore, caller: &Caller) -> Result<Vec<Team>> {
    operator(caller)?;
    Ok(meta.list_teams().await?)
}

/// Replaces `team`'s quota (operators; `team` as
/// [`crate::teams::find`] found it for [`Action::Operate`]).
pub async fn set_quota(
    meta: &dyn MetaStore,
    caller: &Caller,
    mut team: Team,
    quota: Quota,
) -> Result<Team> {
    operator(caller)?;
    if !meta.set_quota(&team.name, &quota).await? {
        return Err(Refusal::not_found(
            "team_not_found",
            format!("no team named {:?}", team.name.as_str()),
        ));
    }
    tracing::info!(team = %team.name, ?quota, by = %caller.key_id, "quota set");
    team.quota = quota;
    Ok(team)
}

/// `team`'s jobs that finished in `[from, to)`, added up.
pub async fn usage(
    meta: &dyn MetaStore,
    team: &Team,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<UsageReport> {
    let mut report = UsageReport::default();
    let mut after = None;
    loop {
        let page = meta
            .finished_jobs(&team.name, from, to, after, REPORT_PAGE)
            .await?;
        page.iter().for_each(|j| report.add(j));
        match page.last() {
            Some(last) if page.len() == REPORT_PAGE as usize => after = Some(last.id),
            _ => return Ok(report),
        }
    }
}

fn no_team() -> Refusal {
    Refusal::not_found("team_not_found", "no such team")
}

/// `team`'s webhook signing secret, created on first use.
pub async fn webhook_secret(meta: &dyn MetaStore, team: &Team) -> Result<WebhookSecret> {
    meta.webhook_secret(&team.name).await?.ok_or_else(no_team)
}

/// A new signing secret for `team`: deliveries from now on are signed
/// with it.
pub async fn rotate_webhook_secret(
    meta: &dyn MetaStore,
    caller: &Caller,
    team: &Team,
) -> Result<WebhookSecret> {
    let secret = WebhookSecret::generate().map_err(|e| Refusal::Unavailable {
        code: "internal",
        message: format!("no randomness for a secret: {e}"),
    })?;
    if !meta.set_webhook_secret(&team.name, &secret).await? {
        return Err(no_team());
    }
    tracing::info!(team = %team.name, key = %caller.key_id, "webhook secret rotated");
    Ok(secret)
}
