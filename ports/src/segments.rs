//! A large blob stored as numbered segments, `{prefix}000000`,
//! `{prefix}000001`, …: a job's stored output.
//!
//! A multipart upload shows nothing until it completes; a segment is
//! readable as soon as its put returns, so a reader can follow an output
//! while its worker still writes it (`GET /v1/jobs/{id}/result?follow=true`)
//! instead of waiting for the job's end. Each segment is one put of at most
//! [`segment_size`] bytes, [`SEGMENTS_IN_FLIGHT`] of them stored at once
//! while the next is filled.
//!
//! What makes the blob is said elsewhere: the job row records its size,
//! and a reader takes segments 0, 1, … until it has that many bytes. A
//! failed write deletes the segments it stored.

use crate::object_store::{ByteStream, ObjectStore, StoreError, once};
use crate::pieces::Pieces;
use agensium_domain::JobId;
use bytes::Bytes;
use futures::StreamExt;
use std::io;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Segments stored at once while the next is filled: a writer holds at
/// most `(SEGMENTS_IN_FLIGHT + 1) ×` [`segment_size`] bytes, 16 MiB for
/// the first 16 GiB of an output.
pub const SEGMENTS_IN_FLIGHT: usize = 3;
/// The first segments' size: below S3's 5 MiB part, so a segment is one
/// PutObject, and small enough that a follower's first bytes come early.
const BASE: usize = 4 << 20;
/// Segments of one size before the size doubles (4,096 × 4 MiB = 16 GiB).
const PER_SIZE: u32 = 4096;
/// Doublings at most: 4 MiB × 2¹⁰ = 4 GiB, below S3's 5 GiB PutObject.
const MAX_DOUBLINGS: u32 = 10;

/// The size of segment `n` (from 0); the last segment of a blob is shorter.
pub fn segment_size(n: u32) -> usize {
    BASE << (n / PER_SIZE).min(MAX_DOUBLINGS)
}

/// A blob as segments under one prefix of an object store.
#[derive(Clone)]
pub struct Segments {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// Where the same blob lies as one object when it was stored before
    /// segments (a job body of an older version), read when no segment is.
    whole: Option<String>,
}

impl std::fmt::Debug for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segments")
            .field("prefix", &self.prefix)
            .field("whole", &self.whole)
            .finish_non_exhaustive()
    }
}

