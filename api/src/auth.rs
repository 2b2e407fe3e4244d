//! Authentication: `Authorization: Bearer <key>` → the [`Caller`] a request
//! acts as. A key is looked up in the metadata store (one indexed read
//! joining the key and its team) and trusted for the cache's time to live
//! (`AGENSIUM_CACHE_TTL_MS`): a key revoked, or a team disabled, through
//! this process is refused at once, through another within that time. The
//! secret is checked against the record on every request.

use crate::error::ApiError;
use crate::shares::{InFlight, ReservedConnection, reserved_refusal};
use crate::state::AppState;
use agensium_domain::{Action, ApiKey, Caller, Denied, Resource, Team, authorize, operates};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::sync::Arc;

/// An authenticated request: who calls, and their team as stored now.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The caller.
    pub caller: Caller,
    /// The caller's team (quota, …).
    pub team: Team,
    /// The request's place in its key's and team's shares of the edge
    /// (none for operators), held while the handler runs.
    _in_flight: Option<Arc<InFlight>>,
}

impl Auth {
    /// The caller, if [`authorize`] lets it take `action` on `resource`;
    /// `hidden()` when it may not see the resource (the answer for a
    /// missing one), 403 when it sees it but may not do this.
    pub fn allow(
        &self,
        action: Action,
        resource: Resource<'_>,
        hidden: impl FnOnce() -> ApiError,
    ) -> Result<&Caller, ApiError> {
        match authorize(&self.caller, action, resource) {
            Ok(()) => Ok(&self.caller),
            Err(Denied::Hidden) => Err(hidden()),
            Err(Denied::Forbidden(why)) => Err(ApiError::forbidden(why)),
        }
    }

    /// The caller, if its role alone allows `action` (on nothing in
    /// particular: its own team's things, or the installation); 403
    /// otherwise.
    pub fn require(&self, action: Action) -> Result<&Caller, ApiError> {
        self.allow(action, Resource::Fleet, || {
            ApiError::forbidden("not allowed to this key")
        })
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        let (rec, team) = agensium_usecases::authenticate(&st.backends.meta, &key).await?;
        let caller = Caller {
            key_id: rec.id,
            team: team.name.clone(),
            role: rec.role,
        };
        if parts.extensions.get::<ReservedConnection>().is_some() && !operates(&caller) {
            return Err(reserved_refusal());
        }
        let in_flight = st.shares.enter(&caller)?.map(Arc::new);
        Ok(Self {
            caller,
            team,
            _in_flight: in_flight,
        })
    }
}

/// The key of an `Authorization: Bearer` header, or 401.
fn bearer(parts: &Parts) -> Result<ApiKey, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send an API key: Authorization: Bearer <key>"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer <key>"))?;
    token
        .trim()
        .parse()
        .map_err(|e: agensium_domain::InvalidInput| ApiError::unauthorized(e.0))
}
