//! Job submission, status, result and logs.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::forms::{add_param, form_constraints, multipart_boundary, query_pairs};
use crate::limited::limited;
use crate::lookup::load_job_body;
use crate::processors::name;
use crate::state::AppState;
use crate::views::JobView;
use agensium_domain::{
    Action, Callback, CallbackUrl, InvalidInput, Job, JobId, JobStatus, ParamsBuilder,
    ProcessorVersion,
};
use agensium_ports::{ByteStream, JobBody, StoreError};
use agensium_usecases as usecases;
use agensium_usecases::accept::Accepted;
use agensium_usecases::listing::JobQuery;
use agensium_usecases::{submit, trace_context};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument;

/// The query of a submission: `version=V`, `callback_url=URL` and
/// `param.KEY=VALUE` pairs (a form may carry the last two as fields).
#[derive(Debug)]
struct Submit {
    version: Option<String>,
    params: ParamsBuilder,
    callback: Option<CallbackUrl>,
}

impl Submit {
    /// Takes `callback_url`, or answers 400 `invalid_callback_url`.
    fn set_callback(&mut self, v: &str) -> Result<(), ApiError> {
        if self.callback.is_some() {
            return Err(ApiError::bad_request(
                "invalid_callback_url",
                "callback_url given twice",
            ));
        }
        let url = v
            .parse()
            .map_err(|e: InvalidInput| ApiError::bad_request("invalid_callback_url", e.0))?;
        self.callback = Some(url);
        Ok(())
    }
}

fn parse_query(raw: Option<&str>) -> Result<Submit, ApiError> {
    let pairs: Vec<(String, String)> = query_pairs(raw.unwrap_or(""))?;
    let mut s = Submit {
        version: None,
        params: ParamsBuilder::default(),
        callback: None,
    };
    for (k, v) in pairs {
        if k == "version" {
            s.version = Some(v);
        } else if k == "callback_url" {
            s.set_callback(&v)?;
        } else if let Some(key) = k.strip_prefix("param.") {
            add_param(&mut s.params, key, v)?;
        } else {
            return Err(ApiError::bad_request(
                "unknown_query_parameter",
                format!(
                    "unknown query parameter {k:?}: use version=V, callback_url=URL or param.KEY=VALUE"
                ),
            ));
        }
    }
    Ok(s)
}

