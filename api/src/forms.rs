//! Query strings and forms as requests send them: decoded pairs, params
//! bounded as they are added, multipart limits and boundaries.

use crate::error::ApiError;
use agensium_domain::{MAX_PARAM_VALUE, ParamsBuilder};
use axum::http::{HeaderMap, header};

/// Adds `key=value` to `params`, or answers 400 `invalid_param` (empty,
/// repeated or over-long key, over-long value, too many params).
pub(crate) fn add_param(
    params: &mut ParamsBuilder,
    key: &str,
    value: String,
) -> Result<(), ApiError> {
    params
        .add(key, value)
        .map_err(|e| ApiError::bad_request("invalid_param", e.to_string()))
}

/// Multipart limits: every text field (a `param.KEY`) at most
/// [`MAX_PARAM_VALUE`] bytes; `big` (the file or the component) unbounded
/// here, as the caller bounds it.
pub(crate) fn form_constraints(big: &[&'static str]) -> multer::Constraints {
    let mut limit = multer::SizeLimit::new().per_field(MAX_PARAM_VALUE as u64);
    for name in big {
        limit = limit.for_field(*name, u64::MAX);
    }
    multer::Constraints::new().size_limit(limit)
}

/// Decoded `key=value` pairs of a query string, or 400.
pub(crate) fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
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

/// The boundary of a `multipart/form-data` body, when it is one.
pub(crate) fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(ct).ok()
}
