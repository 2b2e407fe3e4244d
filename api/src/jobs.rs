//! Job submission, status, result and logs.

use crate::app::AppState;
use crate::error::ApiError;
use crate::limited::limited;
use crate::processors::name;
use crate::views::{JobView, latest};
use agensium_domain::{Job, JobId, JobStatus, Pairs, ProcessorVersion};
use agensium_ports::{ByteStream, StoreError};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The query of a submission: `version=V` and `param.KEY=VALUE` pairs.
#[derive(Debug)]
struct Submit {
    version: Option<String>,
    params: Pairs,
}

fn parse_query(raw: Option<&str>) -> Result<Submit, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(raw.unwrap_or(""))?;
    let mut s = Submit {
        version: None,
        params: Vec::new(),
    };
    for (k, v) in pairs {
        if k == "version" {
            s.version = Some(v);
        } else if let Some(key) = k.strip_prefix("param.") {
            add_param(&mut s.params, key, v)?;
        } else {
            return Err(ApiError::bad_request(
                "unknown_query_parameter",
                format!("unknown query parameter {k:?}: use version=V or param.KEY=VALUE"),
            ));
        }
    }
    Ok(s)
}

pub(crate) fn add_param(params: &mut Pairs, key: &str, value: String) -> Result<(), ApiError> {
    if key.is_empty() || params.iter().any(|(k, _)| k == key) {
        return Err(ApiError::bad_request(
            "invalid_param",
            format!("param {key:?} is empty or given twice"),
        ));
    }
    params.push((key.to_owned(), value));
    Ok(())
}

/// Decoded `key=value` pairs of a query string, or 400.
pub(crate) fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded_pairs(raw)
}

fn serde_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    url_decode_pairs(raw)
        .ok_or_else(|| ApiError::bad_request("invalid_query", "malformed query string"))
}

