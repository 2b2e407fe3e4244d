//! Each caller's share of the HTTP edge, so that one key (or one team with
//! many keys) cannot hold every connection:
//!
//! * **requests in flight**: a key has at most `per_key` requests in
//!   flight in this process and its team `per_team` ([`Shares::enter`], at
//!   authentication, before any body is read); one more answers `429
//!   over_share` with `Retry-After`. Operators are not counted;
//! * **reserved connections**: the edge accepts a few connections past its
//!   cap and marks them [`ReservedConnection`]; on those only `/healthz`,
//!   `/metrics` and operators are served ([`reserved_gate`] and the `Auth`
//!   extractor); anyone else gets `503 reserved` with `Retry-After`.

use crate::error::ApiError;
use crate::fair::{FairShare, Permit};
use agensium_domain::{Caller, KeyId, TeamName, operates};
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// What a caller past its share is asked to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The paths served on a reserved connection without a key.
const UNKEYED_ON_RESERVE: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Marks a request that came on a connection accepted past the edge's cap,
/// out of the capacity kept for health checks, metrics and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedConnection;

/// Requests in flight per key and per team.
#[derive(Debug)]
pub struct Shares {
    keys: Arc<FairShare<KeyId>>,
    teams: Arc<FairShare<TeamName>>,
}

/// One request's place in its key's and team's shares, given back when
/// dropped.
#[derive(Debug)]
pub struct InFlight {
    _key: Permit<KeyId>,
    _team: Permit<TeamName>,
}

impl Shares {
    /// Of `total` requests in flight, at most `per_key` of one key and
    /// `per_team` of one team.
    pub fn new(total: usize, per_key: usize, per_team: usize) -> Arc<Self> {
        Arc::new(Self {
            keys: FairShare::new(total, per_key),
            teams: FairShare::new(total, per_team),
        })
    }

    /// Counts one request of `caller` (`None` for an operator, never
    /// counted), or answers 429 `over_share` past its key's or team's share.
    pub fn enter(&self, caller: &Caller) -> Result<Option<InFlight>, ApiError> {
        if operates(caller) {
            return Ok(None);
        }
        let over = |whose: &str, n: usize| {
            ApiError::too_many(
                "over_share",
                format!(
                    "{whose} already has {n} requests in flight, its share of this API process; \
                     try again when one has ended"
                ),
                RETRY_AFTER,
            )
        };
        let key = self
            .keys
            .try_acquire(&caller.key_id)
            .ok_or_else(|| over("this key", self.keys.share()))?;
        let team = self
            .teams
            .try_acquire(&caller.team)
            .ok_or_else(|| over("this key's team", self.teams.share()))?;
        Ok(Some(InFlight {
            _key: key,
            _team: team,
        }))
    }
}

/// The answer to a request on a reserved connection that is not served
/// there.
pub fn reserved_refusal() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "reserved",
        "every connection is taken; this one is kept for health checks, metrics and operators",
    )
    .retry_after(RETRY_AFTER)
}

/// On a reserved connection, lets through only `/healthz`, `/metrics` and
/// requests with a key (the `Auth` extractor then serves operators only);
/// a reserved connection closes after its answer, and so does every 429.
pub async fn reserved_gate(req: Request, next: Next) -> Response {
    let reserved = req.extensions().get::<ReservedConnection>().is_some();
    let allowed = !reserved
        || UNKEYED_ON_RESERVE.contains(&req.uri().path())
        || req.headers().contains_key(AUTHORIZATION);
    let mut resp = if allowed {
        next.run(req).await
    } else {
        reserved_refusal().into_response()
    };
    // A reserved connection serves one request (no client keeps the
    // reserve with keep-alive), and a caller past its share (429)
    // reconnects when it tries again.
    if reserved || resp.status() == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
