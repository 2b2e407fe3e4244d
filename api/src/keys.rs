//! A team's API keys: `POST/GET /v1/teams/{team}/keys`,
//! `DELETE /v1/teams/{team}/keys/{id}` (the team's admins, and operators).

use crate::auth::Auth;
use crate::error::{ApiError, JsonBody};
use crate::state::AppState;
use crate::teams::visible_team;
use agensium_domain::{Action, KeyRecord, Role};
use agensium_usecases::keys;
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
    let new = keys::NewKey {
        role: new.role,
        name: new.name,
        expires_in_secs: new.expires_in_secs,
    };
    let (rec, key) = keys::mint(st.backends.meta.as_ref(), &auth.caller, &team, new).await?;
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
    let found = keys::list(st.backends.meta.as_ref(), &team).await?;
    let keys = found.into_iter().map(KeyView::from).collect();
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
    keys::revoke(st.backends.meta.as_ref(), &auth.caller, &team, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
