//! Teams: create, disable and set quotas (operators); read a team and its
//! usage report; `whoami`.

use crate::auth::Auth;
use crate::error::{ApiError, JsonBody};
use crate::forms::query_pairs;
use crate::state::AppState;
use agensium_domain::{Action, Quota, Team, TeamName, now_to_the_millisecond};
use agensium_usecases::teams;
use agensium_usecases::tenancy;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest span of one usage report, in days.
const MAX_REPORT_DAYS: i64 = 366;

/// A team as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    name: String,
    disabled: bool,
    #[schema(value_type = crate::schemas::Quota)]
    quota: Quota,
    created_at: DateTime<Utc>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        Self {
            name: t.name.to_string(),
            disabled: t.disabled,
            quota: t.quota,
            created_at: t.created_at,
        }
    }
}

/// The team named `raw`, when the caller may see it and take `action` on
/// it ([`agensium_usecases::teams::find`]): 404 when it may not see it
/// (as for a team that does not exist), 403 when it may not do this.
pub async fn visible_team(
    st: &AppState,
    auth: &Auth,
    raw: &str,
    action: Action,
) -> Result<Team, ApiError> {
    Ok(teams::find(st.backends.meta.as_ref(), &auth.caller, raw, action).await?)
}

/// The body of `POST /v1/teams`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    name: String,
    #[serde(default)]
    #[schema(value_type = crate::schemas::Quota)]
    quota: Quota,
}

