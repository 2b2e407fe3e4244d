//! Cutting a byte stream into pieces of chosen sizes: S3 multipart parts
//! and the segments of a job's output ([`crate::segments`]).

use crate::object_store::{ByteStream, StoreError};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// Cuts a body into pieces of exactly the size asked for each (the last one
/// shorter), holding at most one piece plus one incoming chunk in memory.
pub struct Pieces {
    body: ByteStream,
    carry: Bytes,
    total: u64,
    ended: bool,
}

impl std::fmt::Debug for Pieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces")
            .field("total", &self.total)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Pieces {
    /// Pieces of `body`.
    pub fn new(body: ByteStream) -> Self {
        Self {
            body,
            carry: Bytes::new(),
            total: 0,
            ended: false,
        }
    }

    /// Bytes read from the body so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The next piece of `size` bytes (shorter at the end), or `None` when
    /// the body is exhausted. A read error is [`StoreError::Body`].
    pub async fn next(&mut self, size: usize) -> Result<Option<Bytes>, StoreError> {
        let mut buf = BytesMut::with_capacity(size);
        loop {
            let take = (size - buf.len()).min(self.carry.len());
            buf.extend_from_slice(&self.carry.split_to(take));
            if buf.len() == size {
                return Ok(Some(buf.freeze()));
            }
            if !self.pull().await? {
                return Ok((!buf.is_empty()).then(|| buf.freeze()));
            }
        }
    }

    /// Reads one more chunk into `carry`; false at the end of the body.
    async fn pull(&mut self) -> Result<bool, StoreError> {
        if self.ended {
            return Ok(false);
        }
        match self.body.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(StoreError::Body)?;
                self.total += chunk.len() as u64;
                self.carry = chunk;
                Ok(true)
            }
            None => {
                self.ended = true;
                Ok(false)
            }
        }
    }

    /// True when nothing follows what was read so far (may read one chunk).
    pub async fn at_end(&mut self) -> Result<bool, StoreError> {
        while self.carry.is_empty() {
            if !self.pull().await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pieces_have_the_sizes_asked_for_whatever_the_chunks() {
        let chunks: Vec<std::io::Result<Bytes>> = [&b"abc"[..], b"defgh", b"", b"ij"]
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut p = Pieces::new(Box::pin(futures::stream::iter(chunks)));
        assert_eq!(p.next(4).await.unwrap().unwrap(), &b"abcd"[..]);
        assert!(!p.at_end().await.unwrap());
        assert_eq!(p.next(2).await.unwrap().unwrap(), &b"ef"[..]);
        assert_eq!(p.next(10).await.unwrap().unwrap(), &b"ghij"[..]);
        assert!(p.at_end().await.unwrap());
        assert!(p.next(1).await.unwrap().is_none());
        assert_eq!(p.total(), 10);
    }
}
