//! Processor registration and listing.

use crate::admission::Slot;
use crate::auth::Auth;
use crate::error::{ApiError, JsonBody};
use crate::golden;
use crate::limited::{discard, limited};
use crate::state::AppState;
use crate::views::{ProcessorSummary, ProcessorView, VersionView};
use agensium_domain::Limits;
use agensium_domain::{
    Action, Caller, DeclaredLimits, Digest, Ownership, ProcessorName, ProcessorVersion, Visibility,
    now_to_the_millisecond, parse_version,
};
use agensium_engine::Metering;
use agensium_usecases::processors::{self, Admitted, Recorded};
use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Parses a processor name from the path, or answers 400.
pub fn name(raw: &str) -> Result<ProcessorName, ApiError> {
    raw.parse()
        .map_err(|e: agensium_domain::InvalidInput| ApiError::bad_request("invalid_name", e.0))
}

/// `PUT /v1/processors/{name}/versions/{version}`: registers a component,
/// sent raw or as a form with a golden example (see [`golden::parse`]).
///
/// Everything is checked before anything is written: a rejected upload
/// (wrong world, limits over the ceilings, failed golden example) leaves no
/// row and no object.
#[utoipa::path(put, path = "/v1/processors/{name}/versions/{version}", operation_id = "put_version", tag = "processors",
    params(("name" = String, Path, description = "Processor name"), ("version" = String, Path, description = "Semantic version"),
        ("inline" = Option<bool>, Query, description = "Results safe to show inline in a browser"),
        ("memory_mib" = Option<u64>, Query), ("timeout_ms" = Option<u64>, Query),
        ("output_mib" = Option<u64>, Query), ("log_kib" = Option<u64>, Query),
        ("input_mib" = Option<u64>, Query), ("fuel" = Option<u64>, Query)),
    request_body(description = "The component, or a form with `component`, `golden_input`, `golden_output` parts and `param.KEY` fields",
        content((Vec<u8> = "application/wasm"), (Vec<u8> = "application/octet-stream"), (String = "multipart/form-data"))),
    responses((status = 201, description = "Registered", body = crate::views::VersionView),
        (status = 200, description = "The same bytes again", body = crate::views::VersionView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn put_version(
    auth: Auth,
    State(st): State<AppState>,
    Path((raw_name, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let (caller, name, owner, slot) = match publisher(&st, &auth, &raw_name).await {
        Ok(allowed) => allowed,
        Err(e) => return Err(discard(body, e).await),
    };
    let bytes = read_component(body, st.limits.max_component_bytes).await?;
    let upload = golden::parse(&headers, bytes).await?;
    parse_version(&version).map_err(|e| ApiError::bad_request("invalid_version", e.0))?;
    let (limits, inline_safe) = declared_limits(query.as_deref())?;
    check_ceilings(&st, &limits)?;
    let digest = Digest::of(&upload.component);
    let meta = st.backends.meta.as_ref();
    if let Some(same) = processors::existing(meta, &name, &version, &digest).await? {
        return Ok((StatusCode::OK, Json(VersionView::from(&same))));
    }
    let size = upload.component.len() as u64;
    let admitted = admit(&st, slot, upload, &digest, &limits).await;
    crate::telemetry::admission(admitted.as_ref().map_or_else(|e| e.code, |_| "admitted"));
    let admitted = admitted?;
    let pv = ProcessorVersion {
        limits,
        name,
        version,
        digest,
        size,
        created_at: now_to_the_millisecond(),
        uploaded_by: Some(caller.key_id.clone()),
        inline_safe,
        yanked_at: None,
    };
    let recorded = processors::record(&st.backends, caller, owner, &pv, admitted).await?;
    Ok((status_of(recorded), Json(VersionView::from(&pv))))
}

/// 201 for a new version, 200 for the same bytes again.
fn status_of(recorded: Recorded) -> StatusCode {
    match recorded {
        Recorded::Created => StatusCode::CREATED,
        Recorded::Unchanged => StatusCode::OK,
    }
}

/// Who may publish is decided from the headers, before a byte of the body
/// is read, and one of the team's admission slots is taken before it is:
/// at most the admission's concurrency of components is held in memory,
/// shared fairly among teams. A refused body is discarded as it arrives
/// (answering while the client still sends would break its connection
/// instead of delivering the error), never buffered.
async fn publisher<'a>(
    st: &AppState,
    auth: &'a Auth,
    raw_name: &str,
) -> Result<(&'a Caller, ProcessorName, Option<Ownership>, Slot), ApiError> {
    let caller = auth.require(Action::Publish)?;
    let name = name(raw_name)?;
    let owner = processors::may_publish(st.backends.meta.as_ref(), caller, &name).await?;
    let slot = st.admission.slot(&caller.team).await?;
    Ok((caller, name, owner, slot))
}

/// The longest a component's body may take to arrive, once its admission
/// slot is taken (64 MiB at about 0.5 MB/s).
const COMPONENT_READ_TIME: Duration = Duration::from_secs(120);

/// [`read_body`] within [`COMPONENT_READ_TIME`]: a slow upload gives its
/// slot back (408 `upload_too_slow`).
async fn read_component(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    tokio::time::timeout(COMPONENT_READ_TIME, read_body(body, limit))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "upload_too_slow",
                format!("the component did not arrive within {COMPONENT_READ_TIME:?}"),
            ))
        })
}

