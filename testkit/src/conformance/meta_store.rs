//! Conformance suite of [`MetaStore`] adapters: the job store's promises
//! here, and the suites of the store's other ports (catalog, tenants,
//! callbacks) called from [`run`].

use agensium_domain::{
    Caller, DeclaredLimits, Digest, ErrorCode, Job, JobError, JobId, JobRef, JobStatus,
    ProcessorVersion, Role, Usage, WorkerId, now_to_the_millisecond,
};
use agensium_ports::meta::{Finish, JobBody, JobFilter, MetaStore, NewJob};
use bytes::Bytes;
use std::time::Duration;

/// A version record for tests, with the digest of `bytes`.
pub fn version(name: &str, version: &str, bytes: &[u8]) -> ProcessorVersion {
    ProcessorVersion {
        name: name.parse().unwrap(),
        version: version.into(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        created_at: now_to_the_millisecond(),
        limits: DeclaredLimits {
            memory_mib: Some(64),
            timeout_ms: Some(1500),
            ..Default::default()
        },
        uploaded_by: Some("00000000000000aa".parse().unwrap()),
        inline_safe: false,
        yanked_at: None,
    }
}

/// The caller the suites' jobs are submitted by: a submitter of the team
/// `conformance`.
pub fn tester() -> Caller {
    Caller {
        key_id: "00000000000000aa".parse().unwrap(),
        team: "conformance".parse().unwrap(),
        role: Role::Submitter,
    }
}

fn ids(refs: Vec<JobRef>) -> Vec<JobId> {
    refs.into_iter().map(|r| r.id).collect()
}

fn w(name: &str) -> WorkerId {
    WorkerId::new(name)
}

/// Runs every check against `store`. Names are unique per call.
pub async fn run(store: &dyn MetaStore) {
    let n = format!("p{}", uuid::Uuid::now_v7().simple());
    super::catalog::run(store, &n).await;
    job_life(store, &n).await;
    leases(store, &n).await;
    cancelling(store, &n).await;
    retrying(store, &n).await;
    inline_bodies(store, &n).await;
    batched_inserts(store, &n).await;
    queued_quota(store, &n).await;
    listing(store, &n).await;
    super::tenants::run(store, &n).await;
    super::callbacks::run(store, &n).await;
    artifact_ledger(store, &n).await;
    retention(store, &n).await;
    named_leases(store, &n).await;
    // Last: recovery requeues every running job of the store.
    recovery(store, &n).await;
}

/// `count` new jobs of `pv` (registered here) by `by`, stored queued.
pub(super) async fn queued_jobs(
    store: &dyn MetaStore,
    pv: &ProcessorVersion,
    by: &Caller,
    count: usize,
) -> Vec<Job> {
    store.put_version(pv).await.unwrap();
    let jobs: Vec<Job> = (0..count)
        .map(|_| Job::queued(JobId::new(), pv, vec![], 10, by))
        .collect();
    for j in &jobs {
        store.insert_job(j, None).await.unwrap();
    }
    jobs
}

/// Three jobs of `pv` by `by`: the first finished (failed), the second
/// running under `w`, the third queued.
pub(super) async fn one_of_each(
    store: &dyn MetaStore,
    pv: &ProcessorVersion,
    by: &Caller,
    w: &WorkerId,
) -> Vec<Job> {
    let jobs = queued_jobs(store, pv, by, 3).await;
    let lease = Duration::from_secs(30);
    for j in &jobs[..2] {
        store.start_job(j.id, w, lease).await.unwrap().unwrap();
    }
    let done = Finish::Failed(JobError::new(ErrorCode::Trap, "done"));
    assert!(
        store
            .finish_job(jobs[0].id, w, &done, None, None)
            .await
            .unwrap()
    );
    jobs
}

/// `expire_jobs` deletes final rows only, leaving tombstones.
async fn retention(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "7.2.0", b"retention");
    let jobs = one_of_each(store, &pv, &tester(), &WorkerId::new("w-retention")).await;
    let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
    let at = now_to_the_millisecond();
    assert_eq!(
        store.expire_jobs(&ids, at).await.unwrap(),
        1,
        "the final one only"
    );
    assert_eq!(store.get_job(jobs[0].id).await.unwrap(), None);
    assert_eq!(
        store.expired_job(jobs[0].id).await.unwrap(),
        Some(tester().team)
    );
    for running_or_queued in &jobs[1..] {
        assert!(store.get_job(running_or_queued.id).await.unwrap().is_some());
        assert_eq!(store.expired_job(running_or_queued.id).await.unwrap(), None);
    }
    assert_eq!(store.expire_jobs(&ids, at).await.unwrap(), 0, "idempotent");
    assert_eq!(store.expire_jobs(&[], at).await.unwrap(), 0);
}

