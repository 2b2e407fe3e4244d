//! Upload forms and the golden check: a version uploaded with a golden
//! input and its expected output becomes visible only if the processor,
//! run in the sandbox under the version's limits, produces exactly that
//! output.

use crate::error::ApiError;
use agensium_domain::Limits;
use agensium_domain::{Pairs, ParamsBuilder};
use agensium_engine::{JobLog, OutputChunks, Processor, Run, Runtime};
use agensium_ports::object_store::once;
use axum::http::{HeaderMap, StatusCode};
use bytes::{Bytes, BytesMut};
use std::io;
use tokio_util::sync::CancellationToken;

/// An upload: the component and, optionally, a golden example.
#[derive(Debug)]
pub struct Upload {
    /// The component bytes.
    pub component: Bytes,
    /// The example every version must reproduce before it is registered.
    pub golden: Option<Golden>,
}

/// A golden example: input, params and the exact expected output.
#[derive(Debug, Default)]
pub struct Golden {
    /// Input given to `process`.
    pub input: Bytes,
    /// Params given to `process` (`param.KEY` form fields).
    pub params: Pairs,
    /// The output `process` must write, byte for byte.
    pub expected: Bytes,
}

/// Reads an upload body: the raw component, or a `multipart/form-data` form
/// with parts `component`, `golden_input`, `golden_output` and `param.KEY`.
pub async fn parse(headers: &HeaderMap, body: Bytes) -> Result<Upload, ApiError> {
    let Some(boundary) = crate::forms::multipart_boundary(headers) else {
        return Ok(Upload {
            component: body,
            golden: None,
        });
    };
    let bad = |e: multer::Error| ApiError::bad_request("bad_multipart", e.to_string());
    let mut mp = multer::Multipart::with_constraints(
        futures::stream::iter([Ok::<_, io::Error>(body)]),
        boundary,
        crate::forms::form_constraints(&["component", "golden_input", "golden_output"]),
    );
    let (mut component, mut input, mut expected) = (None, None, None);
    let mut params = ParamsBuilder::default();
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        let slot = match name.as_str() {
            "component" => &mut component,
            "golden_input" => &mut input,
            "golden_output" => &mut expected,
            other => match other.strip_prefix("param.") {
                Some(key) => {
                    let v = field.text().await.map_err(bad)?;
                    crate::forms::add_param(&mut params, key, v)?;
                    continue;
                }
                None => {
                    return Err(ApiError::bad_request(
                        "bad_multipart",
                        format!(
                            "unexpected form field {name:?}: the parts are component, \
                             golden_input, golden_output and param.KEY"
                        ),
                    ));
                }
            },
        };
        *slot = Some(field.bytes().await.map_err(bad)?);
    }
    let component = component.ok_or_else(|| {
        ApiError::bad_request("bad_multipart", "no part named \"component\" in the form")
    })?;
    let golden = match (input, expected) {
        (Some(input), Some(expected)) => Some(Golden {
            input,
            params: params.finish(),
            expected,
        }),
        (None, None) if params.is_empty() => None,
        _ => {
            return Err(ApiError::bad_request(
                "bad_multipart",
                "a golden example needs both golden_input and golden_output",
            ));
        }
    };
    Ok(Upload { component, golden })
}

/// Runs `golden` through `processor` under `limits`; `Err` (422) when the
/// job fails or its output differs from the expected one.
pub async fn check(
    runtime: &Runtime,
    processor: &Processor,
    golden: &Golden,
    limits: Limits,
) -> Result<(), ApiError> {
    let log = JobLog::new(limits.log_bytes);
    let run = Run {
        params: golden.params.clone(),
        input: once(golden.input.clone()),
        limits,
        log: log.clone(),
        cancel: CancellationToken::new(),
    };
    // Keep one byte past the expected output: enough to tell "longer".
    let keep = golden.expected.len() + 1;
    let collect = |mut rx: OutputChunks| async move {
        let mut out = BytesMut::new();
        let mut total = 0u64;
        while let Some(Ok(chunk)) = rx.recv().await {
            total += chunk.len() as u64;
            let room = keep.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        (out.freeze(), total)
    };
    let (outcome, (got, total)) = runtime.run_draining(processor, run, collect).await;
    if let Err(e) = outcome.result {
        return Err(unprocessable(
            "golden_failed",
            format!(
                "the golden input failed: {}: {} (log: {})",
                e.code,
                e.message,
                tail(&log.contents(), 512)
            ),
        ));
    }
    match first_difference(&got, &golden.expected) {
        None => Ok(()),
        Some(at) => Err(unprocessable(
            "golden_mismatch",
            format!(
                "the output for the golden input differs from golden_output at byte {at}: \
                 expected {:?}, got {:?} ({} bytes expected, {total} written)",
                snippet(&golden.expected, at),
                snippet(&got, at),
                golden.expected.len(),
            ),
        )),
    }
}

fn unprocessable(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// The offset of the first byte where `got` and `expected` differ.
fn first_difference(got: &[u8], expected: &[u8]) -> Option<usize> {
    let common = got.iter().zip(expected).take_while(|(a, b)| a == b).count();
    (common < got.len().max(expected.len())).then_some(common)
}

/// Up to 40 bytes from `at`, lossily decoded.
fn snippet(bytes: &[u8], at: usize) -> String {
    let end = bytes.len().min(at + 40);
    String::from_utf8_lossy(&bytes[at.min(end)..end]).into_owned()
}

fn tail(bytes: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(n)..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn differences_are_located() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abd", b"abc"), Some(2));
        assert_eq!(first_difference(b"ab", b"abc"), Some(2), "shorter");
        assert_eq!(first_difference(b"abcd", b"abc"), Some(3), "longer");
        assert_eq!(first_difference(b"", b""), None);
        assert_eq!(snippet(b"hello", 3), "lo");
        assert_eq!(snippet(b"hello", 9), "");
    }

    fn form(parts: &[(&str, &[u8])]) -> (HeaderMap, Bytes) {
        let mut body = Vec::new();
        for (name, data) in parts {
            body.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XyZ".parse().unwrap(),
        );
        (h, body.into())
    }

    #[tokio::test]
    async fn forms_carry_a_component_and_a_golden_example() {
        let (h, b) = form(&[
            ("component", b"\0asm"),
            ("golden_input", b"a b\n"),
            ("golden_output", b"{}"),
            ("param.mode", b"x"),
        ]);
        let up = parse(&h, b).await.unwrap();
        assert_eq!(&up.component[..], b"\0asm");
        let g = up.golden.unwrap();
        assert_eq!((&g.input[..], &g.expected[..]), (&b"a b\n"[..], &b"{}"[..]));
        assert_eq!(g.params, vec![("mode".to_owned(), "x".to_owned())]);

        let (h, b) = form(&[("component", b"\0asm"), ("golden_input", b"x")]);
        let e = parse(&h, b).await.unwrap_err();
        assert_eq!(e.code, "bad_multipart");
        let (h, b) = form(&[("golden_input", b"x"), ("golden_output", b"y")]);
        assert_eq!(parse(&h, b).await.unwrap_err().code, "bad_multipart");
        let (h, b) = form(&[("component", b"x"), ("colour", b"red")]);
        assert_eq!(parse(&h, b).await.unwrap_err().code, "bad_multipart");

        let raw = parse(&HeaderMap::new(), Bytes::from_static(b"\0asm"))
            .await
            .unwrap();
        assert!(raw.golden.is_none());
    }
}
