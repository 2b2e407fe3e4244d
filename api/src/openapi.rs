//! The API's OpenAPI 3.1 document, generated from the handlers' own
//! annotations (the router is built from the same annotations, so a route
//! cannot exist undocumented): served at `/openapi.json`, with the Swagger
//! UI at `/docs` (its assets vendored in the binary).

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code (e.g. `job_not_found`).
    pub code: String,
    /// Explanation for people.
    pub message: String,
    /// Id of a server-side failure in the operator's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

/// The document's top: title, version, the Bearer scheme every `/v1`
/// route asks for.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agensium",
        description = "Submit files to sandboxed WebAssembly processors; follow, fetch and \
                       retry their jobs. Every /v1 route takes `Authorization: Bearer <API key>`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "jobs", description = "Submit, follow, fetch, cancel and retry jobs"),
        (name = "processors", description = "Processors and their versions"),
        (name = "teams", description = "Teams, keys, quotas, usage, webhook secrets"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// `/openapi.json` and `/docs` for `doc`.
pub fn routes<S: Clone + Send + Sync + 'static>(doc: utoipa::openapi::OpenApi) -> axum::Router<S> {
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", doc)
        .into()
}
