//! The use cases on the embedded adapters (SQLite in memory, a directory,
//! the in-process rail), without HTTP: who may do what, and what it changes.

use agensium_domain::{
    ApiKey, Caller, Job, JobId, JobStatus, KeyRecord, Quota, Role, Team, TeamName,
    now_to_the_millisecond,
};
use agensium_ports::{Backends, LocalDirStore, MemoryRail, MetaStore};
use agensium_testkit::conformance::meta_store::version;
use agensium_usecases::{Refusal, jobs, keys, teams};
use std::sync::Arc;
use std::time::Duration;

struct World {
    b: Backends,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let objects = LocalDirStore::open(dir.path()).await.unwrap();
    let b = Backends {
        meta: Arc::new(agensium_sqlite::in_memory().unwrap()),
        objects: Arc::new(objects),
        rail: Arc::new(MemoryRail::new()),
    };
    World { b, _dir: dir }
}

async fn team(meta: &dyn MetaStore, name: &str) -> Team {
    let t = Team {
        name: name.parse().unwrap(),
        disabled: false,
        quota: Quota::default(),
        created_at: now_to_the_millisecond(),
    };
    assert!(meta.create_team(&t).await.unwrap());
    t
}

/// A key of `team` with `role`, stored; its caller.
async fn caller(meta: &dyn MetaStore, team: &Team, role: Role) -> Caller {
    let key = ApiKey::generate().unwrap();
    let rec = KeyRecord::new(&key, team.name.clone(), role, String::new(), None);
    meta.insert_key(&rec).await.unwrap();
    Caller {
        key_id: rec.id,
        team: team.name.clone(),
        role,
    }
}

async fn queued_job(meta: &dyn MetaStore, by: &Caller) -> Job {
    let pv = version("p", "1.0.0", b"x");
    meta.put_version(&pv).await.unwrap();
    let job = Job::queued(JobId::new(), &pv, vec![], 1, by);
    meta.insert_job(&job, Some(&bytes::Bytes::from_static(b"a")))
        .await
        .unwrap();
    job
}

#[tokio::test]
async fn jobs_are_hidden_from_other_teams_and_controlled_by_submitters() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let (a, b) = (team(meta, "a").await, team(meta, "b").await);
    let submitter = caller(meta, &a, Role::Submitter).await;
    let job = queued_job(meta, &submitter).await;
    let id = job.id.to_string();
    let other = caller(meta, &b, Role::Admin).await;
    assert!(matches!(
        jobs::cancel(&w.b, &other, &id).await,
        Err(Refusal::NotFound {
            code: "job_not_found",
            ..
        })
    ));
    let reader = caller(meta, &a, Role::Reader).await;
    assert!(
        jobs::find(meta, &reader, &id).await.is_ok(),
        "a reader sees it"
    );
    assert!(matches!(
        jobs::cancel(&w.b, &reader, &id).await,
        Err(Refusal::Forbidden(_))
    ));
    let cancelled = jobs::cancel(&w.b, &submitter, &id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(matches!(
        jobs::cancel(&w.b, &submitter, &id).await,
        Err(Refusal::Conflict {
            code: "job_finished",
            ..
        })
    ));
    let retried = jobs::retry(&w.b, &submitter, &a, &id).await.unwrap();
    assert_eq!(
        retried.status,
        JobStatus::Queued,
        "an inline input is always there"
    );
}

#[tokio::test]
async fn a_retry_of_a_job_whose_input_is_gone_is_refused() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let a = team(meta, "a").await;
    let submitter = caller(meta, &a, Role::Submitter).await;
    let pv = version("p", "1.0.0", b"x");
    meta.put_version(&pv).await.unwrap();
    // Stored (not inline), and its object never written.
    let job = Job::queued(JobId::new(), &pv, vec![], 1 << 20, &submitter);
    meta.insert_job(&job, None).await.unwrap();
    let id = job.id.to_string();
    jobs::cancel(&w.b, &submitter, &id).await.unwrap();
    assert!(matches!(
        jobs::retry(&w.b, &submitter, &a, &id).await,
        Err(Refusal::Gone {
            code: "input_gone",
            ..
        })
    ));
}

#[tokio::test]
async fn no_key_revokes_a_key_above_its_role_nor_itself() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let ops = team(meta, "ops").await;
    let operator = caller(meta, &ops, Role::Operator).await;
    let admin = caller(meta, &ops, Role::Admin).await;
    let reader = caller(meta, &ops, Role::Reader).await;
    let refused = keys::revoke(meta, &admin, &ops, operator.key_id.as_str()).await;
    assert!(matches!(refused, Err(Refusal::Forbidden(_))), "{refused:?}");
    let own = keys::revoke(meta, &admin, &ops, admin.key_id.as_str()).await;
    assert!(matches!(
        own,
        Err(Refusal::Conflict {
            code: "own_key",
            ..
        })
    ));
    keys::revoke(meta, &admin, &ops, reader.key_id.as_str())
        .await
        .unwrap();
    let again = keys::revoke(meta, &admin, &ops, reader.key_id.as_str()).await;
    assert!(matches!(
        again,
        Err(Refusal::NotFound {
            code: "key_not_found",
            ..
        })
    ));
    let new = keys::NewKey {
        role: Role::Operator,
        name: "x".into(),
        expires_in_secs: None,
    };
    assert!(matches!(
        keys::mint(meta, &admin, &ops, new).await,
        Err(Refusal::Forbidden(_))
    ));
}

#[tokio::test]
async fn disabling_a_team_cancels_its_unfinished_jobs() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let (ops, acme) = (team(meta, "ops").await, team(meta, "acme").await);
    let operator = caller(meta, &ops, Role::Operator).await;
    let submitter = caller(meta, &acme, Role::Submitter).await;
    let job = queued_job(meta, &submitter).await;
    let own = teams::set_disabled(&w.b, &operator, ops.clone(), true, Duration::ZERO).await;
    assert!(matches!(
        own,
        Err(Refusal::Conflict {
            code: "own_team",
            ..
        })
    ));
    let found = teams::find(meta, &operator, "acme", agensium_domain::Action::Operate)
        .await
        .unwrap();
    let disabled = teams::set_disabled(&w.b, &operator, found, true, Duration::ZERO)
        .await
        .unwrap();
    assert!(disabled.disabled);
    let now = meta.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(now.status, JobStatus::Cancelled);
    let name: TeamName = "acme".parse().unwrap();
    assert!(meta.get_team(&name).await.unwrap().unwrap().disabled);
}
