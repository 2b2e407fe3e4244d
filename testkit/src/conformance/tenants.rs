//! Conformance suite of the tenancy half of a metadata store
//! ([`TenantStore`]): teams, keys, processor ownership, per-team counts.

use super::meta_store::{one_of_each, queued_jobs, version};
use agensium_domain::{
    ApiKey, Caller, Job, JobStatus, KeyRecord, Ownership, Quota, Role, Team, TeamName, Visibility,
    WorkerId, now_to_the_millisecond,
};
use agensium_ports::meta::{Finish, JobFilter, MetaStore};
use std::time::Duration;

fn team(name: &str) -> Team {
    Team {
        name: name.parse().unwrap(),
        disabled: false,
        quota: Quota::default(),
        created_at: now_to_the_millisecond(),
    }
}

/// Runs every check against `store`; `n` makes names unique per call.
pub async fn run(store: &dyn MetaStore, n: &str) {
    let a = teams(store, n).await;
    keys(store, &a).await;
    ownership(store, n, &a).await;
    latest_and_yanking(store, n, &a).await;
    counts(store, n, &a).await;
    backlog(store, n).await;
}

/// `backlog_by_team`: one row per team with queued or running jobs, the
/// finished ones left out.
async fn backlog(store: &dyn MetaStore, n: &str) {
    let pv = version(n, "7.1.0", b"backlog");
    let team: TeamName = format!("bl{n}").parse().unwrap();
    let by = Caller {
        key_id: "00000000000000bc".parse().unwrap(),
        team: team.clone(),
        role: Role::Submitter,
    };
    one_of_each(store, &pv, &by, &WorkerId::new("w-backlog")).await;
    let row: Vec<_> = store
        .backlog_by_team()
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.team == team)
        .collect();
    let want = agensium_ports::TeamBacklog {
        team,
        queued: 1,
        running: 1,
    };
    assert_eq!(row, vec![want], "one row per team, finished jobs left out");
}

async fn teams(store: &dyn MetaStore, n: &str) -> TeamName {
    let a = team(&format!("a{n}"));
    assert!(store.create_team(&a).await.unwrap());
    assert!(!store.create_team(&a).await.unwrap(), "names are unique");
    assert_eq!(store.get_team(&a.name).await.unwrap(), Some(a.clone()));
    assert!(store.list_teams().await.unwrap().contains(&a));
    let q = Quota {
        max_queued: Some(3),
        max_running: Some(1),
        max_input_bytes: Some(1 << 20),
        retention_secs: Some(86_400),
    };
    assert!(store.set_quota(&a.name, &q).await.unwrap());
    assert!(
        store.set_quota(&a.name, &q).await.unwrap(),
        "same quota again"
    );
    assert!(store.set_disabled(&a.name, true).await.unwrap());
    let got = store.get_team(&a.name).await.unwrap().unwrap();
    assert_eq!((got.quota, got.disabled), (q, true));
    assert!(store.set_disabled(&a.name, false).await.unwrap());
    let missing: TeamName = format!("missing{n}").parse().unwrap();
    assert!(!store.set_quota(&missing, &q).await.unwrap());
    assert!(!store.set_disabled(&missing, true).await.unwrap());
    assert_eq!(store.get_team(&missing).await.unwrap(), None);
    a.name
}

async fn keys(store: &dyn MetaStore, a: &TeamName) {
    let key = ApiKey::generate().unwrap();
    let expiry = now_to_the_millisecond() + chrono::Duration::days(1);
    let rec = KeyRecord::new(&key, a.clone(), Role::Publisher, "ci".into(), Some(expiry));
    store.insert_key(&rec).await.unwrap();
    assert!(store.has_keys().await.unwrap());
    let (got, t) = store.key_and_team(key.id()).await.unwrap().unwrap();
    assert_eq!((&got, &t.name), (&rec, a));
    assert_eq!(
        got.check(&key, now_to_the_millisecond()),
        Ok(true),
        "the hash round-trips"
    );
    let other = ApiKey::generate().unwrap();
    assert_eq!(store.key_and_team(other.id()).await.unwrap(), None);
    assert_eq!(store.list_keys(a).await.unwrap(), vec![rec.clone()]);

    let t1 = now_to_the_millisecond();
    store.touch_key(key.id(), t1, t1).await.unwrap();
    let later = t1 + chrono::Duration::seconds(5);
    store.touch_key(key.id(), later, t1).await.unwrap();
    let (got, _) = store.key_and_team(key.id()).await.unwrap().unwrap();
    assert_eq!(got.last_used_at, Some(t1), "a recent use is not rewritten");

    let elsewhere: TeamName = "elsewhere".parse().unwrap();
    assert!(!store.revoke_key(&elsewhere, key.id()).await.unwrap());
    assert!(store.revoke_key(a, key.id()).await.unwrap());
    assert!(!store.revoke_key(a, key.id()).await.unwrap(), "once");
    let (got, _) = store.key_and_team(key.id()).await.unwrap().unwrap();
    assert!(got.revoked_at.is_some());
    assert!(got.check(&key, now_to_the_millisecond()).is_err());
}

