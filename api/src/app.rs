//! The router: every endpoint of the public API.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{control, jobs, keys, processors, teams, waiting, webhook_secret};
use agensium_usecases::readiness::Readiness;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest JSON body of the control routes (teams, keys, visibility).
pub const JSON_BODY_LIMIT: usize = 64 << 10;

/// Builds the API router: the documented routes (see [`api_routes`]),
/// `/openapi.json` and `/docs`, and the dashboard.
pub fn router(state: AppState) -> Router {
    let (api, doc) = documented();
    api.merge(crate::openapi::routes(doc))
        .merge(crate::ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(crate::shares::reserved_gate))
        .layer(TraceLayer::new_for_http().make_span_with(crate::request_span::make))
        .with_state(state)
}

/// Every route of the API with its OpenAPI operation: the router and the
/// document are built from the same annotations, so neither has a route
/// the other lacks.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(control_routes())
        .merge(upload_routes())
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().1
}

/// The routes and their document, with the shapes of parameters and
/// fields, and the links between operations.
fn documented() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = api_routes().split_for_parts();
    crate::shapes::state(&mut doc);
    crate::links::state(&mut doc);
    (api, doc)
}

/// Uploads: their handlers bound and stream their own bodies.
fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(processors::put_version, processors::yank))
        .routes(routes!(jobs::submit))
        .layer(DefaultBodyLimit::disable())
}

/// Everything else: small JSON bodies at most ([`JSON_BODY_LIMIT`], 413 beyond).
fn control_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(operator_metrics))
        .routes(routes!(teams::whoami))
        .routes(routes!(teams::list, teams::create))
        .routes(routes!(teams::get, teams::patch))
        .routes(routes!(teams::put_quota))
        .routes(routes!(teams::usage))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(webhook_secret::get, webhook_secret::rotate))
        .routes(routes!(processors::list))
        .routes(routes!(processors::get, processors::patch))
        .routes(routes!(processors::list_versions))
        .routes(routes!(jobs::list))
        .routes(routes!(waiting::get, control::cancel))
        .routes(routes!(waiting::events))
        .routes(routes!(control::retry))
        .routes(routes!(jobs::result))
        .routes(routes!(jobs::logs))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

/// A router with `/healthz`, `/readyz` (of `readiness`) and `/metrics`
/// alone, for processes without the API.
pub fn health_router(readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/readyz",
            get(|State(r): State<Arc<Readiness>>| async move { ready(&r).await }),
        )
        .route("/metrics", get(crate::telemetry::metrics))
        .fallback(not_found)
        .with_state(readiness)
}

/// `/metrics` of the API: operators only. (A worker's health listener
/// serves it unauthenticated on its own, internal address.)
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = "default", description = "An error", body = crate::openapi::ErrorBody)))]
async fn operator_metrics(auth: Auth) -> Result<String, ApiError> {
    auth.require(agensium_domain::Action::Operate)?;
    Ok(crate::telemetry::metrics().await)
}

/// `/healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations", security(()),
    responses((status = 200, description = "Up", body = crate::views::Health)))]
async fn healthz() -> axum::Json<crate::views::Health> {
    axum::Json(crate::views::Health {
        status: "ok".into(),
    })
}

/// `/readyz`: 200 while the process reaches its metadata store, object
/// store and rail; 503 `not_ready`, naming those it does not, otherwise.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations", security(()),
    responses((status = 200, description = "Ready", body = crate::views::Health),
        (status = 503, description = "A backend is unreachable", body = crate::openapi::ErrorBody)))]
async fn readyz(State(st): State<AppState>) -> Result<axum::Json<crate::views::Health>, ApiError> {
    ready(&st.readiness).await
}

/// The answer of a readiness probe.
async fn ready(r: &Readiness) -> Result<axum::Json<crate::views::Health>, ApiError> {
    let down = r.unreachable().await;
    if down.is_empty() {
        return Ok(axum::Json(crate::views::Health {
            status: "ok".into(),
        }));
    }
    let names: Vec<&str> = down.iter().map(|b| b.as_str()).collect();
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        format!("unreachable: {}", names.join(", ")),
    ))
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
