//! The object store dies under a running job: while the job's multi-MiB
//! input is being read, and while its multi-segment output is written.
//! Neither is the processor's fault: the attempt is handed back, retried,
//! and the job succeeds once the store is back, with exactly one result
//! object. Each scenario adds a row to the fault table.

use crate::faults::{ONE_AT_A_TIME, Rig};
use agensium_ports::ObjectStore;
use agensium_tests::faults::{OwnS3, Scenario};
use agensium_tests::procs::SharedBackends;
use std::time::{Duration, Instant};

/// Runs one job of the hostile fixture with `query` on `input`, takes the
/// private S3 server down `into` the job's run for `outage` (longer than
/// the S3 client's own retries), and checks
/// that the job succeeds with `expected`, after more than one attempt, with
/// one result object.
async fn store_dies_under_a_job(
    name: &'static str,
    query: &str,
    input: Vec<u8>,
    expected: Vec<u8>,
    into: Duration,
    outage: Duration,
) {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut be) = SharedBackends::fresh().await else {
        return;
    };
    let mut s3 = OwnS3::start(be.var("AGENSIUM_S3_BUCKET")).await;
    be.set("AGENSIUM_S3_ENDPOINT", &s3.endpoint);
    // Attempts that meet the store still down count too: room for them.
    // Nothing inline: every body meets the store.
    let rig = Rig::start_with(
        &be,
        &[
            ("AGENSIUM_MAX_ATTEMPTS", "30"),
            ("AGENSIUM_INLINE_KIB", "0"),
        ],
    )
    .await;
    let id = rig.api.submit_ok("hostile", query, input).await;
    rig.api
        .wait_for(&id, "running", Duration::from_secs(60), |j| {
            j["status"] == "running"
        })
        .await;
    tokio::time::sleep(into).await;
    s3.stop();
    tokio::time::sleep(outage).await;
    s3.resume().await;
    let fault_over = Instant::now();
    let job = rig
        .api
        .wait_for(&id, "final", Duration::from_secs(180), |j| {
            matches!(
                j["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await;
    let keys = rig.store.list(&format!("jobs/{id}/out")).await.unwrap();
    let outputs = agensium_tests::output_attempts(&id, &keys);
    let succeeded = job["status"] == "succeeded";
    let row = Scenario {
        name,
        accepted: 1,
        succeeded: usize::from(succeeded),
        failed: usize::from(!succeeded),
        duplicates: usize::from(outputs.len() > 1),
        refused: 0,
        recovery: fault_over.elapsed(),
    };
    row.record();
    assert!(
        succeeded,
        "{name}: the store's failure was blamed on the processor: {job}"
    );
    assert!(
        job["attempts"].as_u64() > Some(1),
        "{name}: never handed back: {job}"
    );
    assert!(
        rig.api.result(&id).await.1 == expected,
        "{name}: wrong output"
    );
    assert_eq!(outputs.len(), 1, "{name}: result objects {outputs:?}");
}

/// `<bytes> <FNV-1a 64, hex>`, as the fixture's `trickle-read` writes it.
fn fnv(data: &[u8]) -> Vec<u8> {
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} {hash:016x}", data.len()).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_dies_while_the_input_is_read_and_the_job_is_retried() {
    // 48 MiB read 64 KiB per 5 ms: ~4 s per attempt. The input is 4 MiB
    // segments, each one GET that the S3 client retries on its own, so a
    // server killed and restarted at once (a blip) costs no attempt any
    // more; down 6 s, past the client's retries, the next segment's GET
    // fails and the attempt is handed back.
    let input: Vec<u8> = (0..48u32 << 20).map(|i| (i % 241) as u8).collect();
    let expected = fnv(&input);
    store_dies_under_a_job(
        "S3 down 6 s while a 48 MiB input is read",
        "param.mode=trickle-read&param.ms=5",
        input,
        expected,
        Duration::from_secs(1),
        Duration::from_secs(6),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_down_while_a_segmented_output_is_written_and_the_job_is_retried() {
    // 24 MiB in 4 MiB segments, 64 KiB per 10 ms: the second segment is on
    // its way when the server dies 1 s in, and stays down past the client's
    // retries.
    let expected: Vec<u8> = (0..24u64 << 20).map(|i| (i % 251) as u8).collect();
    store_dies_under_a_job(
        "S3 down 6 s while a 24 MiB output is written",
        "param.mode=trickle-write&param.mib=24&param.ms=10",
        b"go".to_vec(),
        expected,
        Duration::from_secs(1),
        Duration::from_secs(6),
    )
    .await;
}
