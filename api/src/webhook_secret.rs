//! A team's webhook signing secret: `GET /v1/teams/{team}/webhook-secret`
//! shows it (created on first use), `POST` replaces it. The team's admins,
//! and operators.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::teams::visible_team;
use agensium_domain::Action;
use agensium_usecases::tenancy;
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
    let secret = tenancy::webhook_secret(st.backends.meta.as_ref(), &team).await?;
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
    let meta = st.backends.meta.as_ref();
    let secret = tenancy::rotate_webhook_secret(meta, &auth.caller, &team).await?;
    Ok(Json(SecretView {
        team: team.name.to_string(),
        secret: secret.expose().to_owned(),
    }))
}
