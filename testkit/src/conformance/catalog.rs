//! Conformance suite of the [`Catalog`] (processor versions): a version,
//! once registered, keeps its digest; other bytes under its number are a
//! conflict; listings are in order.

use super::meta_store::version;
use agensium_ports::meta::{Catalog, PutVersion};

/// Runs every check against `store`; `n` makes names unique per call.
pub async fn run(store: &dyn Catalog, n: &str) {
    let v1 = version(n, "1.0.0", b"one");
    assert_eq!(store.put_version(&v1).await.unwrap(), PutVersion::Created);
    assert_eq!(store.put_version(&v1).await.unwrap(), PutVersion::Unchanged);
    let other = version(n, "1.0.0", b"other");
    assert_eq!(
        store.put_version(&other).await.unwrap(),
        PutVersion::Conflict(v1.digest.clone())
    );
    assert_eq!(
        store.get_version(&v1.name, "1.0.0").await.unwrap(),
        Some(v1.clone())
    );
    assert_eq!(store.get_version(&v1.name, "9.9.9").await.unwrap(), None);
    let v2 = version(n, "1.1.0", b"two");
    store.put_version(&v2).await.unwrap();
    let mine = store.list_versions(Some(&v1.name)).await.unwrap();
    assert_eq!(
        mine.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(),
        ["1.0.0", "1.1.0"]
    );
    let all = store.list_versions(None).await.unwrap();
    assert!(all.contains(&v1) && all.contains(&v2));
}
