//! The object-store port: streamed blobs under string keys.

use crate::error::{BackendError, BoxError};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::io;

/// A stream of byte chunks. Large objects are always moved as one of these,
/// never as a single buffer.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Errors of an object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object under that key.
    #[error("object {0:?} not found")]
    NotFound(String),
    /// The key is not acceptable (empty, absolute, `..`, …).
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    /// Reading the body handed to `put` failed; nothing was stored.
    #[error("reading the body failed: {0}")]
    Body(io::Error),
    /// The backend failed.
    #[error("object store unavailable: {0}")]
    Backend(#[source] BackendError),
}

impl StoreError {
    /// Wraps a backend error (or a message), keeping it as the source.
    pub fn backend(e: impl Into<BoxError>) -> Self {
        Self::Backend(BackendError::new(e))
    }
}

/// The warehouse: inputs, outputs and processor binaries.
///
/// Invariants every adapter keeps (checked by
/// `agensium_testkit::conformance::object_store`):
/// * `put` is atomic: readers see the old object or the complete new one,
///   never a partial one; when the body stream fails nothing is stored.
/// * `get` streams; memory use does not grow with the object's size.
/// * `delete` of a missing key succeeds.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `body` under `key`, replacing any object there. Returns the
    /// number of bytes stored.
    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, StoreError>;

    /// Streams the object under `key`.
    async fn get(&self, key: &str) -> Result<ByteStream, StoreError>;

    /// The size of the object under `key`, or `None` when there is none.
    async fn head(&self, key: &str) -> Result<Option<u64>, StoreError>;

    /// Removes the object under `key`, if any.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Every key that starts with `prefix` (a `/`-terminated folder or a
    /// plain prefix), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// Checks that a key is relative, non-empty and made of plain segments.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_owned()))
    }
}

/// A one-chunk stream, handy for small payloads and tests.
pub fn once(bytes: impl Into<Bytes>) -> ByteStream {
    Box::pin(futures::stream::once(futures::future::ready(Ok(
        bytes.into()
    ))))
}

/// Collects a stream into memory. Only for small objects (components, tests).
pub async fn collect(mut s: ByteStream, limit: usize) -> io::Result<Vec<u8>> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Err(io::Error::other(format!(
                "object larger than {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A body read as far as an [`agensium_domain::InlineLimit`].
pub enum Small {
    /// It ended within the limit: all of it.
    Whole(Bytes),
    /// It is larger: a stream of all of it (what was read, then the rest).
    Large(ByteStream),
}

/// Reads `body` until it ends or passes `limit`. Holds at most the limit
/// plus one chunk. A read error is returned as is.
pub async fn read_small(
    mut body: ByteStream,
    limit: agensium_domain::InlineLimit,
) -> io::Result<Small> {
    use futures::StreamExt;
    if !limit.keeps(0) {
        return Ok(Small::Large(body));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if !limit.keeps(buf.len() + chunk.len()) {
            let head = futures::stream::iter([Ok(buf.freeze()), Ok(chunk)]);
            return Ok(Small::Large(Box::pin(head.chain(body))));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Small::Whole(buf.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agensium_domain::InlineLimit;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let parts: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from(*p))).collect();
        Box::pin(futures::stream::iter(parts))
    }

    #[tokio::test]
    async fn small_bodies_come_whole_and_large_ones_lose_nothing() {
        let limit = InlineLimit::new(4).unwrap();
        match read_small(chunks(&[b"ab", b"cd"]), limit).await.unwrap() {
            Small::Whole(b) => assert_eq!(&b[..], b"abcd"),
            Small::Large(_) => panic!("4 bytes are within 4"),
        }
        match read_small(chunks(&[b"ab", b"cde", b"f"]), limit)
            .await
            .unwrap()
        {
            Small::Large(s) => assert_eq!(collect(s, 100).await.unwrap(), b"abcdef"),
            Small::Whole(_) => panic!("6 bytes are not within 4"),
        }
        match read_small(chunks(&[]), InlineLimit::NONE).await.unwrap() {
            Small::Large(s) => assert!(collect(s, 1).await.unwrap().is_empty()),
            Small::Whole(_) => panic!("nothing is inline at limit 0"),
        }
    }
}
