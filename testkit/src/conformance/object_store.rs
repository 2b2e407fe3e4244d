//! Conformance suite of [`ObjectStore`] adapters.

use agensium_ports::object_store::{ByteStream, ObjectStore, StoreError, collect, once};
use agensium_ports::segments::{Segments, segment_size};
use bytes::Bytes;
use futures::StreamExt;
use std::io;
use std::sync::Arc;

/// Runs every check against `store`, and the segmented blobs of job
/// outputs over it. Keys are unique per call, so the suite can run against
/// a shared bucket.
pub async fn run(shared: Arc<dyn ObjectStore>) {
    let store = shared.as_ref();
    let p = format!("conformance/{}", uuid::Uuid::now_v7());
    round_trip_and_overwrite(store, &p).await;
    large_object_streams(store, &p).await;
    missing_and_delete(store, &p).await;
    failed_body_stores_nothing(store, &p).await;
    listing(store, &p).await;
    bad_keys(store).await;
    segments_round_trip(shared.clone(), &p).await;
    failed_segmented_write_stores_nothing(shared, &p).await;
}

async fn round_trip_and_overwrite(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}/a.bin");
    assert_eq!(store.put(&key, once(&b"hello"[..])).await.unwrap(), 5);
    assert_eq!(store.head(&key).await.unwrap(), Some(5));
    let got = collect(store.get(&key).await.unwrap(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(got, b"hello");
    store.put(&key, once(&b"bye"[..])).await.unwrap();
    let got = collect(store.get(&key).await.unwrap(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(got, b"bye");
    assert_eq!(
        store
            .put(&format!("{p}/empty"), once(Bytes::new()))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.head(&format!("{p}/empty")).await.unwrap(), Some(0));
}

/// 12 MiB in 100 KiB chunks with a recognisable pattern; read back chunk by
/// chunk, checking the pattern and that no chunk is the whole object.
async fn large_object_streams(store: &dyn ObjectStore, p: &str) {
    const CHUNK: usize = 100 * 1024;
    const CHUNKS: usize = 123;
    let key = format!("{p}/large.bin");
    let body: ByteStream = Box::pin(futures::stream::iter((0..CHUNKS).map(|i| {
        Ok(Bytes::from(
            (0..CHUNK)
                .map(|j| u8::try_from((i * CHUNK + j) % 251).unwrap())
                .collect::<Vec<_>>(),
        ))
    })));
    let total = (CHUNK * CHUNKS) as u64;
    assert_eq!(store.put(&key, body).await.unwrap(), total);
    assert_eq!(store.head(&key).await.unwrap(), Some(total));
    let mut s = store.get(&key).await.unwrap();
    let (mut off, mut biggest) = (0usize, 0usize);
    while let Some(chunk) = s.next().await {
        let chunk = chunk.unwrap();
        biggest = biggest.max(chunk.len());
        for (k, b) in chunk.iter().enumerate() {
            assert_eq!(
                *b,
                u8::try_from((off + k) % 251).unwrap(),
                "byte {} differs",
                off + k
            );
        }
        off += chunk.len();
    }
    assert_eq!(off as u64, total);
    assert!(
        biggest < CHUNK * CHUNKS / 2,
        "get must stream, got a {biggest}-byte chunk"
    );
    store.delete(&key).await.unwrap();
}

async fn missing_and_delete(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}/missing");
    assert!(matches!(
        store.get(&key).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.head(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
    store.put(&key, once(&b"x"[..])).await.unwrap();
    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
}

async fn listing(store: &dyn ObjectStore, p: &str) {
    for k in ["l/b/2", "l/b/1", "l/bc", "l/c/deep/x"] {
        store
            .put(&format!("{p}/{k}"), once(&b"x"[..]))
            .await
            .unwrap();
    }
    let keys = |v: &[&str]| v.iter().map(|k| format!("{p}/{k}")).collect::<Vec<_>>();
    assert_eq!(
        store.list(&format!("{p}/l/b/")).await.unwrap(),
        keys(&["l/b/1", "l/b/2"])
    );
    assert_eq!(
        store.list(&format!("{p}/l/b")).await.unwrap(),
        keys(&["l/b/1", "l/b/2", "l/bc"]),
        "a plain prefix"
    );
    assert_eq!(
        store.list(&format!("{p}/l/")).await.unwrap(),
        keys(&["l/b/1", "l/b/2", "l/bc", "l/c/deep/x"])
    );
    assert!(
        store
            .list(&format!("{p}/nothing/"))
            .await
            .unwrap()
            .is_empty()
    );
    for k in ["l/b/2", "l/b/1", "l/bc", "l/c/deep/x"] {
        store.delete(&format!("{p}/{k}")).await.unwrap();
    }
    assert!(store.list(&format!("{p}/l/")).await.unwrap().is_empty());
}

async fn failed_body_stores_nothing(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}/broken");
    let body: ByteStream = Box::pin(futures::stream::iter(vec![
        Ok(Bytes::from(vec![7u8; 10_000])),
        Err(io::Error::other("client went away")),
    ]));
    assert!(store.put(&key, body).await.is_err());
    assert_eq!(
        store.head(&key).await.unwrap(),
        None,
        "a failed put must store nothing"
    );
}

async fn bad_keys(store: &dyn ObjectStore) {
    for key in ["", "/abs", "a/../b", "a//b", "sp ace"] {
        assert!(
            matches!(
                store.put(key, once(&b"x"[..])).await,
                Err(StoreError::InvalidKey(_))
            ),
            "key {key:?} must be rejected"
        );
    }
}

/// `len` bytes of a pattern, as a stream of `chunk`-byte chunks.
fn patterned(len: usize, chunk: usize) -> (Vec<u8>, ByteStream) {
    let data: Vec<u8> = (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect();
    let chunks: Vec<io::Result<Bytes>> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    (data, Box::pin(futures::stream::iter(chunks)))
}

async fn segments_round_trip(store: Arc<dyn ObjectStore>, p: &str) {
    // Two full segments and a short one, in chunks that straddle them.
    let len = 2 * segment_size(0) + (1 << 20) + 5;
    let (data, body) = patterned(len, (1 << 20) + 3);
    let prefix = format!("{p}/seg/");
    let seg = Segments::new(store.clone(), prefix.clone());
    assert_eq!(seg.put(body).await.unwrap(), len as u64);
    assert_eq!(
        store.list(&prefix).await.unwrap(),
        [seg.key(0), seg.key(1), seg.key(2)],
        "one object per segment, in order"
    );
    assert_eq!(
        store.head(&seg.key(1)).await.unwrap(),
        Some(segment_size(1) as u64)
    );
    assert!(seg.open(2).await.unwrap().is_some());
    assert!(
        seg.open(3).await.unwrap().is_none(),
        "no segment past the end"
    );
    let whole = seg.clone().read(len as u64).await.unwrap().unwrap();
    let got = collect(whole, 2 * len).await.unwrap();
    assert!(got == data, "the segments read back differ");
    // A reader told of another size fails rather than give a wrong blob.
    for total in [len as u64 + 1, len as u64 - 1] {
        let s = seg.clone().read(total).await.unwrap().unwrap();
        let err = collect(s, 2 * len).await.unwrap_err().to_string();
        assert!(err.contains(&prefix), "{err}");
    }
    let empty = Segments::new(store.clone(), format!("{p}/none/"));
    assert!(empty.clone().read(1).await.unwrap().is_none());
    let nothing = collect(empty.read(0).await.unwrap().unwrap(), 1).await;
    assert!(nothing.unwrap().is_empty());
    seg.delete_all().await.unwrap();
    assert!(store.list(&prefix).await.unwrap().is_empty());
}

async fn failed_segmented_write_stores_nothing(store: Arc<dyn ObjectStore>, p: &str) {
    // A segment and a half, then the body fails: the stored segment goes.
    let (_, good) = patterned(segment_size(0) * 3 / 2, 1 << 20);
    let body: ByteStream = Box::pin(good.chain(futures::stream::once(async {
        Err(io::Error::other("processor failed"))
    })));
    let prefix = format!("{p}/failed/");
    let seg = Segments::new(store.clone(), prefix.clone());
    assert!(matches!(seg.put(body).await, Err(StoreError::Body(_))));
    assert!(
        store.list(&prefix).await.unwrap().is_empty(),
        "a failed segmented write must leave no segment"
    );
}