async fn ownership(store: &dyn MetaStore, n: &str, a: &TeamName) {
    let b = team(&format!("b{n}"));
    store.create_team(&b).await.unwrap();
    let claim = |team: &TeamName| Ownership {
        name: format!("owned{n}").parse().unwrap(),
        team: team.clone(),
        visibility: Visibility::Private,
        created_at: now_to_the_millisecond(),
        latest: None,
    };
    let mine = store.claim_processor(&claim(a)).await.unwrap();
    assert_eq!(&mine.team, a);
    let again = store.claim_processor(&claim(&b.name)).await.unwrap();
    assert_eq!(again, mine, "the first claim keeps the name");
    assert_eq!(
        store.ownership(&mine.name).await.unwrap(),
        Some(mine.clone())
    );
    let seen_by = |t: Option<TeamName>| async move {
        store
            .visible_processors(t.as_ref(), None, 10_000)
            .await
            .unwrap()
            .into_iter()
            .any(|o| o.name.as_str() == format!("owned{n}"))
    };
    assert!(seen_by(Some(a.clone())).await);
    assert!(!seen_by(Some(b.name.clone())).await, "private to its team");
    assert!(seen_by(None).await);
    assert!(
        store
            .set_visibility(&mine.name, Visibility::Public)
            .await
            .unwrap()
    );
    assert!(
        seen_by(Some(b.name.clone())).await,
        "public: every team sees it"
    );
    let nobody = format!("nobody{n}").parse().unwrap();
    assert!(
        !store
            .set_visibility(&nobody, Visibility::Public)
            .await
            .unwrap()
    );
}

/// `latest` is a pointer the store keeps: the newest version by
/// precedence that is not yanked, whatever the upload order; yanking moves
/// it (and is idempotent); versions page newest first; processors page by
/// name.
async fn latest_and_yanking(store: &dyn MetaStore, n: &str, a: &TeamName) {
    let name: agensium_domain::ProcessorName = format!("latest{n}").parse().unwrap();
    let owner = Ownership {
        name: name.clone(),
        team: a.clone(),
        visibility: Visibility::Private,
        created_at: now_to_the_millisecond(),
        latest: None,
    };
    store.claim_processor(&owner).await.unwrap();
    let latest = || async { store.ownership(&name).await.unwrap().unwrap().latest };
    assert_eq!(latest().await, None);
    for v in ["1.0.0", "1.10.0", "2.0.0-rc.1", "1.9.0"] {
        let pv = version(name.as_str(), v, v.as_bytes());
        store.put_version(&pv).await.unwrap();
    }
    assert_eq!(latest().await.as_deref(), Some("1.10.0"));
    let name_ref = &name;
    let page = |before: Option<&'static str>| async move {
        store
            .version_page(name_ref, before, 2)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None).await, ["1.10.0", "1.9.0"]);
    assert_eq!(page(Some("1.9.0")).await, ["1.0.0", "2.0.0-rc.1"]);
    assert!(page(Some("2.0.0-rc.1")).await.is_empty());

    let yanked = store.yank_version(&name, "1.10.0").await.unwrap().unwrap();
    assert!(yanked.yanked_at.is_some());
    assert_eq!(latest().await.as_deref(), Some("1.9.0"));
    let again = store.yank_version(&name, "1.10.0").await.unwrap().unwrap();
    assert_eq!(again.yanked_at, yanked.yanked_at, "yanking is idempotent");
    assert_eq!(store.yank_version(&name, "9.9.9").await.unwrap(), None);
    // A lower upload does not move the pointer; a higher one does.
    let low = version(name.as_str(), "0.1.0", b"low");
    store.put_version(&low).await.unwrap();
    assert_eq!(latest().await.as_deref(), Some("1.9.0"));
    for v in ["1.9.0", "1.0.0", "0.1.0"] {
        store.yank_version(&name, v).await.unwrap();
    }
    assert_eq!(latest().await.as_deref(), Some("2.0.0-rc.1"));
    store.yank_version(&name, "2.0.0-rc.1").await.unwrap();
    assert_eq!(latest().await, None, "every version yanked");

    // Processors page by name, after a cursor.
    let first = store.visible_processors(Some(a), None, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    let rest = store
        .visible_processors(Some(a), Some(&first[0].name), 10_000)
        .await
        .unwrap();
    assert!(rest.iter().all(|o| o.name > first[0].name));
    assert!(rest.iter().chain(&first).any(|o| o.name == name));
}