/// A named lease has one holder until it lapses; its holder renews it.
async fn named_leases(store: &dyn MetaStore, n: &str) {
    let name = format!("sweep-{}", &n[..20.min(n.len())]);
    let now = now_to_the_millisecond();
    let later = now + chrono::Duration::seconds(10);
    assert!(store.take_lease(&name, "a", now, later).await.unwrap());
    assert!(
        !store.take_lease(&name, "b", now, later).await.unwrap(),
        "held by a"
    );
    let renewed = later + chrono::Duration::seconds(5);
    assert!(
        store.take_lease(&name, "a", now, renewed).await.unwrap(),
        "a renews"
    );
    let lapsed = renewed + chrono::Duration::seconds(1);
    let after = lapsed + chrono::Duration::seconds(10);
    assert!(
        store.take_lease(&name, "b", lapsed, after).await.unwrap(),
        "b takes it over"
    );
    assert!(!store.take_lease(&name, "a", lapsed, after).await.unwrap());
}

/// `insert_job_within` counts and inserts in one step: 64 concurrent
/// inserts of a team whose quota is 10 store exactly 10 (finding 10 of
/// the security review: the count came before the insert, and concurrent
/// submissions all passed the count).
async fn queued_quota(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "7.0.0", b"quota");
    store.put_version(&pv).await.unwrap();
    let mut caller = tester();
    caller.team = format!("q{n}").parse().unwrap();
    let jobs: Vec<Job> = (0..64)
        .map(|_| Job::queued(JobId::new(), &pv, vec![], 1, &caller))
        .collect();
    let inserts = jobs.iter().map(|j| store.insert_job_within(j, None, 10));
    let stored = futures::future::join_all(inserts).await;
    let admitted = stored.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(admitted, 10, "exactly the quota is queued");
    let queued = store
        .count_jobs(&caller.team, JobStatus::Queued)
        .await
        .unwrap();
    assert_eq!(queued, 10);
    let one_more = Job::queued(JobId::new(), &pv, vec![], 1, &caller);
    assert!(!store.insert_job_within(&one_more, None, 10).await.unwrap());
    assert!(
        store.get_job(one_more.id).await.unwrap().is_none(),
        "nothing stored"
    );
    assert!(store.insert_job_within(&one_more, None, 11).await.unwrap());
    assert_eq!(
        store.get_job(one_more.id).await.unwrap().map(|j| j.id),
        Some(one_more.id)
    );
}

/// The ledger answers the digest last recorded for a key, and nothing for
/// a key never recorded.
async fn artifact_ledger(store: &dyn MetaStore, n: &str) {
    let key = format!("artifacts/{n}-0123456789abcdef.cwasm");
    assert_eq!(store.artifact_digest(&key).await.unwrap(), None);
    let (a, b) = (Digest::of(b"artifact a"), Digest::of(b"artifact b"));
    store.record_artifact(&key, &a).await.unwrap();
    assert_eq!(store.artifact_digest(&key).await.unwrap(), Some(a));
    store.record_artifact(&key, &b).await.unwrap();
    assert_eq!(store.artifact_digest(&key).await.unwrap(), Some(b.clone()));
    let other = format!("artifacts/{n}-fedcba9876543210.cwasm");
    assert_eq!(store.artifact_digest(&other).await.unwrap(), None);
    assert_eq!(store.artifact_digest(&key).await.unwrap(), Some(b));
}

