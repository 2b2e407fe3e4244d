//! `GET /v1/jobs/{id}/result?follow=true`: a large output streams to the
//! client while the job still writes it, on the embedded stack and on the
//! production one (separate `agensium api` and `worker` processes on
//! MySQL, Redis and S3); an attempt that fails cuts the answer off.

use crate::faults::{ONE_AT_A_TIME, Rig};
use agensium_tests::procs::SharedBackends;
use agensium_tests::{Client, TestApp, fixture, has_output};
use futures::StreamExt;
use reqwest::StatusCode;
use std::time::Duration;

/// The bytes `trickle-write` writes: byte `i` is `i % 251`.
fn pattern(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// 12 MiB written 64 KiB per 10 ms (about 2 s, in three 4 MiB segments):
/// the first bytes reach the client while the job is still running, and
/// the whole answer is the output the job then records.
async fn a_large_output_is_followed_while_written(api: &Client) {
    let query = "param.mode=trickle-write&param.mib=12&param.ms=10";
    let id = api.submit_ok("hostile", query, b"go".to_vec()).await;
    let r = api
        .get(&format!("/v1/jobs/{id}/result?follow=true&wait=60"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["agensium-streaming"], "true");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(r.headers().get("content-length").is_none());
    let mut body = r.bytes_stream();
    let mut got = body.next().await.expect("a first chunk").unwrap().to_vec();
    let (_, job) = api.get_json(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        job["status"], "running",
        "first bytes before the end: {job}"
    );
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    let job = api.wait(&id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["output_bytes"], 12 << 20, "{job}");
    assert!(got == pattern(12 << 20), "the followed bytes differ");
    // Once it ended, the same request is the plain result.
    let r = api
        .get(&format!("/v1/jobs/{id}/result?follow=true&wait=60"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("agensium-streaming").is_none());
    assert_eq!(r.headers()["content-length"], (12u64 << 20).to_string());
    assert!(r.bytes().await.unwrap() == pattern(12 << 20));
}

#[tokio::test]
async fn a_large_output_is_followed_while_written_on_the_embedded_stack() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    a_large_output_is_followed_while_written(&app).await;
    // `wait` alone holds the answer until the end: the plain result.
    let id = app
        .submit_ok("hostile", "param.mode=sleep&param.ms=300", b"late".to_vec())
        .await;
    let r = app.get(&format!("/v1/jobs/{id}/result?wait=60")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("agensium-streaming").is_none());
    assert_eq!(r.bytes().await.unwrap(), &b"late"[..]);
    for (query, code) in [
        ("follow=yes", "invalid_follow"),
        ("wait=61", "invalid_wait"),
        ("colour=red", "unknown_query_parameter"),
    ] {
        let r = app.get(&format!("/v1/jobs/{id}/result?{query}")).await;
        agensium_tests::assert_error(r, StatusCode::BAD_REQUEST, code).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_output_is_followed_while_written_on_the_production_stack() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let rig = Rig::start_with(&be, &[]).await;
    a_large_output_is_followed_while_written(&rig.api).await;
}

/// An attempt that stores segments and then fails (here: 16 MiB written
/// slowly past a 10 MiB output limit) cuts the followed answer off instead
/// of ending it, and its segments are gone.
#[tokio::test]
async fn a_followed_result_is_cut_off_when_the_attempt_fails() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |s| {
        s.limits.output_bytes = 10 << 20;
    })
    .await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = app
        .submit_ok(
            "hostile",
            "param.mode=trickle-write&param.mib=16&param.ms=10",
            b"go".to_vec(),
        )
        .await;
    let r = app
        .get(&format!("/v1/jobs/{id}/result?follow=true&wait=60"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.bytes_stream();
    let (mut got, mut cut) = (0usize, false);
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => got += c.len(),
                Err(_) => {
                    cut = true;
                    break;
                }
            }
        }
    });
    read.await.expect("the answer ends");
    assert!(
        cut,
        "a failed attempt's output ended like a result ({got} bytes)"
    );
    assert!(got >= 4 << 20, "a segment was followed first ({got} bytes)");
    let job = app.wait(&id).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "output_limit", "{job}");
    assert!(!has_output(&id, &app.objects()), "{:?}", app.objects());
    app.stop().await;
}
