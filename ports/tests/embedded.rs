//! The embedded object store and rail against their ports' conformance
//! suites (the embedded metadata store is `agensium-sqlite`'s).

use agensium_ports::*;
use agensium_testkit::conformance;
use std::io;

mod local_store {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).await.unwrap();
        super::conformance::object_store::run(std::sync::Arc::new(store)).await;
    }

    /// A directory holds other keys; it is no object (as on S3, whose test
    /// server, s3s-fs, answers 500 there, so this is not in the suite).
    #[tokio::test]
    async fn a_folder_is_no_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).await.unwrap();
        store
            .put("f/inside", object_store::once(&b"x"[..]))
            .await
            .unwrap();
        assert_eq!(store.head("f").await.unwrap(), None);
        assert!(matches!(store.get("f").await, Err(StoreError::NotFound(_))));
    }

    #[tokio::test]
    async fn failed_put_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).await.unwrap();
        let body: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(bytes::Bytes::from_static(b"abc")),
            Err(io::Error::other("client went away")),
        ]));
        assert!(store.put("x", body).await.is_err());
        let mut tmp = tokio::fs::read_dir(dir.path().join(".tmp")).await.unwrap();
        assert!(tmp.next_entry().await.unwrap().is_none());
    }
}

mod memory_rail {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::conformance::rail::run(&MemoryRail::new()).await;
    }
}