async fn counts(store: &dyn MetaStore, n: &str, a: &TeamName) {
    let pv = version(n, "7.0.0", b"counts");
    let by = Caller {
        key_id: "00000000000000bb".parse().unwrap(),
        team: a.clone(),
        role: Role::Submitter,
    };
    let jobs = queued_jobs(store, &pv, &by, 3).await;
    assert_eq!(store.count_jobs(a, JobStatus::Queued).await.unwrap(), 3);
    let w = WorkerId::new("w");
    store
        .start_job(jobs[0].id, &w, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let done = Finish::Succeeded {
        inline_output: None,
        output_bytes: 5,
        content_type: None,
        stats: vec![],
    };
    assert!(
        store
            .finish_job(jobs[0].id, &w, &done, None, None)
            .await
            .unwrap()
    );
    assert_eq!(store.count_jobs(a, JobStatus::Queued).await.unwrap(), 2);
    let (from, to) = (
        now_to_the_millisecond() - chrono::Duration::hours(1),
        now_to_the_millisecond() + chrono::Duration::hours(1),
    );
    let finished = store.finished_jobs(a, from, to, None, 10).await.unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(
        (finished[0].id, finished[0].team.clone()),
        (jobs[0].id, a.clone())
    );
    assert_eq!(finished[0].key_id, Some(by.key_id.clone()));
    let after = store
        .finished_jobs(a, from, to, Some(jobs[0].id), 10)
        .await
        .unwrap();
    assert!(after.is_empty(), "paging goes past it");
    let listed = store
        .list_jobs(
            &JobFilter {
                team: Some(a),
                ..JobFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 3, "only the team's jobs");
    assert!(listed.iter().all(|j| &j.team == a));
    running_quota(store, &jobs[1..]).await;
}

/// What a running quota needs: who is ahead, and a start given back uncounted.
async fn running_quota(store: &dyn MetaStore, jobs: &[Job]) {
    let lease = Duration::from_secs(30);
    let (w1, w2) = (WorkerId::new("w1"), WorkerId::new("w2"));
    let one = store
        .start_job(jobs[0].id, &w1, lease)
        .await
        .unwrap()
        .unwrap()
        .job;
    // Start times are milliseconds: make this one strictly later.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let two = store
        .start_job(jobs[1].id, &w2, lease)
        .await
        .unwrap()
        .unwrap()
        .job;
    assert_eq!(store.running_ahead(&one).await.unwrap(), 0);
    assert_eq!(
        store.running_ahead(&two).await.unwrap(),
        1,
        "the earlier start is ahead"
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store.admit_job(one.id, &w2).await.unwrap(),
        None,
        "only the holder admits"
    );
    let admitted = store.admit_job(one.id, &w1).await.unwrap().unwrap();
    let back = store.get_job(one.id).await.unwrap().unwrap();
    assert_eq!(
        back.started_at,
        Some(admitted),
        "admitted: it runs from now"
    );
    assert!(admitted > two.started_at.unwrap(), "after the later claim");
    assert_eq!(
        store.running_ahead(&two).await.unwrap(),
        1,
        "the quota counts by claim, not by the moved start time"
    );
    assert!(
        !store.yield_job(two.id, &w1).await.unwrap(),
        "only the holder yields"
    );
    assert!(store.yield_job(two.id, &w2).await.unwrap());
    let back = store.get_job(two.id).await.unwrap().unwrap();
    assert_eq!(
        (back.status, back.attempts, back.worker, back.started_at),
        (JobStatus::Queued, 0, None, None),
        "a start given back does not count"
    );
    assert!(!store.yield_job(two.id, &w2).await.unwrap(), "once");
}