/// `POST /v1/teams` (operators): 201, or 409 when the name is taken.
#[utoipa::path(post, path = "/v1/teams", operation_id = "create_team", tag = "teams", request_body = NewTeam,
    responses((status = 201, description = "Created", body = TeamView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn create(
    auth: Auth,
    State(st): State<AppState>,
    body: JsonBody<NewTeam>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    auth.require(Action::Operate)?;
    let Json(new) = body?;
    let name: TeamName = new
        .name
        .parse()
        .map_err(|e: agensium_domain::InvalidInput| ApiError::bad_request("invalid_name", e.0))?;
    check_quota(&st, &new.quota)?;
    let team = Team {
        name,
        disabled: false,
        quota: new.quota,
        created_at: now_to_the_millisecond(),
    };
    let team = tenancy::create(st.backends.meta.as_ref(), &auth.caller, team).await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// `GET /v1/teams` (operators).
#[utoipa::path(get, path = "/v1/teams", operation_id = "list_teams", tag = "teams",
    responses((status = 200, description = "Every team (operators)", body = TeamList), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn list(auth: Auth, State(st): State<AppState>) -> Result<Json<TeamList>, ApiError> {
    auth.require(Action::Operate)?;
    let teams = tenancy::list(st.backends.meta.as_ref(), &auth.caller).await?;
    let teams = teams.into_iter().map(TeamView::from).collect();
    Ok(Json(TeamList { teams }))
}

/// `GET /v1/teams/{team}`: the caller's own team (any team for operators).
#[utoipa::path(get, path = "/v1/teams/{team}", operation_id = "get_team", tag = "teams", params(("team" = String, Path, description = "Team name")),
    responses((status = 200, description = "The team", body = TeamView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn get(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<TeamView>, ApiError> {
    Ok(Json(
        visible_team(&st, &auth, &raw, Action::Read).await?.into(),
    ))
}

/// The body of `PATCH /v1/teams/{team}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    disabled: bool,
}

/// `PATCH /v1/teams/{team}` (operators): `{"disabled": true}` refuses
/// every key of the team at once; `false` lets them in again.
#[utoipa::path(patch, path = "/v1/teams/{team}", operation_id = "patch_team", tag = "teams", params(("team" = String, Path, description = "Team name")),
    request_body = TeamPatch,
    responses((status = 200, description = "The team", body = TeamView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn patch(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw): Path<String>,
    body: JsonBody<TeamPatch>,
) -> Result<Json<TeamView>, ApiError> {
    let team = visible_team(&st, &auth, &raw, Action::Operate).await?;
    let Json(p) = body?;
    let ttl = st.keys_trusted_for;
    let team = teams::set_disabled(&st.backends, &auth.caller, team, p.disabled, ttl).await?;
    Ok(Json(team.into()))
}

fn check_quota(st: &AppState, q: &Quota) -> Result<(), ApiError> {
    let ceiling = st.limits.max_upload_bytes;
    if q.max_input_bytes.is_some_and(|b| b == 0 || b > ceiling) {
        return Err(ApiError::bad_request(
            "invalid_quota",
            format!("max_input_bytes must be between 1 and the operator's ceiling {ceiling}"),
        ));
    }
    if q.max_queued == Some(0) || q.max_running == Some(0) || q.retention_secs == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_quota",
            "max_queued, max_running and retention_secs must be at least 1 (omit them for none)",
        ));
    }
    Ok(())
}

/// `PUT /v1/teams/{team}/quota` (operators): replaces the team's quota.
#[utoipa::path(put, path = "/v1/teams/{team}/quota", operation_id = "put_quota", tag = "teams", params(("team" = String, Path, description = "Team name")),
    request_body = crate::schemas::Quota,
    responses((status = 200, description = "The team", body = TeamView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn put_quota(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw): Path<String>,
    body: JsonBody<Quota>,
) -> Result<Json<TeamView>, ApiError> {
    let team = visible_team(&st, &auth, &raw, Action::Operate).await?;
    let Json(quota) = body?;
    check_quota(&st, &quota)?;
    let meta = st.backends.meta.as_ref();
    let team = tenancy::set_quota(meta, &auth.caller, team, quota).await?;
    Ok(Json(team.into()))
}

/// `GET /v1/whoami`: the key's id, team and role.
#[utoipa::path(get, path = "/v1/whoami", operation_id = "whoami", tag = "teams",
    responses((status = 200, description = "The caller", body = WhoAmI), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn whoami(auth: Auth) -> Json<WhoAmI> {
    Json(WhoAmI {
        key_id: auth.caller.key_id.to_string(),
        team: auth.caller.team.to_string(),
        role: auth.caller.role.as_str().to_owned(),
    })
}

/// Who the caller's key is.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// The key's public id.
    key_id: String,
    /// Its team.
    team: String,
    /// Its role: reader, submitter, publisher, admin or operator.
    role: String,
}

/// Every team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamList {
    teams: Vec<TeamView>,
}

/// A team's usage report.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    team: String,
    /// First day, YYYY-MM-DD.
    from: String,
    /// Last day, YYYY-MM-DD.
    to: String,
    /// The days with finished jobs.
    #[schema(value_type = Vec<crate::schemas::DayUsage>)]
    days: Vec<agensium_domain::DayUsage>,
}

/// `from` and `to` (inclusive UTC days) of a usage query; the last 30 days
/// by default.
fn report_span(query: Option<&str>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let today = now_to_the_millisecond().date_naive();
    let (mut from, mut to) = (today - chrono::Duration::days(29), today);
    for (k, v) in query_pairs(query.unwrap_or(""))? {
        let day = || {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                ApiError::bad_request("invalid_date", format!("{k}={v:?}: expected YYYY-MM-DD"))
            })
        };
        match k.as_str() {
            "from" => from = day()?,
            "to" => to = day()?,
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_query_parameter",
                    format!("unknown query parameter {k:?}: use from and to (YYYY-MM-DD)"),
                ));
            }
        }
    }
    let days = (to - from).num_days();
    if !(0..MAX_REPORT_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_date",
            format!("from must not be after to, and a report spans at most {MAX_REPORT_DAYS} days"),
        ));
    }
    Ok((from, to))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// `GET /v1/teams/{team}/usage?from=YYYY-MM-DD&to=YYYY-MM-DD` (the team's
/// admins, operators): finished jobs per day by outcome, wall time, fuel,
/// peak memory and bytes in and out.
#[utoipa::path(get, path = "/v1/teams/{team}/usage", operation_id = "team_usage", tag = "teams",
    params(("team" = String, Path, description = "Team name"),
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (default: 29 days ago)"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default: today)")),
    responses((status = 200, description = "Usage per day", body = UsageView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn usage(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<UsageView>, ApiError> {
    let team = visible_team(&st, &auth, &raw, Action::Administer).await?;
    let (from, to) = report_span(query.as_deref())?;
    let (start, end) = (start_of(from), start_of(to + chrono::Duration::days(1)));
    let report = tenancy::usage(st.backends.meta.as_ref(), &team, start, end).await?;
    Ok(Json(UsageView {
        team: team.name.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        days: report.days(),
    }))
}
