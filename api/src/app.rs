//! The router: every endpoint of the public API.

use crate::admission::Admission;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::rate::SubmitLimiter;
use crate::{control, jobs, keys, processors, teams, waiting, webhook_secret};
use agensium_domain::Role;
use agensium_host::Runtime;
use agensium_ports::Backends;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

/// Size limits of the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Largest job input accepted (413 beyond).
    pub max_upload_bytes: u64,
    /// Largest processor component accepted (413 beyond).
    pub max_component_bytes: u64,
    /// Highest limits a version may declare at upload (400 beyond).
    pub ceilings: agensium_domain::Ceilings,
    /// The operator's limits of a job whose version declares none (golden
    /// checks run under them, capped).
    pub job_defaults: agensium_domain::Limits,
    /// Inputs up to this size are kept inline with the job row.
    pub inline: agensium_domain::InlineLimit,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The three backends.
    pub backends: Backends,
    /// Loads admitted components and runs golden checks.
    pub runtime: Arc<Runtime>,
    /// Compiles uploads in bounded child processes.
    pub admission: Arc<Admission>,
    /// Size limits.
    pub limits: ApiLimits,
    /// Per-key rate limit on submissions.
    pub limiter: SubmitLimiter,
    /// Short-lived copies of keys, processors and versions.
    pub cache: Arc<crate::cache::ApiCache>,
    /// Writes accepted jobs' rows and tickets, coalesced under load.
    pub accept: crate::accept::Acceptor,
    /// Job ends announced on the rail, for requests that wait for one.
    pub finishes: Arc<crate::finishes::Finishes>,
    /// Checks callbacks at submission; its dispatcher delivers them.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

/// Largest JSON body of the control routes (teams, keys, visibility).
pub const JSON_BODY_LIMIT: usize = 64 << 10;

/// Builds the API router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(control_routes())
        .merge(upload_routes())
        .merge(crate::ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::cache::forget_on_change,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Uploads: their handlers bound and stream their own bodies.
fn upload_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/processors/{name}/versions/{version}",
            put(processors::put_version).delete(processors::yank),
        )
        .route(
            "/v1/processors/{name}/jobs",
            axum::routing::post(jobs::submit),
        )
        .layer(DefaultBodyLimit::disable())
}

/// Everything else: small JSON bodies at most ([`JSON_BODY_LIMIT`], 413 beyond).
fn control_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(operator_metrics))
        .route("/v1/whoami", get(teams::whoami))
        .route("/v1/teams", get(teams::list).post(teams::create))
        .route("/v1/teams/{team}", get(teams::get).patch(teams::patch))
        .route("/v1/teams/{team}/quota", put(teams::put_quota))
        .route("/v1/teams/{team}/usage", get(teams::usage))
        .route("/v1/teams/{team}/keys", get(keys::list).post(keys::create))
        .route("/v1/teams/{team}/keys/{id}", delete(keys::revoke))
        .route(
            "/v1/teams/{team}/webhook-secret",
            get(webhook_secret::get).post(webhook_secret::rotate),
        )
        .route("/v1/processors", get(processors::list))
        .route(
            "/v1/processors/{name}",
            get(processors::get).patch(processors::patch),
        )
        .route(
            "/v1/processors/{name}/versions",
            get(processors::list_versions),
        )
        .route("/v1/jobs", get(jobs::list))
        .route("/v1/jobs/{id}", get(waiting::get).delete(control::cancel))
        .route("/v1/jobs/{id}/events", get(waiting::events))
        .route("/v1/jobs/{id}/retry", post(control::retry))
        .route("/v1/jobs/{id}/result", get(jobs::result))
        .route("/v1/jobs/{id}/logs", get(jobs::logs))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

/// A router with `/healthz` and `/metrics` alone, for processes without
/// the API.
pub fn health_router() -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::telemetry::metrics))
        .fallback(not_found)
}

/// `/metrics` of the API: operators only. (A worker's health listener
/// serves it unauthenticated on its own, internal address.)
async fn operator_metrics(auth: Auth) -> Result<String, ApiError> {
    auth.require(Role::Operator)?;
    Ok(crate::telemetry::metrics().await)
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}