/// `POST /v1/processors/{name}/jobs`: stores the input, writes the job row,
/// puts a ticket on the rail and answers 202 at once.
#[utoipa::path(post, path = "/v1/processors/{name}/jobs", operation_id = "submit_job", tag = "jobs",
    params(("name" = String, Path, description = "Processor name"),
        ("version" = Option<String>, Query, description = "A version (default: the latest)"),
        ("callback_url" = Option<String>, Query, description = "POSTed the job document when it ends (signed)")),
    request_body(description = "The input (raw), or a form with `param.KEY` and `callback_url` fields before a `file` part; params also as `param.KEY=VALUE` query parameters",
        content((Vec<u8> = "application/octet-stream"), (String = "multipart/form-data"))),
    responses((status = 202, description = "Accepted", body = crate::views::Accepted), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn submit(
    auth: Auth,
    State(st): State<AppState>,
    Path(raw_name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = auth.require(Action::Submit)?;
    let name = name(&raw_name)?;
    let mut q = parse_query(query.as_deref())?;
    st.limiter.check(&caller.key_id, &caller.team)?;
    let who = (caller, &auth.team);
    let max = st.limits.max_upload_bytes;
    let cleared = submit::clear(&st.backends, who, &name, q.version.as_deref(), max).await?;
    let (pv, limit, id) = (cleared.version, cleared.input_limit, JobId::new());
    let (input_bytes, inline) = store_input(&st, id, limit, (&headers, body), &mut q).await?;
    let mut job = Job::queued(id, &pv, q.params.finish(), input_bytes, caller);
    job.callback = q.callback.take().map(Callback::new);
    let send = trace_context::sending(id, &caller.team);
    job.trace_parent = send.in_scope(trace_context::current);
    // On failure the acceptor deletes a stored input: nothing is left behind.
    let max_queued = auth.team.quota.max_queued;
    let accept = st.accept.accept(job, inline, max_queued).instrument(send);
    if accept.await? == Accepted::QueueFull {
        return Err(usecases::jobs::queue_full(&auth.team, None).into());
    }
    tracing::info!(job = %id, team = %caller.team, key = %caller.key_id, processor = %pv.name, version = %pv.version, input_bytes, "job accepted");
    Ok(accepted(id, pv))
}

/// Reads the submission's body (raw, or a form whose fields come before its
/// file and join `q`) within `limit`: a small input is answered to go into
/// the job row, a larger one is stored as job `id`'s input segments; its
/// size either way.
async fn store_input(
    st: &AppState,
    id: JobId,
    limit: u64,
    (headers, body): (&HeaderMap, Body),
    q: &mut Submit,
) -> Result<(u64, Option<bytes::Bytes>), ApiError> {
    let over = Arc::new(AtomicBool::new(false));
    let input = match multipart_boundary(headers) {
        Some(boundary) => {
            let mut mp = multer::Multipart::with_constraints(
                body.into_data_stream(),
                boundary,
                form_constraints(&["file"]),
            );
            limited(file_part(&mut mp, q).await?, limit, over.clone())
        }
        None => limited(body.into_data_stream(), limit, over.clone()),
    };
    // A form's fields come before its file: all are read by now, no byte
    // of the input yet.
    if let Some(url) = &q.callback {
        st.webhooks.check_literal(url)?;
    }
    // A small input goes into the job row; a larger one to the object store.
    match submit::store_input(&st.backends, id, input, st.limits.inline).await {
        Ok(stored) => Ok(stored),
        Err(_) if over.load(Ordering::Relaxed) => Err(ApiError::too_large(limit)),
        Err(StoreError::Body(e)) => Err(ApiError::bad_request("bad_body", e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The `202` of an accepted job, with its `Location`.
fn accepted(id: JobId, pv: ProcessorVersion) -> Response {
    let location = format!("/v1/jobs/{id}");
    let body = Json(crate::views::Accepted {
        id: id.to_string(),
        status: JobStatus::Queued.as_str(),
        processor: pv.name.to_string(),
        version: pv.version,
        digest: pv.digest.to_string(),
    });
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response()
}

/// Reads form fields up to the `file` part (text fields `param.KEY` are
/// params too) and returns the file's stream.
async fn file_part(
    mp: &mut multer::Multipart<'static>,
    q: &mut Submit,
) -> Result<ByteStream, ApiError> {
    let bad = |e: multer::Error| ApiError::bad_request("bad_multipart", e.to_string());
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let fname = field.name().unwrap_or("").to_owned();
        if fname == "file" {
            return Ok(Box::pin(field.map(|c| c.map_err(io::Error::other))));
        }
        if fname == "callback_url" {
            q.set_callback(&field.text().await.map_err(bad)?)?;
            continue;
        }
        match fname.strip_prefix("param.") {
            Some(key) => {
                let v = field.text().await.map_err(bad)?;
                add_param(&mut q.params, key, v)?;
            }
            None => {
                return Err(ApiError::bad_request(
                    "bad_multipart",
                    format!(
                        "unexpected form field {fname:?}: send the input as a part named \"file\""
                    ),
                ));
            }
        }
    }
    Err(ApiError::bad_request(
        "bad_multipart",
        "no part named \"file\" in the form",
    ))
}

/// `GET /v1/jobs/{id}/result`: streams the output of a succeeded job;
/// with `wait`, once it ends; with `follow`, as it is written
/// ([`crate::follow`]).
///
/// The content type comes from untrusted code: it is served only when it
/// is a plain media type, never sniffed, and as an attachment in a
/// sandbox unless the version's publisher marked its results inline-safe.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", operation_id = "job_result", tag = "jobs",
    params(("id" = String, Path, description = "Job id"),
        ("wait" = Option<u32>, Query, minimum = 0, maximum = 60,
            description = "Hold the request up to this many seconds until the job ends (or, with follow, until its output starts)"),
        ("follow" = Option<bool>, Query,
            description = "Stream a running job's output as it is written: application/octet-stream, chunked, \
                with the header Agensium-Streaming: true; cut off without its last chunk if the attempt does not finish the job")),
    responses((status = 200, description = "The output, streamed, with the processor's content type",
        content_type = "application/octet-stream", body = Vec<u8>), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn result(
    auth: Auth,
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (wait, follow) = result_query(query.as_deref())?;
    let (mut job, mut inline_output) =
        load_job_body(&st, &auth.caller, &id, JobBody::Output).await?;
    if !job.status.is_final() && (follow || !wait.is_zero()) {
        let hold = st.holds.take(&auth.caller.key_id)?;
        if let Some(followed) = crate::follow::wait(&st, job, wait, follow, hold).await? {
            return Ok(followed);
        }
        (job, inline_output) = load_job_body(&st, &auth.caller, &id, JobBody::Output).await?;
    }
    usecases::jobs::has_result(&job)?;
    let body = match inline_output {
        Some(bytes) => Body::from(bytes),
        None => Body::from_stream(crate::follow::stored(&st, &job).await?),
    };
    let inline = usecases::processors::inline_safe(st.backends.meta.as_ref(), &job).await?;
    Ok(result_response(&job, body, inline))
}

/// A result's answer: its body under the result headers.
fn result_response(job: &Job, body: Body, inline: bool) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    crate::result_headers::set(h, job.id, job.content_type.as_deref(), inline);
    if let Some(n) = job.output_bytes {
        h.insert(header::CONTENT_LENGTH, n.into());
    }
    resp
}

/// `wait` (seconds, 0 to 60) and `follow` (`true` or `false`) of a result
/// request: 400 for anything else.
fn result_query(raw: Option<&str>) -> Result<(std::time::Duration, bool), ApiError> {
    let (mut wait, mut follow) = (std::time::Duration::ZERO, false);
    for (k, v) in query_pairs(raw.unwrap_or(""))? {
        match (k.as_str(), v.as_str()) {
            ("wait", v) => wait = crate::waiting::wait_secs(v)?,
            ("follow", "true") => follow = true,
            ("follow", "false") => follow = false,
            ("follow", _) => {
                return Err(ApiError::bad_request(
                    "invalid_follow",
                    format!("follow={v:?}: true or false"),
                ));
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_query_parameter",
                    format!("unknown query parameter {k:?}: use wait=SECONDS or follow=true"),
                ));
            }
        }
    }
    Ok((wait, follow))
}

/// `GET /v1/jobs/{id}/logs`: the job's log as text (empty until it ran).
#[utoipa::path(get, path = "/v1/jobs/{id}/logs", operation_id = "job_logs", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job's log", content_type = "text/plain", body = String), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn logs(
    auth: Auth,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (job, inline_log) = load_job_body(&st, &auth.caller, &id, JobBody::Log).await?;
    // The log of the current (or last) attempt; none before the first.
    let body = match inline_log {
        Some(log) if job.attempts > 0 => Body::from(log),
        _ => match usecases::results::stored_log(&st.backends, &job).await? {
            Some(stream) => Body::from_stream(stream),
            None => Body::empty(),
        },
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

/// `GET /v1/jobs[?status=S][&processor=P][&limit=N][&before=ID][&team=T]`: the caller's
/// team's jobs (any team's for operators, or one with `team`), newest
/// first. `next` is the `before` value of the following page, or null at
/// the end.
#[utoipa::path(get, path = "/v1/jobs", operation_id = "list_jobs", tag = "jobs",
    params(("status" = Option<String>, Query, description = "queued, running, succeeded, failed or cancelled"),
        ("processor" = Option<String>, Query, description = "Jobs of one processor"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("before" = Option<String>, Query, description = "The `next` of the previous page"),
        ("team" = Option<String>, Query, description = "One team's (operators)")),
    responses((status = 200, description = "Jobs, newest first", body = crate::views::JobPage), (status = "default", description = "An error: `{\"error\":{\"code\",\"message\"}}`", body = crate::openapi::ErrorBody)))]
pub async fn list(
    auth: Auth,
    State(st): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = list_query(query.as_deref())?;
    let jobs = usecases::listing::jobs(st.backends.meta.as_ref(), &auth.caller, &q).await?;
    let next = (jobs.len() == q.limit as usize)
        .then(|| jobs.last().map(|j| j.id.to_string()))
        .flatten();
    let jobs: Vec<JobView> = jobs.into_iter().map(JobView::from).collect();
    Ok(Json(crate::views::JobPage { jobs, next }).into_response())
}

/// The query of `GET /v1/jobs`: the caller's team (any team it may see for
/// an operator), status, processor, page; 400 on anything else.
fn list_query(raw: Option<&str>) -> Result<JobQuery, ApiError> {
    let mut q = JobQuery {
        limit: 100,
        ..JobQuery::default()
    };
    for (k, v) in query_pairs(raw.unwrap_or(""))? {
        match k.as_str() {
            "team" => q.team = Some(v),
            "status" => {
                let s = v
                    .parse()
                    .map_err(|e: InvalidInput| ApiError::bad_request("invalid_status", e.0))?;
                q.status = Some(s);
            }
            "processor" => q.processor = Some(name(&v)?),
            "before" => {
                let id = v
                    .parse()
                    .map_err(|e: InvalidInput| ApiError::bad_request("invalid_job_id", e.0))?;
                q.before = Some(id);
            }
            "limit" => {
                let bad = || ApiError::bad_request("invalid_limit", "limit must be 1..=1000");
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(bad)?;
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_query_parameter",
                    format!(
                        "unknown query parameter {k:?}: use status, processor, limit, before or team"
                    ),
                ));
            }
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        let q = parse_query(Some("version=1.0.0&param.a=x%20y&param.b=1+2")).unwrap();
        assert_eq!(q.version.as_deref(), Some("1.0.0"));
        assert_eq!(
            q.params.finish(),
            vec![("a".into(), "x y".into()), ("b".into(), "1 2".into())]
        );
        assert_eq!(
            parse_query(Some("nope=1")).unwrap_err().code,
            "unknown_query_parameter"
        );
        assert_eq!(
            parse_query(Some("param.a=1&param.a=2")).unwrap_err().code,
            "invalid_param"
        );
        assert_eq!(
            parse_query(Some("param.a=%zz")).unwrap_err().code,
            "invalid_query"
        );
        assert!(parse_query(None).unwrap().params.is_empty());
    }
}
