//! The embedded metadata store against its port's conformance suite (also
//! through the caching decorator), and the reconciler on it.

use agensium_domain::*;
use agensium_ports::*;
use agensium_testkit::conformance;
use agensium_testkit::conformance::meta_store::tester;

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let store = agensium_sqlite::in_memory().unwrap();
        super::conformance::meta_store::run(&store).await;
    }

    /// The caching decorator is a metadata store like any other: the
    /// same suite, through it, on SQLite.
    #[tokio::test]
    async fn conformance_through_the_cache() {
        let inner: std::sync::Arc<dyn MetaStore> =
            std::sync::Arc::new(agensium_sqlite::in_memory().unwrap());
        let cached = CachedMeta::new(inner, std::time::Duration::from_secs(60));
        super::conformance::meta_store::run(&cached).await;
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let pv = super::conformance::meta_store::version("reopen", "1.0.0", b"x");
        agensium_sqlite::open(&path)
            .await
            .unwrap()
            .put_version(&pv)
            .await
            .unwrap();
        let again = agensium_sqlite::open(&path).await.unwrap();
        assert_eq!(
            again.get_version(&pv.name, "1.0.0").await.unwrap(),
            Some(pv)
        );
    }
}

mod reconcile {
    use super::*;
    use agensium_ports::reconcile::*;
    use conformance::meta_store::version;
    use std::time::Duration;

    #[tokio::test]
    async fn old_queued_jobs_on_an_empty_rail_get_tickets() {
        let meta = agensium_sqlite::in_memory().unwrap();
        let rail = MemoryRail::new();
        let pv = version("p", "1.0.0", b"x");
        meta.put_version(&pv).await.unwrap();
        // Made 10 s ago (uuid v7 carries the time); its push "failed".
        let old = JobId::at(std::time::SystemTime::now() - Duration::from_secs(10));
        let fresh = JobId::new();
        for id in [old, fresh] {
            meta.insert_job(&Job::queued(id, &pv, vec![], 1, &tester()), None)
                .await
                .unwrap();
        }
        rail.push(fresh, &tester().team).await.unwrap();
        assert_eq!(
            pass(&meta, &rail).await.unwrap(),
            Report::default(),
            "rail not empty"
        );
        let t = rail
            .take(&"w".into(), Duration::from_millis(10))
            .await
            .unwrap()
            .unwrap();
        rail.ack(&t).await.unwrap();
        let report = pass(&meta, &rail).await.unwrap();
        assert_eq!(report.stranded, 1, "only the old one: {report:?}");
        let t = rail
            .take(&"w".into(), Duration::from_millis(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.job_id, old);
    }

    #[tokio::test]
    async fn expired_leases_get_new_tickets() {
        let meta = agensium_sqlite::in_memory().unwrap();
        let rail = MemoryRail::new();
        let pv = version("p", "1.0.0", b"x");
        meta.put_version(&pv).await.unwrap();
        let job = Job::queued(JobId::new(), &pv, vec![], 1, &tester());
        meta.insert_job(&job, None).await.unwrap();
        meta.start_job(job.id, &"dead".into(), Duration::from_millis(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            pass(&meta, &rail).await.unwrap(),
            Report {
                expired: 1,
                ..Report::default()
            }
        );
        let t = rail
            .take(&"w".into(), Duration::from_millis(100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.job_id, job.id);
        assert!(
            meta.start_job(job.id, &"w".into(), Duration::from_secs(30))
                .await
                .unwrap()
                .is_some()
        );
    }
}