/// 400 `invalid_limit` unless every declared limit is within the
/// operator's ceilings.
fn check_ceilings(st: &AppState, limits: &DeclaredLimits) -> Result<(), ApiError> {
    st.limits.ceilings.check(limits).map_err(|e| {
        ApiError::bad_request(
            "invalid_limit",
            format!(
                "{}={} is not allowed: it must be between 1 and the operator's ceiling {}",
                e.name, e.declared, e.ceiling
            ),
        )
    })
}

/// Admits an upload within its team's admission `slot`: compiles it (in a
/// child) and runs its golden example when it has one. Nothing is stored
/// yet: nothing is when any step refuses.
async fn admit(
    st: &AppState,
    slot: Slot,
    upload: golden::Upload,
    digest: &Digest,
    limits: &DeclaredLimits,
) -> Result<Admitted, ApiError> {
    let golden::Upload { component, golden } = upload;
    let run_limits = Limits::resolve(&st.limits.job_defaults, &st.limits.ceilings, limits);
    let metering = Metering::of(&run_limits);
    let admission = &st.admission;
    let admitted = admission
        .compile(&st.runtime, slot, component.clone(), metering)
        .await?;
    if let Some(golden) = golden {
        admission
            .golden(&st.runtime, &admitted, golden, run_limits)
            .await?;
    }
    // The engine exists: it just compiled the component.
    let artifact_key = st.runtime.artifact_key(digest, metering).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "engine_unavailable",
            e.to_string(),
        )
    })?;
    Ok(Admitted {
        component,
        artifact: admitted.artifact,
        artifact_key,
    })
}

/// The whole body, at most `limit` bytes (413 beyond).
async fn read_body(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let over = Arc::new(AtomicBool::new(false));
    let body = Body::from_stream(limited(body.into_data_stream(), limit, over.clone()));
    to_bytes(body, usize::MAX).await.map_err(|e| {
        if over.load(Ordering::Relaxed) {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request("bad_body", format!("reading the body failed: {e}"))
        }
    })
}

/// Parses `memory_mib`, `timeout_ms`, `output_mib`, `log_kib`, `input_mib`,
/// `fuel`, and `inline` (`true`: results may be shown inline in a browser).
fn declared_limits(query: Option<&str>) -> Result<(DeclaredLimits, bool), ApiError> {
    let mut d = DeclaredLimits::default();
    let mut inline = false;
    for (k, v) in crate::forms::query_pairs(query.unwrap_or(""))? {
        if k == "inline" {
            inline = v.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid_inline",
                    format!("inline={v:?}: expected true or false"),
                )
            })?;
            continue;
        }
        let slot = match k.as_str() {
            "memory_mib" => &mut d.memory_mib,
            "timeout_ms" => &mut d.timeout_ms,
            "output_mib" => &mut d.output_mib,
            "log_kib" => &mut d.log_kib,
            "input_mib" => &mut d.input_mib,
            "fuel" => &mut d.fuel,
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_query_parameter",
                    format!(
                        "unknown query parameter {k:?}: use inline or the limits memory_mib, timeout_ms, output_mib, log_kib, input_mib, fuel"
                    ),
                ));
            }
        };
        let n: u64 = v.parse().map_err(|_| {
            ApiError::bad_request("invalid_limit", format!("{k}={v:?} is not a number"))
        })?;
        *slot = Some(n);
    }
    if d.input_mib == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "input_mib must be at least 1",
        ));
    }
    Ok((d, inline))
}

/// Most items of one page of a listing, and the default.
const PAGE_MAX: u32 = 200;
const PAGE_DEFAULT: u32 = 50;

/// `limit` (1..=200, default 50) and the cursor named `cursor` of a
/// listing's query; 400 for anything else.
fn page_query(raw: Option<&str>, cursor: &str) -> Result<(u32, Option<String>), ApiError> {
    let (mut limit, mut at) = (PAGE_DEFAULT, None);
    for (k, v) in crate::forms::query_pairs(raw.unwrap_or(""))? {
        if k == "limit" {
            limit = v
                .parse()
                .ok()
                .filter(|n| (1..=PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!("limit={v:?}: expected 1 to {PAGE_MAX}"),
                    )
                })?;
        } else if k == cursor {
            at = Some(v);
        } else {
            return Err(ApiError::bad_request(
                "unknown_query_parameter",
                format!("unknown query parameter {k:?}: use limit or {cursor}"),
            ));
        }
    }
    Ok((limit, at))
}