const LEASE: Duration = Duration::from_secs(30);

async fn job_life(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "2.0.0", b"job-life");
    store.put_version(&pv).await.unwrap();
    let params = vec![
        ("b".to_string(), "2".to_string()),
        ("a".to_string(), "1".to_string()),
    ];
    let mut job = Job::queued(JobId::new(), &pv, params, 1234, &tester());
    // The trace its spans join is kept with it, as given.
    job.trace_parent = Some(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    store.insert_job(&job, None).await.unwrap();
    assert_eq!(store.get_job(job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(store.get_job(JobId::new()).await.unwrap(), None);

    let started = store
        .start_job(job.id, &w("w1"), LEASE)
        .await
        .unwrap()
        .unwrap()
        .job;
    assert_eq!((started.status, started.attempts), (JobStatus::Running, 1));
    assert_eq!(started.worker, Some(w("w1")));
    assert!(started.started_at.is_some());
    assert!(
        store
            .start_job(job.id, &w("w2"), LEASE)
            .await
            .unwrap()
            .is_none(),
        "a running job under a live lease is not started twice"
    );
    assert!(store.renew_lease(job.id, &w("w1"), LEASE).await.unwrap());
    assert!(
        !store.renew_lease(job.id, &w("w2"), LEASE).await.unwrap(),
        "only the owner renews"
    );

    let done = Finish::Succeeded {
        inline_output: None,
        output_bytes: 42,
        content_type: Some("application/json".into()),
        stats: vec![("rows".into(), "3".into())],
    };
    assert!(
        !store
            .finish_job(job.id, &w("w2"), &done, None, None)
            .await
            .unwrap(),
        "only the owner finishes"
    );
    let used = Usage {
        peak_memory_bytes: 1 << 20,
        wall_time_ms: 12,
        epoch_ticks: 1,
        output_bytes: 42,
        fuel_consumed: Some(1234),
    };
    assert!(
        store
            .finish_job(job.id, &w("w1"), &done, Some(&used), None)
            .await
            .unwrap()
    );
    let fin = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(fin.status, JobStatus::Succeeded);
    assert_eq!(fin.output_bytes, Some(42));
    assert_eq!(fin.content_type.as_deref(), Some("application/json"));
    assert_eq!(fin.stats, vec![("rows".to_string(), "3".to_string())]);
    assert!(fin.finished_at.is_some());
    assert_eq!(fin.usage, Some(used));
    assert_eq!(fin.params, job.params, "params keep their order");

    // Final states are final.
    let fail = Finish::Failed(JobError::new(ErrorCode::Trap, "boom"));
    assert!(
        !store
            .finish_job(job.id, &w("w1"), &fail, None, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .start_job(job.id, &w("w1"), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.requeue_job(job.id, &w("w1")).await.unwrap());
    assert_eq!(
        store.get_job(job.id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );

    let bad = Job::queued(JobId::new(), &pv, vec![], 0, &tester());
    store.insert_job(&bad, None).await.unwrap();
    assert!(
        !store
            .finish_job(bad.id, &w("w1"), &fail, None, None)
            .await
            .unwrap(),
        "only running jobs finish"
    );
    store
        .start_job(bad.id, &w("w1"), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .finish_job(bad.id, &w("w1"), &fail, None, None)
            .await
            .unwrap()
    );
    let bad = store.get_job(bad.id).await.unwrap().unwrap();
    assert_eq!(bad.status, JobStatus::Failed);
    assert_eq!(bad.error, Some(JobError::new(ErrorCode::Trap, "boom")));
}

async fn leases(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "2.1.0", b"leases");
    store.put_version(&pv).await.unwrap();
    let job = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    store.insert_job(&job, None).await.unwrap();

    // Handed back by its owner: queued again, startable by anyone.
    store
        .start_job(job.id, &w("w1"), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(!store.requeue_job(job.id, &w("w2")).await.unwrap());
    assert!(store.requeue_job(job.id, &w("w1")).await.unwrap());
    assert_eq!(
        store.get_job(job.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    assert!(
        store
            .queued_jobs(None, 10_000)
            .await
            .unwrap()
            .contains(&JobRef {
                id: job.id,
                team: tester().team
            }),
        "queued jobs come with their team (their rail lane)"
    );

    // A dead worker's lease expires: another worker takes the job over and
    // the dead one can no longer finish it.
    store
        .start_job(job.id, &w("w2"), Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store
        .start_job(job.id, &w("w3"), LEASE)
        .await
        .unwrap()
        .unwrap()
        .job;
    assert_eq!((taken.worker.clone(), taken.attempts), (Some(w("w3")), 3));
    let done = Finish::Failed(JobError::new(ErrorCode::Processor("x".into()), "y"));
    assert!(
        !store
            .finish_job(job.id, &w("w2"), &done, None, None)
            .await
            .unwrap()
    );

    // Expired leases are found and requeued in bulk.
    let other = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    store.insert_job(&other, None).await.unwrap();
    store
        .start_job(other.id, &w("w4"), Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let expired = ids(store.requeue_expired().await.unwrap());
    assert!(
        expired.contains(&other.id) && !expired.contains(&job.id),
        "{expired:?}"
    );
    assert_eq!(
        store.get_job(other.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    assert!(
        store
            .finish_job(job.id, &w("w3"), &done, None, None)
            .await
            .unwrap()
    );

    // queued_jobs pages in id order.
    let all = ids(store.queued_jobs(None, 10_000).await.unwrap());
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    if all.len() > 1 {
        assert_eq!(
            ids(store.queued_jobs(Some(all[0]), 1).await.unwrap()),
            [all[1]]
        );
    }
}

async fn cancelling(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "2.2.0", b"cancel");
    store.put_version(&pv).await.unwrap();
    let queued = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    let running = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    store.insert_job(&queued, None).await.unwrap();
    store.insert_job(&running, None).await.unwrap();
    store
        .start_job(running.id, &w("w1"), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(store.cancel_job(queued.id).await.unwrap());
    assert!(store.cancel_job(running.id).await.unwrap());
    for id in [queued.id, running.id] {
        let j = store.get_job(id).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Cancelled);
        assert_eq!(j.error.unwrap().code, ErrorCode::Cancelled);
        assert!(j.finished_at.is_some());
    }
    assert!(
        !store.cancel_job(queued.id).await.unwrap(),
        "final stays final"
    );
    assert!(!store.cancel_job(JobId::new()).await.unwrap());
    let done = Finish::Failed(JobError::new(ErrorCode::Processor("x".into()), "y"));
    assert!(
        !store
            .finish_job(running.id, &w("w1"), &done, None, None)
            .await
            .unwrap(),
        "a cancelled job is not finished"
    );
    assert!(
        store
            .start_job(queued.id, &w("w2"), LEASE)
            .await
            .unwrap()
            .is_none(),
        "nor started"
    );
}

async fn retrying(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "2.3.0", b"retry");
    store.put_version(&pv).await.unwrap();
    let job = Job::queued(
        JobId::new(),
        &pv,
        vec![("k".into(), "v".into())],
        7,
        &tester(),
    );
    store.insert_job(&job, None).await.unwrap();
    assert!(
        !store.retry_job(job.id).await.unwrap(),
        "queued: nothing to retry"
    );
    for owner in [w("w1"), w("w2")] {
        store
            .start_job(job.id, &owner, LEASE)
            .await
            .unwrap()
            .unwrap();
        if owner == w("w1") {
            assert!(!store.retry_job(job.id).await.unwrap(), "running: no retry");
            assert!(store.requeue_job(job.id, &owner).await.unwrap());
        }
    }
    let failed = Finish::Failed(JobError::new(ErrorCode::MaxAttempts, "gave up"));
    let used = Usage::default();
    assert!(
        store
            .finish_job(job.id, &w("w2"), &failed, Some(&used), None)
            .await
            .unwrap()
    );
    assert!(store.retry_job(job.id).await.unwrap());
    let j = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(
        (j.attempts, j.attempt_base),
        (2, 2),
        "attempts keep counting"
    );
    assert_eq!((j.error, j.usage, j.worker), (None, None, None));
    assert!(j.finished_at.is_none() && j.started_at.is_none());
    assert_eq!(
        (j.params, j.digest, j.input_bytes),
        (job.params, job.digest, 7)
    );
    let again = store
        .start_job(job.id, &w("w3"), LEASE)
        .await
        .unwrap()
        .unwrap()
        .job;
    assert_eq!((again.attempts, again.attempt_base), (3, 2));
    assert!(!store.retry_job(JobId::new()).await.unwrap());
    assert!(store.cancel_job(job.id).await.unwrap());
    assert!(
        store.retry_job(job.id).await.unwrap(),
        "cancelled jobs retry too"
    );
}

/// Coalesced submissions: a batch stores every row with its own input, or
/// (one row failing) none of them.
async fn batched_inserts(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "5.0.0", b"batched");
    store.put_version(&pv).await.unwrap();
    let inputs: Vec<Option<Bytes>> =
        vec![Some(Bytes::from_static(b"one")), None, Some(Bytes::new())];
    let jobs: Vec<Job> = (0..3)
        .map(|_| Job::queued(JobId::new(), &pv, vec![], 3, &tester()))
        .collect();
    let rows: Vec<NewJob<'_>> = jobs
        .iter()
        .zip(&inputs)
        .map(|(job, input)| NewJob {
            job,
            input: input.as_ref(),
        })
        .collect();
    store.insert_jobs(&rows).await.unwrap();
    store.insert_jobs(&[]).await.unwrap();
    for (job, input) in jobs.iter().zip(&inputs) {
        let got = store.get_job_body(job.id, JobBody::Input).await.unwrap();
        assert_eq!(got, Some((job.clone(), input.clone())));
    }
    // All or none: a batch holding an id that exists stores nothing.
    let fresh = Job::queued(JobId::new(), &pv, vec![], 3, &tester());
    let clash = [
        NewJob {
            job: &fresh,
            input: None,
        },
        NewJob {
            job: &jobs[0],
            input: None,
        },
    ];
    assert!(store.insert_jobs(&clash).await.is_err());
    assert_eq!(store.get_job(fresh.id).await.unwrap(), None);
}

/// Small bodies kept in the row: the input comes back with the start, the
/// output and log with the finish; any bytes (not only UTF-8) survive;
/// a retry keeps the input and drops the rest; a job whose bodies are in
/// the object store has none in its row.
async fn inline_bodies(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "4.0.0", b"inline");
    store.put_version(&pv).await.unwrap();
    let input = Bytes::from_static(b"\x00\xff\xfe binary \xc3\x28 input");
    let job = Job::queued(JobId::new(), &pv, vec![], input.len() as u64, &tester());
    store.insert_job(&job, Some(&input)).await.unwrap();
    let body = |b| async move { store.get_job_body(job.id, b).await.unwrap().unwrap() };
    assert_eq!(
        body(JobBody::Input).await,
        (job.clone(), Some(input.clone()))
    );
    assert_eq!(body(JobBody::Output).await.1, None);
    let started = store
        .start_job(job.id, &w("w1"), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.input, Some(input.clone()));
    assert_eq!(started.job.status, JobStatus::Running);

    let (output, log) = (
        Bytes::from_static(b"\xff\x00out"),
        Bytes::from_static(b"[info] hi\n"),
    );
    let done = Finish::Succeeded {
        output_bytes: output.len() as u64,
        inline_output: Some(output.clone()),
        content_type: None,
        stats: vec![],
    };
    assert!(
        store
            .finish_job(job.id, &w("w1"), &done, None, Some(&log))
            .await
            .unwrap()
    );
    assert_eq!(body(JobBody::Output).await.1, Some(output));
    assert_eq!(body(JobBody::Log).await.1, Some(log));
    assert_eq!(body(JobBody::Output).await.0.output_bytes, Some(5));

    // An empty input is a body too, not "none".
    let empty = Job::queued(JobId::new(), &pv, vec![], 0, &tester());
    store.insert_job(&empty, Some(&Bytes::new())).await.unwrap();
    let s = store
        .start_job(empty.id, &w("w1"), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.input, Some(Bytes::new()));
    let failed = Finish::Failed(JobError::new(ErrorCode::Processor("x".into()), "no"));
    assert!(
        store
            .finish_job(empty.id, &w("w1"), &failed, None, None)
            .await
            .unwrap()
    );
    assert!(store.retry_job(empty.id).await.unwrap());
    let (again, input) = store
        .get_job_body(empty.id, JobBody::Input)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.status, input),
        (JobStatus::Queued, Some(Bytes::new()))
    );

    // Stored in the object store: nothing in the row.
    let stored = Job::queued(JobId::new(), &pv, vec![], 1 << 30, &tester());
    store.insert_job(&stored, None).await.unwrap();
    let s = store
        .start_job(stored.id, &w("w2"), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.input, None);
    assert_eq!(
        store
            .get_job_body(JobId::new(), JobBody::Log)
            .await
            .unwrap(),
        None
    );
}

async fn recovery(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "3.0.0", b"recovery");
    store.put_version(&pv).await.unwrap();
    let queued = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    let running = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    let done = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    for j in [&queued, &running, &done] {
        store.insert_job(j, None).await.unwrap();
    }
    store.start_job(running.id, &w("w1"), LEASE).await.unwrap();
    store.start_job(done.id, &w("w1"), LEASE).await.unwrap();
    store
        .finish_job(
            done.id,
            &w("w1"),
            &Finish::Failed(JobError::new(ErrorCode::Processor("x".into()), "y")),
            None,
            None,
        )
        .await
        .unwrap();
    let ids = ids(store.recover_unfinished().await.unwrap());
    assert!(ids.contains(&queued.id) && ids.contains(&running.id));
    assert!(!ids.contains(&done.id));
    let r = store.get_job(running.id).await.unwrap().unwrap();
    assert_eq!(
        r.status,
        JobStatus::Queued,
        "running jobs go back to queued"
    );
    assert_eq!(r.attempts, 1, "recovery keeps the attempt count");
}

async fn listing(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "4.0.0", b"listing");
    store.put_version(&pv).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let j = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
        store.insert_job(&j, None).await.unwrap();
        ids.push(j.id);
    }
    store.start_job(ids[1], &w("w1"), LEASE).await.unwrap();
    store
        .finish_job(
            ids[1],
            &w("w1"),
            &Finish::Failed(JobError::new(ErrorCode::Processor("x".into()), "y")),
            None,
            None,
        )
        .await
        .unwrap();
    let page = store
        .list_jobs(&JobFilter::default(), None, 2)
        .await
        .unwrap();
    let newest: Vec<JobId> = page.iter().map(|j| j.id).collect();
    assert_eq!(newest, [ids[4], ids[3]], "newest first");
    let next = store
        .list_jobs(&JobFilter::default(), Some(ids[3]), 2)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let failed_only = JobFilter {
        status: Some(JobStatus::Failed),
        ..JobFilter::default()
    };
    let failed = store
        .list_jobs(&failed_only, Some(ids[4]), 100)
        .await
        .unwrap();
    assert!(failed.iter().all(|j| j.status == JobStatus::Failed));
    assert!(failed.iter().any(|j| j.id == ids[1]));
    let other = version(&format!("{n}-other"), "1.0.0", b"listed elsewhere");
    store.put_version(&other).await.unwrap();
    let theirs = Job::queued(JobId::new(), &other, vec![], 1, &tester());
    store.insert_job(&theirs, None).await.unwrap();
    let by_processor = JobFilter {
        processor: Some(&other.name),
        ..JobFilter::default()
    };
    let only = store.list_jobs(&by_processor, None, 100).await.unwrap();
    assert_eq!(only.iter().map(|j| j.id).collect::<Vec<_>>(), [theirs.id]);
}
