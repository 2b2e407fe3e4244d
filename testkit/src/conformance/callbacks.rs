//! Conformance suite of the webhook half of a metadata store
//! ([`CallbackStore`]): deliveries fall due as jobs end, one claimer per
//! attempt, records apply to their own attempt, secrets per team.

use super::meta_store::{tester, version};
use agensium_domain::{
    Callback, DeliveryState, Job, JobId, Quota, Team, WorkerId, now_to_the_millisecond,
};
use agensium_ports::callbacks::{AttemptRecord, DueCallback};
use agensium_ports::meta::{Finish, MetaStore};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

/// Runs every check against `store`; `n` makes names unique per call.
pub async fn run(store: &dyn MetaStore, n: &str) {
    secrets(store, n).await;
    deliveries(store, n).await;
}

async fn due(store: &dyn MetaStore, id: JobId) -> Option<DueCallback> {
    store
        .due_callbacks(now_to_the_millisecond(), 10_000, &[])
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.job.id == id)
}

fn record(state: DeliveryState, next: Option<chrono::DateTime<chrono::Utc>>) -> AttemptRecord {
    AttemptRecord {
        state,
        outcome: format!("HTTP 500 {}", "é".repeat(300)),
        at: now_to_the_millisecond(),
        next,
    }
}

async fn secrets(store: &dyn MetaStore, n: &str) {
    let team = Team {
        name: format!("hooks{n}").parse().unwrap(),
        disabled: false,
        quota: Quota::default(),
        created_at: now_to_the_millisecond(),
    };
    assert!(store.create_team(&team).await.unwrap());
    let first = store.webhook_secret(&team.name).await.unwrap().unwrap();
    let again = store.webhook_secret(&team.name).await.unwrap().unwrap();
    assert_eq!(first, again, "created once, on first use");
    let fresh = agensium_domain::WebhookSecret::generate().unwrap();
    assert!(store.set_webhook_secret(&team.name, &fresh).await.unwrap());
    assert_eq!(
        store.webhook_secret(&team.name).await.unwrap(),
        Some(fresh.clone())
    );
    let missing = format!("nohooks{n}").parse().unwrap();
    assert_eq!(store.webhook_secret(&missing).await.unwrap(), None);
    assert!(!store.set_webhook_secret(&missing, &fresh).await.unwrap());
}

async fn deliveries(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "4.1.0", b"callbacks");
    store.put_version(&pv).await.unwrap();
    let url = "https://example.com/hook?x=1".parse().unwrap();
    let mut job = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    job.callback = Some(Callback::new(url));
    let plain = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
    store.insert_job(&job, None).await.unwrap();
    store.insert_job(&plain, None).await.unwrap();
    assert_eq!(store.get_job(job.id).await.unwrap(), Some(job.clone()));
    assert!(due(store, job.id).await.is_none(), "not before it ends");
    let w = WorkerId::new("w1");
    for j in [&job, &plain] {
        store.start_job(j.id, &w, LEASE).await.unwrap().unwrap();
        let done = Finish::Succeeded {
            output_bytes: 0,
            inline_output: None,
            content_type: None,
            stats: vec![],
        };
        assert!(store.finish_job(j.id, &w, &done, None, None).await.unwrap());
    }
    assert!(
        due(store, plain.id).await.is_none(),
        "no callback, never due"
    );
    let d = due(store, job.id).await.expect("due as it ends");
    let skipped = store
        .due_callbacks(
            now_to_the_millisecond(),
            10_000,
            std::slice::from_ref(&job.team),
        )
        .await
        .unwrap();
    assert!(
        skipped.iter().all(|d| d.job.team != job.team),
        "a skipped team's deliveries are not listed"
    );
    assert_eq!(
        d.job.callback.as_ref().unwrap().state,
        DeliveryState::Pending
    );
    let later = now_to_the_millisecond() + chrono::Duration::seconds(60);
    assert!(store.claim_callback(&d, later).await.unwrap());
    assert!(
        !store.claim_callback(&d, later).await.unwrap(),
        "one claimer"
    );
    assert!(
        due(store, job.id).await.is_none(),
        "claimed: not due meanwhile"
    );
    let retry_at = now_to_the_millisecond() - chrono::Duration::milliseconds(1);
    let pending = record(DeliveryState::Pending, Some(retry_at));
    assert!(store.record_callback(job.id, 1, &pending).await.unwrap());
    let d = due(store, job.id)
        .await
        .expect("due again at its retry time");
    assert!(store.claim_callback(&d, later).await.unwrap());
    assert!(
        !store.record_callback(job.id, 1, &pending).await.unwrap(),
        "a stale attempt's record does not apply"
    );
    let delivered = record(DeliveryState::Delivered, None);
    assert!(store.record_callback(job.id, 2, &delivered).await.unwrap());
    let cb = store
        .get_job(job.id)
        .await
        .unwrap()
        .unwrap()
        .callback
        .unwrap();
    assert_eq!((cb.state, cb.attempts), (DeliveryState::Delivered, 2));
    let outcome = cb.last_outcome.unwrap();
    assert!(
        outcome.starts_with("HTTP 500") && outcome.len() <= 200,
        "{outcome}"
    );
    assert!(cb.last_attempt_at.is_some());
    assert!(due(store, job.id).await.is_none(), "delivered: done");
    assert!(
        !store.record_callback(job.id, 2, &pending).await.unwrap(),
        "a final delivery stays final"
    );
    cancelled_then_retried(store, &pv).await;
}

async fn cancelled_then_retried(store: &dyn MetaStore, pv: &agensium_domain::ProcessorVersion) {
    let mut job = Job::queued(JobId::new(), pv, vec![], 1, &tester());
    job.callback = Some(Callback::new("http://example.com/c".parse().unwrap()));
    store.insert_job(&job, None).await.unwrap();
    assert!(store.cancel_job(job.id).await.unwrap());
    let d = due(store, job.id).await.expect("a cancel ends it too");
    assert!(
        store
            .claim_callback(&d, now_to_the_millisecond())
            .await
            .unwrap()
    );
    let failed = record(DeliveryState::Failed, None);
    assert!(store.record_callback(job.id, 1, &failed).await.unwrap());
    assert!(store.retry_job(job.id).await.unwrap());
    let cb = store
        .get_job(job.id)
        .await
        .unwrap()
        .unwrap()
        .callback
        .unwrap();
    assert_eq!(
        (cb.state, cb.attempts, cb.last_outcome),
        (DeliveryState::Pending, 0, None),
        "a retried job announces its next end afresh"
    );
    assert!(
        due(store, job.id).await.is_none(),
        "not before it ends again"
    );
    assert!(store.cancel_job(job.id).await.unwrap());
    let d = due(store, job.id).await.expect("due at its new end");
    assert!(
        store
            .claim_callback(&d, now_to_the_millisecond())
            .await
            .unwrap()
    );
    let done = record(DeliveryState::Delivered, None);
    assert!(store.record_callback(job.id, 1, &done).await.unwrap());
}
