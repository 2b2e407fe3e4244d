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

/// What `/docs` may load: the Swagger UI's own files and the document
/// (its scripts are files, none inline); its React code sets styles, and
/// its icons are `data:` images. Nothing may frame it.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `/openapi.json` and `/docs` for `doc`; every answer under `/docs` has
/// the [`DOCS_CSP`] and `nosniff`.
pub fn routes<S: Clone + Send + Sync + 'static>(doc: utoipa::openapi::OpenApi) -> axum::Router<S> {
    let ui: axum::Router<S> = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", doc)
        .into();
    ui.layer(axum::middleware::map_response(with_docs_csp))
}

/// Adds the docs' headers to an answer.
async fn with_docs_csp(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::header::{CONTENT_SECURITY_POLICY, HeaderValue, X_CONTENT_TYPE_OPTIONS};
    let h = r.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
