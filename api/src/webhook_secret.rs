//! A team's webhook signing secret: `GET /v1/teams/{team}/webhook-secret`
//! shows it (created on first use), `POST` replaces it. The team's admins,
//! and operators.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::teams::visible_team;
use agensium_domain::{Action, WebhookSecret};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

/// The answer of both routes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretView {
    /// The team.
    team: String,
    /// `whsec_…`: the HMAC-SHA256 key of the `Agensium-Signature` header.
    secret: String,
}

/// `GET /v1/teams/{team}/webhook-secret`.
#[utoipa::path(get, path = "/v1/teams/{team}/webhook-secret", operation_id = "get_webhook_secret", tag = "teams", params(("team" = String, Path, description = "Team name")),
    responses((status = 200, description = "The signing secret (created on first use)", body = SecretView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn get(
    auth: Auth,
    State(st): State<AppState>,
    Path(team): Path<String>,
) -> Result<Json<SecretView>, ApiError> {
    let team = visible_team(&st, &auth, &team, Action::Administer).await?;
    let secret = st
        .backends
        .meta
        .webhook_secret(&team.name)
        .await?
        .ok_or_else(|| ApiError::not_found("team_not_found", "no such team"))?;
    Ok(Json(SecretView {
        team: team.name.to_string(),
        secret: secret.expose().to_owned(),
    }))
}

/// `POST /v1/teams/{team}/webhook-secret`: a new secret; deliveries from
/// now on are signed with it.
#[utoipa::path(post, path = "/v1/teams/{team}/webhook-secret", operation_id = "rotate_webhook_secret", tag = "teams", params(("team" = String, Path, description = "Team name")),
    responses((status = 200, description = "A new signing secret", body = SecretView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn rotate(
    auth: Auth,
    State(st): State<AppState>,
    Path(team): Path<String>,
) -> Result<Json<SecretView>, ApiError> {
    let team = visible_team(&st, &auth, &team, Action::Administer).await?;
    let secret = WebhookSecret::generate().map_err(|e| {
        ApiError::incident(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "no randomness for a secret",
            &e,
        )
    })?;
    if !st
        .backends
        .meta
        .set_webhook_secret(&team.name, &secret)
        .await?
    {
        return Err(ApiError::not_found("team_not_found", "no such team"));
    }
    tracing::info!(team = %team.name, key = %auth.caller.key_id, "webhook secret rotated");
    Ok(Json(SecretView {
        team: team.name.to_string(),
        secret: secret.expose().to_owned(),
    }))
}