/// Decodes `application/x-www-form-urlencoded` pairs.
fn url_decode_pairs(raw: &str) -> Option<Vec<(String, String)>> {
    fn decode(s: &str) -> Option<String> {
        let mut out = Vec::with_capacity(s.len());
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// `POST /v1/processors/{name}/jobs`: stores the input, writes the job row,
/// puts a ticket on the rail and answers 202 at once.
pub async fn submit(
    State(st): State<AppState>,
    Path(raw_name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let name = name(&raw_name)?;
    let mut q = parse_query(query.as_deref())?;
    let pv = resolve(&st, &name, q.version.as_deref()).await?;
    let id = JobId::new();
    let over = Arc::new(AtomicBool::new(false));
    let limit = match pv.limits.input_mib {
        Some(mib) => st.limits.max_upload_bytes.min(mib << 20),
        None => st.limits.max_upload_bytes,
    };
    let input = match multipart_boundary(&headers) {
        Some(boundary) => {
            let mut mp = multer::Multipart::new(body.into_data_stream(), boundary);
            limited(
                file_part(&mut mp, &mut q.params).await?,
                limit,
                over.clone(),
            )
        }
        None => limited(body.into_data_stream(), limit, over.clone()),
    };
    let key = id.input_key();
    let input_bytes = match st.backends.objects.put(&key, input).await {
        Ok(n) => n,
        Err(_) if over.load(Ordering::Relaxed) => return Err(ApiError::too_large(limit)),
        Err(StoreError::Body(e)) => {
            return Err(ApiError::bad_request("bad_body", e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let job = Job::queued(id, &pv, q.params, input_bytes);
    if let Err(e) = st.backends.meta.insert_job(&job).await {
        // Leave nothing behind: the input of a job that does not exist goes.
        let _ = st.backends.objects.delete(&key).await;
        return Err(e.into());
    }
    // The row is the truth: if the rail is down the job stays queued and is
    // put back on the rail by recovery, so the client still gets its id.
    if let Err(e) = st.backends.rail.push(id).await {
        tracing::warn!(job = %id, error = %e, "rail push failed; the job stays queued");
    }
    tracing::info!(job = %id, processor = %pv.name, version = %pv.version, input_bytes, "job accepted");
    let location = format!("/v1/jobs/{id}");
    let body = Json(serde_json::json!({
        "id": id.to_string(),
        "status": "queued",
        "processor": pv.name.to_string(),
        "version": pv.version,
        "digest": pv.digest.to_string(),
    }));
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response())
}

pub(crate) fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(ct).ok()
}

/// Reads form fields up to the `file` part (text fields `param.KEY` are
/// params too) and returns the file's stream.
async fn file_part(
    mp: &mut multer::Multipart<'static>,
    params: &mut Pairs,
) -> Result<ByteStream, ApiError> {
    let bad = |e: multer::Error| ApiError::bad_request("bad_multipart", e.to_string());
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let fname = field.name().unwrap_or("").to_owned();
        if fname == "file" {
            return Ok(Box::pin(field.map(|c| c.map_err(io::Error::other))));
        }
        match fname.strip_prefix("param.") {
            Some(key) => {
                let v = field.text().await.map_err(bad)?;
                add_param(params, key, v)?;
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

async fn resolve(
    st: &AppState,
    name: &agensium_domain::ProcessorName,
    version: Option<&str>,
) -> Result<ProcessorVersion, ApiError> {
    let meta = &st.backends.meta;
    let found = match version {
        Some(v) => meta.get_version(name, v).await?,
        None => latest(&meta.list_versions(Some(name)).await?).cloned(),
    };
    match (found, version) {
        (Some(pv), _) => Ok(pv),
        (None, Some(v)) if !meta.list_versions(Some(name)).await?.is_empty() => {
            Err(ApiError::not_found(
                "version_not_found",
                format!("processor {name} has no version {v}"),
            ))
        }
        (None, _) => Err(ApiError::not_found(
            "processor_not_found",
            format!("no processor named {name}"),
        )),
    }
}

pub(crate) async fn load_job(st: &AppState, raw: &str) -> Result<Job, ApiError> {
    let id: JobId = raw
        .parse()
        .map_err(|e: agensium_domain::InvalidInput| ApiError::not_found("job_not_found", e.0))?;
    st.backends
        .meta
        .get_job(id)
        .await?
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job {id}")))
}

/// `GET /v1/jobs/{id}`.
pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(load_job(&st, &id).await?.into()))
}

/// `GET /v1/jobs/{id}/result`: streams the output of a succeeded job.
pub async fn result(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = load_job(&st, &id).await?;
    match job.status {
        JobStatus::Succeeded => {}
        JobStatus::Queued | JobStatus::Running => {
            return Err(ApiError::conflict(
                "job_not_finished",
                format!(
                    "job {} is {}; the result is available once it succeeded",
                    job.id, job.status
                ),
            ));
        }
        JobStatus::Failed | JobStatus::Cancelled => {
            let why = job
                .error
                .map(|e| format!(": {}: {}", e.code, e.message))
                .unwrap_or_default();
            return Err(ApiError::conflict(
                "job_failed",
                format!("job {} is {} and has no result{why}", job.id, job.status),
            ));
        }
    }
    let stream = st
        .backends
        .objects
        .get(&job.id.output_key(job.attempts))
        .await?;
    let ct = job
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        ct.parse()
            .unwrap_or(header::HeaderValue::from_static("application/octet-stream")),
    );
    if let Some(n) = job.output_bytes {
        h.insert(header::CONTENT_LENGTH, n.into());
    }
    Ok(resp)
}

/// `GET /v1/jobs/{id}/logs`: the job's log as text (empty until it ran).
pub async fn logs(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = load_job(&st, &id).await?;
    // The log of the current (or last) attempt; none before the first.
    if job.attempts == 0 {
        return Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            Body::empty(),
        )
            .into_response());
    }
    let body = match st.backends.objects.get(&job.id.log_key(job.attempts)).await {
        Ok(s) => Body::from_stream(s),
        Err(StoreError::NotFound(_)) => Body::empty(),
        Err(e) => return Err(e.into()),
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

/// `GET /v1/jobs[?status=S][&limit=N][&before=ID]`: jobs, newest first.
/// `next` is the `before` value of the following page, or null at the end.
pub async fn list(
    State(st): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (mut status, mut before, mut limit) = (None, None, 100u32);
    for (k, v) in serde_urlencoded_pairs(query.as_deref().unwrap_or(""))? {
        match k.as_str() {
            "status" => {
                status = Some(
                    v.parse::<JobStatus>()
                        .map_err(|e| ApiError::bad_request("invalid_status", e.0))?,
                );
            }
            "before" => {
                before = Some(
                    v.parse::<JobId>()
                        .map_err(|e| ApiError::bad_request("invalid_job_id", e.0))?,
                );
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_limit", "limit must be 1..=1000")
                    })?;
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_query_parameter",
                    format!("unknown query parameter {k:?}: use status, limit or before"),
                ));
            }
        }
    }
    let jobs = st.backends.meta.list_jobs(status, before, limit).await?;
    let next = (jobs.len() == limit as usize)
        .then(|| jobs.last().map(|j| j.id.to_string()))
        .flatten();
    let jobs: Vec<JobView> = jobs.into_iter().map(JobView::from).collect();
    Ok(Json(serde_json::json!({ "jobs": jobs, "next": next })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        let q = parse_query(Some("version=1.0.0&param.a=x%20y&param.b=1+2")).unwrap();
        assert_eq!(q.version.as_deref(), Some("1.0.0"));
        assert_eq!(
            q.params,
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
