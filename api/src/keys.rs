//! A team's API keys: `POST/GET /v1/teams/{team}/keys`,
//! `DELETE /v1/teams/{team}/keys/{id}` (the team's admins, and operators).

use crate::auth::Auth;
use crate::error::{ApiError, JsonBody};
use crate::state::AppState;
use crate::teams::visible_team;
use agensium_domain::{
    Action, ApiKey, KeyId, KeyRecord, MAX_KEY_NAME, Resource, Role, now_to_the_millisecond,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A team's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    keys: Vec<KeyView>,
}

/// A key as listed: never its secret or hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    id: String,
    team: String,
    #[schema(value_type = String)]
    role: Role,
    name: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    /// The whole key: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl From<KeyRecord> for KeyView {
    fn from(k: KeyRecord) -> Self {
        Self {
            id: k.id.to_string(),
            team: k.team.to_string(),
            role: k.role,
            name: k.name,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            key: None,
        }
    }
}

/// The body of `POST /v1/teams/{team}/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// reader, submitter, publisher, admin or operator.
    #[schema(value_type = String)]
    role: Role,
    #[serde(default)]
    name: String,
    /// Seconds until the key stops working; none: never.
    expires_in_secs: Option<u64>,
}

/// `POST /v1/teams/{team}/keys`: a new key, shown once.
#[utoipa::path(post, path = "/v1/teams/{team}/keys", operation_id = "create_key", tag = "teams", params(("team" = String, Path, description = "Team name")),
    request_body = NewKey,
    responses((status = 201, description = "The key, with its secret (shown once)", body = KeyView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn create(
    auth: Auth,
    State(st): State<AppState>,
    Path(team): Path<String>,
    body: JsonBody<NewKey>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let team = visible_team(&st, &auth, &team, Action::Administer).await?;
    let Json(new) = body?;
    let minted = Resource::Key {
        team: &team.name,
        role: new.role,
    };
    auth.allow(Action::Administer, minted, || {
        unreachable_hidden(&team.name)
    })?;
    if new.name.len() > MAX_KEY_NAME || new.name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a key's name is at most {MAX_KEY_NAME} bytes, without control characters"),
        ));
    }
    let expires_at = match new.expires_in_secs {
        None => None,
        Some(0) => {
            return Err(ApiError::bad_request(
                "invalid_expiry",
                "expires_in_secs must be at least 1 (omit it for a key that does not expire)",
            ));
        }
        Some(s) => Some(
            i64::try_from(s)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .and_then(|d| now_to_the_millisecond().checked_add_signed(d))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_expiry", "expires_in_secs is too large")
                })?,
        ),
    };
    let key = ApiKey::generate().map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_randomness",
            e.to_string(),
        )
    })?;
    let rec = KeyRecord::new(&key, team.name, new.role, new.name, expires_at);
    st.backends.meta.insert_key(&rec).await?;
    tracing::info!(team = %rec.team, key = %rec.id, role = %rec.role, by = %auth.caller.key_id, "API key created");
    let mut view = KeyView::from(rec);
    view.key = Some(key.expose().to_owned());
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/teams/{team}/keys`.
#[utoipa::path(get, path = "/v1/teams/{team}/keys", operation_id = "list_keys", tag = "teams", params(("team" = String, Path, description = "Team name")),
    responses((status = 200, description = "The team's keys (never their secrets)", body = KeyList), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn list(
    auth: Auth,
    State(st): State<AppState>,
    Path(team): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    let team = visible_team(&st, &auth, &team, Action::Administer).await?;
    let keys: Vec<KeyView> = st
        .backends
        .meta
        .list_keys(&team.name)
        .await?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(KeyList { keys }))
}

/// `DELETE /v1/teams/{team}/keys/{id}`: revokes a key, at once, on every
/// API process.
#[utoipa::path(delete, path = "/v1/teams/{team}/keys/{id}", operation_id = "revoke_key", tag = "teams",
    params(("team" = String, Path, description = "Team name"), ("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked"), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn revoke(
    auth: Auth,
    State(st): State<AppState>,
    Path((team, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let team = visible_team(&st, &auth, &team, Action::Administer).await?;
    let missing = || {
        ApiError::not_found(
            "key_not_found",
            format!("team {} has no live key {id}", team.name),
        )
    };
    let Ok(key_id) = id.parse::<KeyId>() else {
        return Err(missing());
    };
    if key_id == auth.caller.key_id {
        return Err(ApiError::conflict(
            "own_key",
            "a key cannot revoke itself; revoke it with another key of the team",
        ));
    }
    let role = live_key_role(&st, &team.name, &key_id)
        .await?
        .ok_or_else(missing)?;
    let target = Resource::Key {
        team: &team.name,
        role,
    };
    auth.allow(Action::Administer, target, missing)?;
    if !st.backends.meta.revoke_key(&team.name, &key_id).await? {
        return Err(missing());
    }
    tracing::info!(team = %team.name, key = %key_id, by = %auth.caller.key_id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The role of `team`'s live (not revoked) key `id`, if there is one.
async fn live_key_role(
    st: &AppState,
    team: &agensium_domain::TeamName,
    id: &KeyId,
) -> Result<Option<Role>, ApiError> {
    let found = st.backends.meta.key_and_team(id).await?;
    Ok(found
        .filter(|(rec, _)| rec.team == *team && rec.revoked_at.is_none())
        .map(|(rec, _)| rec.role))
}

/// A team [`visible_team`] let through is never hidden.
fn unreachable_hidden(team: &agensium_domain::TeamName) -> ApiError {
    ApiError::not_found("team_not_found", format!("no team named {team}"))
}