/// `GET /v1/processors?limit=&after=`: the caller's team's processors and
/// public ones, by name, a page at a time (`next` is the next page's
/// `after`).
#[utoipa::path(get, path = "/v1/processors", operation_id = "list_processors", tag = "processors",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("after" = Option<String>, Query, description = "The `next` of the previous page")),
    responses((status = 200, description = "Processors by name", body = crate::views::ProcessorPage), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn list(
    auth: Auth,
    State(st): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let (limit, after) = page_query(query.as_deref(), "after")?;
    let after = after.map(|a| name(&a)).transpose()?;
    let meta = st.backends.meta.as_ref();
    let owners = processors::list(meta, &auth.caller, after.as_ref(), limit).await?;
    let next = (owners.len() == limit as usize)
        .then(|| owners.last().map(|o| o.name.to_string()))
        .flatten();
    let processors: Vec<ProcessorSummary> = owners.iter().map(ProcessorSummary::from).collect();
    Ok(Json(crate::views::ProcessorPage { processors, next }))
}

/// `GET /v1/processors/{name}`: the processor and its newest versions.
#[utoipa::path(get, path = "/v1/processors/{name}", operation_id = "get_processor", tag = "processors", params(("name" = String, Path, description = "Processor name")),
    responses((status = 200, description = "The processor and its newest versions", body = crate::views::ProcessorView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn get(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw_name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let name = name(&raw_name)?;
    let owner = processors::visible(st.backends.meta.as_ref(), &auth.caller, &name).await?;
    one(&st, &auth.caller, owner).await
}

/// A processor with the first page of its versions.
async fn one(
    st: &AppState,
    caller: &Caller,
    owner: Ownership,
) -> Result<Json<ProcessorView>, ApiError> {
    let (versions, next_versions) =
        versions_page(st, caller, &owner.name, None, PAGE_DEFAULT).await?;
    Ok(Json(ProcessorView {
        summary: ProcessorSummary::from(&owner),
        versions,
        next_versions,
    }))
}

/// A page of versions, newest first, and the next page's `before`.
async fn versions_page(
    st: &AppState,
    caller: &Caller,
    name: &ProcessorName,
    before: Option<&str>,
    limit: u32,
) -> Result<(Vec<VersionView>, Option<String>), ApiError> {
    let meta = st.backends.meta.as_ref();
    let page = processors::versions(meta, caller, name, before, limit).await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|v| v.version.clone()))
        .flatten();
    Ok((page.iter().map(VersionView::from).collect(), next))
}

/// `GET /v1/processors/{name}/versions?limit=&before=`: its versions,
/// newest first (by precedence), a page at a time.
#[utoipa::path(get, path = "/v1/processors/{name}/versions", operation_id = "list_versions", tag = "processors",
    params(("name" = String, Path, description = "Processor name"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200),
        ("before" = Option<String>, Query, description = "The `next` of the previous page")),
    responses((status = 200, description = "Versions, newest first", body = crate::views::VersionPage), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn list_versions(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw_name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let name = name(&raw_name)?;
    let (limit, before) = page_query(query.as_deref(), "before")?;
    let (versions, next) =
        versions_page(&st, &auth.caller, &name, before.as_deref(), limit).await?;
    Ok(Json(crate::views::VersionPage { versions, next }))
}

/// `DELETE /v1/processors/{name}/versions/{version}` (the owner team's
/// publishers): yanks the version. No new job resolves to it, pinned or as
/// `latest` (which moves to the newest version left); jobs that pinned it
/// still run and can be retried. Idempotent; answers the version.
#[utoipa::path(delete, path = "/v1/processors/{name}/versions/{version}", operation_id = "yank_version", tag = "processors",
    params(("name" = String, Path, description = "Processor name"), ("version" = String, Path)),
    responses((status = 200, description = "Yanked", body = crate::views::VersionView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn yank(
    auth: Auth,
    State(st): State<AppState>,
    Path((raw_name, version)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let name = name(&raw_name)?;
    let meta = st.backends.meta.as_ref();
    let v = processors::yank(meta, &auth.caller, &name, &version).await?;
    Ok(Json(VersionView::from(&v)))
}

/// The body of `PATCH /v1/processors/{name}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessorPatch {
    /// private or public.
    #[schema(value_type = String)]
    visibility: Visibility,
}

/// `PATCH /v1/processors/{name}` (the owner team's publishers):
/// `{"visibility":"public"}` lets every team read its versions and submit
/// jobs against it; `"private"` takes that back (jobs already accepted run).
#[utoipa::path(patch, path = "/v1/processors/{name}", operation_id = "patch_processor", tag = "processors", params(("name" = String, Path, description = "Processor name")),
    request_body = ProcessorPatch,
    responses((status = 200, description = "The processor", body = crate::views::ProcessorView), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn patch(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw_name): Path<String>,
    body: JsonBody<ProcessorPatch>,
) -> Result<impl IntoResponse, ApiError> {
    let name = name(&raw_name)?;
    let meta = st.backends.meta.as_ref();
    let owner = processors::changeable(meta, &auth.caller, &name).await?;
    let Json(p) = body?;
    let owner = processors::set_visibility(meta, &auth.caller, owner, p.visibility).await?;
    one(&st, &auth.caller, owner).await
}