impl Segments {
    /// The segments under `prefix` (a `/`-terminated folder).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.into(),
            whole: None,
        }
    }

    /// Job `id`'s stored input (or its one object from before segments).
    pub fn input_of(store: Arc<dyn ObjectStore>, id: JobId) -> Self {
        Self {
            whole: Some(id.input_key()),
            ..Self::new(store, id.input_prefix())
        }
    }

    /// The stored output of attempt `attempt` of job `id` (or its one
    /// object from before segments).
    pub fn output_of(store: Arc<dyn ObjectStore>, id: JobId, attempt: u32) -> Self {
        Self {
            whole: Some(id.output_key(attempt)),
            ..Self::new(store, id.output_prefix(attempt))
        }
    }

    /// The key of segment `n`.
    pub fn key(&self, n: u32) -> String {
        format!("{}{n:06}", self.prefix)
    }

    /// Every key a blob of `bytes` may lie under: its segments (segment 0
    /// even when empty) and the one object an older version stored
    /// instead. What deletes it without listing.
    pub fn keys_of(&self, bytes: u64) -> Vec<String> {
        let mut keys: Vec<String> = self.whole.iter().cloned().collect();
        let (mut n, mut covered) = (0u32, 0u64);
        loop {
            keys.push(self.key(n));
            covered += segment_size(n) as u64;
            n += 1;
            if covered >= bytes {
                return keys;
            }
        }
    }

    /// Stores `body` as segments 0, 1, …: up to [`SEGMENTS_IN_FLIGHT`] puts
    /// at once while the next segment is read. Returns the bytes stored.
    /// On any failure (of the body or the store) the segments stored are
    /// deleted, best effort, and the error returned.
    pub async fn put(&self, body: ByteStream) -> Result<u64, StoreError> {
        let mut pieces = Pieces::new(body);
        let mut sending = JoinSet::new();
        let mut n = 0u32;
        let stored = async {
            while let Some(piece) = pieces.next(segment_size(n)).await? {
                while sending.len() >= SEGMENTS_IN_FLIGHT {
                    joined(sending.join_next().await)?;
                }
                let (store, key) = (self.store.clone(), self.key(n));
                sending.spawn(async move { store.put(&key, once(piece)).await.map(drop) });
                n += 1;
            }
            while let Some(r) = sending.join_next().await {
                joined(Some(r))?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        match stored {
            Ok(()) => Ok(pieces.total()),
            Err(e) => {
                sending.abort_all();
                while sending.join_next().await.is_some() {}
                self.delete_first(n).await;
                Err(e)
            }
        }
    }

    /// Deletes segments `0..n`, logging failures.
    async fn delete_first(&self, n: u32) {
        for i in 0..n {
            let key = self.key(i);
            if let Err(e) = self.store.delete(&key).await {
                tracing::warn!(%key, error = %e, "deleting a segment of a failed write failed");
            }
        }
    }

    /// Segment `n`, or `None` while it is not stored.
    pub async fn open(&self, n: u32) -> Result<Option<ByteStream>, StoreError> {
        match self.store.get(&self.key(n)).await {
            Ok(s) => Ok(Some(s)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The blob of `total` bytes: segment 0 is opened now (`None` when it
    /// is missing), the next ones as the reader reaches them. The stream
    /// fails when a segment is missing or the segments hold more than
    /// `total` bytes.
    pub async fn read(self, total: u64) -> Result<Option<ByteStream>, StoreError> {
        if total == 0 {
            return Ok(Some(Box::pin(futures::stream::empty())));
        }
        let Some(first) = self.open(0).await? else {
            return Ok(None);
        };
        let reading = Reading {
            segments: self,
            current: Some(first),
            n: 0,
            got: 0,
            total,
            failed: false,
        };
        Ok(Some(Box::pin(futures::stream::unfold(
            reading,
            Reading::step,
        ))))
    }

    /// The blob of `total` bytes as [`Self::read`] gives it or, when it
    /// has no segment, the one object it was stored as before segments
    /// (`NotFound` when there is neither).
    pub async fn read_or_whole(self, total: u64) -> Result<ByteStream, StoreError> {
        let (store, whole, prefix) = (self.store.clone(), self.whole.clone(), self.prefix.clone());
        match (self.read(total).await?, whole) {
            (Some(body), _) => Ok(body),
            (None, Some(key)) => store.get(&key).await,
            (None, None) => Err(StoreError::NotFound(prefix)),
        }
    }

    /// The size of the first segment, or of the one object stored before
    /// segments; `None` when neither is stored (the blob is gone).
    pub async fn first_size(&self) -> Result<Option<u64>, StoreError> {
        match (self.store.head(&self.key(0)).await?, &self.whole) {
            (Some(n), _) => Ok(Some(n)),
            (None, Some(key)) => self.store.head(key).await,
            (None, None) => Ok(None),
        }
    }

    /// Deletes every segment under the prefix.
    pub async fn delete_all(&self) -> Result<(), StoreError> {
        for key in self.store.list(&self.prefix).await? {
            self.store.delete(&key).await?;
        }
        Ok(())
    }
}

/// The outcome of one segment's put task.
fn joined(
    r: Option<Result<Result<(), StoreError>, tokio::task::JoinError>>,
) -> Result<(), StoreError> {
    match r {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(StoreError::backend(format!("storing a segment: {e}"))),
        None => Ok(()),
    }
}

/// The state of one [`Segments::read`].
struct Reading {
    segments: Segments,
    current: Option<ByteStream>,
    /// The segment being read.
    n: u32,
    got: u64,
    total: u64,
    failed: bool,
}

impl Reading {
    /// The next chunk: from the current segment, else from the next one.
    async fn step(mut self) -> Option<(io::Result<Bytes>, Self)> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(current) = self.current.as_mut() {
                match current.next().await {
                    Some(Ok(chunk)) => {
                        self.got += chunk.len() as u64;
                        if self.got > self.total {
                            let why = format!("more than the {} bytes expected", self.total);
                            return self.fail(&why);
                        }
                        return Some((Ok(chunk), self));
                    }
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some((Err(e), self));
                    }
                    None => {
                        self.current = None;
                        self.n += 1;
                    }
                }
            }
            if self.got == self.total {
                return None;
            }
            match self.segments.open(self.n).await {
                Ok(Some(s)) => self.current = Some(s),
                Ok(None) => {
                    let why = format!("segment {} is missing", self.segments.key(self.n));
                    return self.fail(&why);
                }
                Err(e) => return self.fail(&e.to_string()),
            }
        }
    }

    fn fail(mut self, why: &str) -> Option<(io::Result<Bytes>, Self)> {
        self.failed = true;
        let e = io::Error::other(format!(
            "reading {}: {why} ({} of {} bytes read)",
            self.segments.prefix, self.got, self.total
        ));
        Some((Err(e), self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What retention deletes without listing: every segment a blob of
    /// that size fills, segment 0 even when empty, and the older layout's
    /// one object.
    #[tokio::test]
    async fn a_blobs_keys_are_its_segments_and_its_older_object() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(crate::LocalDirStore::open(dir.path()).await.unwrap());
        let id: agensium_domain::JobId = "01a24e10-bdd0-75d8-a360-56f802b9549b".parse().unwrap();
        let input = Segments::input_of(store, id);
        let seg = segment_size(0) as u64;
        let count = |bytes| input.keys_of(bytes).len() - 1;
        assert_eq!((count(0), count(1), count(seg)), (1, 1, 1));
        assert_eq!((count(seg + 1), count(3 * seg)), (2, 3));
        let keys = input.keys_of(seg + 1);
        assert_eq!(keys[0], id.input_key(), "the older layout's object");
        assert_eq!(keys[1..], [input.key(0), input.key(1)]);
    }

    #[test]
    fn segments_grow_and_stay_single_puts() {
        assert_eq!(segment_size(0), 4 << 20);
        assert_eq!(segment_size(PER_SIZE - 1), 4 << 20);
        assert_eq!(segment_size(PER_SIZE), 8 << 20);
        assert_eq!(segment_size(u32::MAX), 4 << 30);
        let first: u64 = (0..PER_SIZE).map(|n| segment_size(n) as u64).sum();
        assert_eq!(first, 16 << 30);
    }
}
