//! Headers of a job's result. Its content type comes from the processor,
//! which is untrusted code: a browser must never sniff, run or render it
//! in the API's origin.

use agensium_domain::JobId;
use axum::http::header::{self, HeaderMap, HeaderValue};

/// The longest content type served as the processor reported it.
pub const MAX_CONTENT_TYPE: usize = 255;

const FALLBACK: &str = "application/octet-stream";

/// A restricted-name token of RFC 6838 (`type` and `subtype`).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 127
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

/// `type/subtype` with optional `; key=value` parameters of visible ASCII:
/// no control characters, no line breaks, at most [`MAX_CONTENT_TYPE`] bytes.
pub fn is_media_type(ct: &str) -> bool {
    if ct.len() > MAX_CONTENT_TYPE || !ct.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return false;
    }
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    is_token(ty)
        && is_token(sub)
        && parts.all(|p| {
            p.trim()
                .split_once('=')
                .is_some_and(|(k, v)| is_token(k) && !v.is_empty())
        })
}

/// Sets `Content-Type` (the processor's, when it is a plain media type),
/// `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox`
/// and, unless `inline`, `Content-Disposition: attachment`.
pub fn set(h: &mut HeaderMap, id: JobId, content_type: Option<&str>, inline: bool) {
    let ct = content_type
        .filter(|ct| is_media_type(ct))
        .and_then(|ct| HeaderValue::from_str(ct).ok())
        .unwrap_or(HeaderValue::from_static(FALLBACK));
    h.insert(header::CONTENT_TYPE, ct);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if !inline {
        let disposition = format!("attachment; filename=\"{id}\"");
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_media_types_pass() {
        for ok in [
            "application/json",
            "text/plain; charset=utf-8",
            "image/svg+xml",
            "application/vnd.api+json",
        ] {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "json",
            "text/html\r\nSet-Cookie: a=b",
            "text/plain\x00",
            "text/plain\t",
            "text /plain",
            "text/plain; charset",
            "tëxt/plain",
            &format!("text/{}", "a".repeat(300)),
        ] {
            assert!(!is_media_type(bad), "{bad:?}");
        }
    }

    #[test]
    fn results_are_attachments_in_a_sandbox() {
        let id = JobId::new();
        let mut h = HeaderMap::new();
        set(&mut h, id, Some("text/html\x07"), false);
        assert_eq!(h[header::CONTENT_TYPE], FALLBACK);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "sandbox");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"{id}\"").as_str()
        );
        let mut h = HeaderMap::new();
        set(&mut h, id, Some("text/html"), true);
        assert_eq!(h[header::CONTENT_TYPE], "text/html");
        assert!(!h.contains_key(header::CONTENT_DISPOSITION));
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "sandbox");
    }
}
