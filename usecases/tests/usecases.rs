//! The use cases on the embedded adapters (SQLite in memory, a directory,
//! the in-process rail), without HTTP: who may do what, and what it changes.

use agensium_domain::{
    ApiKey, Caller, ErrorCode, InlineLimit, Job, JobError, JobId, JobStatus, KeyRecord, Ownership,
    ProcessorVersion, Quota, Role, Team, TeamName, Visibility, WorkerId, now_to_the_millisecond,
};
use agensium_ports::{Backends, Finish, LocalDirStore, MemoryRail, MetaStore};
use agensium_testkit::conformance::meta_store::version;
use agensium_usecases::{Refusal, jobs, keys, listing, processors, submit, teams, work};
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

/// `name` claimed by `team` (private) with version 1.0.0 of `bytes`.
async fn published(meta: &dyn MetaStore, team: &Team, name: &str) -> ProcessorVersion {
    let pv = version(name, "1.0.0", b"component");
    let owner = Ownership {
        name: pv.name.clone(),
        team: team.name.clone(),
        visibility: Visibility::Private,
        created_at: now_to_the_millisecond(),
        latest: None,
    };
    meta.claim_processor(&owner).await.unwrap();
    meta.put_version(&pv).await.unwrap();
    pv
}

#[tokio::test]
async fn a_yanked_or_foreign_version_is_not_resolved_nor_its_name_taken() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let (a, b) = (team(meta, "a").await, team(meta, "b").await);
    let publisher = caller(meta, &a, Role::Publisher).await;
    let pv = published(meta, &a, "p").await;
    let got = processors::resolve(meta, &publisher, &pv.name, None).await;
    assert_eq!(got.unwrap().digest, pv.digest);
    let stranger = caller(meta, &b, Role::Admin).await;
    assert!(matches!(
        processors::resolve(meta, &stranger, &pv.name, None).await,
        Err(Refusal::NotFound {
            code: "processor_not_found",
            ..
        })
    ));
    assert!(matches!(
        processors::may_publish(meta, &stranger, &pv.name).await,
        Err(Refusal::Conflict {
            code: "name_taken",
            ..
        })
    ));
    assert!(matches!(
        processors::yank(meta, &stranger, &pv.name, "1.0.0").await,
        Err(Refusal::NotFound { .. })
    ));
    processors::yank(meta, &publisher, &pv.name, "1.0.0")
        .await
        .unwrap();
    for version in [None, Some("1.0.0")] {
        assert!(matches!(
            processors::resolve(meta, &publisher, &pv.name, version).await,
            Err(Refusal::Gone {
                code: "version_yanked",
                ..
            })
        ));
    }
}

#[tokio::test]
async fn a_submission_is_cleared_within_the_least_input_limit_and_the_queued_quota() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let mut a = team(meta, "a").await;
    let submitter = caller(meta, &a, Role::Submitter).await;
    let pv = published(meta, &a, "p").await;
    a.quota.max_input_bytes = Some(1000);
    let who = (&submitter, &a);
    let cleared = submit::clear(&w.b, who, &pv.name, None, 5000)
        .await
        .unwrap();
    assert_eq!(cleared.input_limit, 1000);
    let cleared = submit::clear(&w.b, who, &pv.name, None, 10).await.unwrap();
    assert_eq!(cleared.input_limit, 10);
    queued_job(meta, &submitter).await;
    a.quota.max_queued = Some(1);
    assert!(matches!(
        submit::clear(&w.b, (&submitter, &a), &pv.name, None, 10).await,
        Err(Refusal::TooMany {
            code: "quota_exceeded",
            ..
        })
    ));
}

#[tokio::test]
async fn a_listing_of_a_team_one_may_not_see_is_not_found() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let (a, b) = (team(meta, "a").await, team(meta, "b").await);
    let admin = caller(meta, &a, Role::Admin).await;
    queued_job(meta, &caller(meta, &b, Role::Submitter).await).await;
    let q = |team: &str| listing::JobQuery {
        team: Some(team.into()),
        limit: 10,
        ..Default::default()
    };
    assert!(matches!(
        listing::jobs(meta, &admin, &q("b")).await,
        Err(Refusal::NotFound {
            code: "team_not_found",
            ..
        })
    ));
    assert!(
        listing::jobs(meta, &admin, &q("a"))
            .await
            .unwrap()
            .is_empty()
    );
    let operator = caller(meta, &b, Role::Operator).await;
    assert_eq!(
        listing::jobs(meta, &operator, &q("b")).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_start_past_the_running_quota_is_given_back_and_a_lost_lease_finishes_nothing() {
    let w = world().await;
    let meta = w.b.meta.as_ref();
    let a = team(meta, "a").await;
    let quota = Quota {
        max_running: Some(1),
        ..Quota::default()
    };
    meta.set_quota(&a.name, &quota).await.unwrap();
    let submitter = caller(meta, &a, Role::Submitter).await;
    let (first, second) = (
        queued_job(meta, &submitter).await,
        queued_job(meta, &submitter).await,
    );
    for job in [&first, &second] {
        w.b.rail.push(job.id, &a.name).await.unwrap();
    }
    let shift = work::Shift::new(
        w.b.clone(),
        Duration::from_secs(30),
        InlineLimit::new(1 << 10).unwrap(),
    );
    let (me, other) = (WorkerId::slot("w", 0), WorkerId::slot("w", 1));
    let wait = Duration::from_millis(100);
    let t1 = shift.take(&me, wait).await.unwrap().unwrap();
    let work::Started::Run(started) = shift.start(&me, &t1).await.unwrap() else {
        panic!("the first job starts");
    };
    let t2 = shift.take(&other, wait).await.unwrap().unwrap();
    assert!(matches!(
        shift.start(&other, &t2).await.unwrap(),
        work::Started::Throttled
    ));
    assert_eq!(
        meta.get_job(t2.job_id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    let done = Finish::Failed(JobError::new(ErrorCode::Trap, "boom"));
    let log = bytes::Bytes::from_static(b"log");
    let job = &started.job;
    let lost = shift
        .finish(&other, job, &done, None, log.clone())
        .await
        .unwrap();
    assert_eq!(lost, work::Finished::Superseded);
    assert_eq!(
        shift.finish(&me, job, &done, None, log).await.unwrap(),
        work::Finished::Recorded
    );
    assert_eq!(
        meta.get_job(job.id).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
}
