//! Request bodies with a size limit that still lets the client hear the 413.
//!
//! Answering while the client is still sending makes the server close the
//! connection, and the client sees a broken pipe instead of the JSON error.
//! So once a body goes over its limit, the rest is read and discarded (up to
//! [`DRAIN_MAX`] bytes and [`DRAIN_TIME`]) before the error is reported.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Most bytes of an oversized body read and discarded before answering.
const DRAIN_MAX: u64 = 64 << 20;
/// Longest time spent discarding an oversized body.
const DRAIN_TIME: Duration = Duration::from_secs(10);

type Body<E> = Pin<Box<dyn Stream<Item = Result<Bytes, E>> + Send>>;

/// Counts bytes flowing through and fails the stream past `limit`, setting
/// `over` so the caller can answer 413 rather than a generic error.
pub fn limited<S, E>(body: S, limit: u64, over: Arc<AtomicBool>) -> agensium_ports::ByteStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + 'static,
{
    let body: Body<E> = Box::pin(body);
    Box::pin(futures::stream::unfold(Some((body, 0u64)), move |state| {
        let over = over.clone();
        async move {
            let (mut body, seen) = state?;
            let chunk = match body.next().await? {
                Ok(c) => c,
                Err(e) => {
                    let e = io::Error::other(format!("reading the request body: {e}"));
                    return Some((Err(e), None));
                }
            };
            let seen = seen + chunk.len() as u64;
            if seen <= limit {
                return Some((Ok(chunk), Some((body, seen))));
            }
            over.store(true, Ordering::Relaxed);
            drain(&mut body).await;
            Some((Err(io::Error::other("upload limit exceeded")), None))
        }
    }))
}

/// Reads and drops `body` (within the drain bounds) and hands back `err`:
/// a request refused before its body was read still hears why.
pub async fn discard<E>(body: axum::body::Body, err: E) -> E {
    let mut body: Body<axum::Error> = Box::pin(body.into_data_stream());
    drain(&mut body).await;
    err
}

/// Reads and drops what is left of `body`, within the drain bounds.
async fn drain<E>(body: &mut Body<E>) {
    let mut drained = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = body.next().await {
            drained += chunk.len() as u64;
            if drained > DRAIN_MAX {
                return;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_bodies_within_the_limit_and_drains_oversized_ones() {
        let chunks = |n: usize| {
            let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let r = read.clone();
            let s = futures::stream::iter(0..n).map(move |_| {
                r.fetch_add(1, Ordering::Relaxed);
                Ok::<_, io::Error>(Bytes::from_static(b"0123456789"))
            });
            (s, read)
        };
        let over = Arc::new(AtomicBool::new(false));
        let (s, _) = chunks(3);
        let got: Vec<_> = limited(s, 30, over.clone()).collect().await;
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(std::result::Result::is_ok));
        assert!(!over.load(Ordering::Relaxed));

        let (s, read) = chunks(100);
        let got: Vec<_> = limited(s, 30, over.clone()).collect().await;
        assert_eq!(got.len(), 4, "three chunks, then the error, then the end");
        assert!(got[3].is_err());
        assert!(over.load(Ordering::Relaxed));
        assert_eq!(read.load(Ordering::Relaxed), 100, "the rest was drained");
    }
}
