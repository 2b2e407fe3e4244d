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
    ///
    /// A piece that one chunk holds whole (a chunk of at least `size`
    /// bytes, or the body's last chunk) is that chunk's bytes, not a copy:
    /// a segment handed to a store's `put` goes up as it is.
    pub async fn next(&mut self, size: usize) -> Result<Option<Bytes>, StoreError> {
        if size == 0 {
            return Ok(None);
        }
        if self.at_end().await? {
            return Ok(None);
        }
        if self.carry.len() >= size {
            return Ok(Some(self.carry.split_to(size)));
        }
        let first = std::mem::take(&mut self.carry);
        if self.at_end().await? {
            return Ok(Some(first));
        }
        let mut buf = BytesMut::with_capacity(size);
        buf.extend_from_slice(&first);
        drop(first);
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

    #[tokio::test]
    async fn a_piece_one_chunk_holds_is_that_chunk_not_a_copy() {
        let big = Bytes::from(vec![7u8; 10]);
        let last = Bytes::from(vec![8u8; 3]);
        let chunks = vec![Ok(big.clone()), Ok(last.clone())];
        let mut p = Pieces::new(Box::pin(futures::stream::iter(chunks)));
        let a = p.next(4).await.unwrap().unwrap();
        assert_eq!(a.as_ptr(), big.as_ptr(), "a chunk's first bytes");
        let b = p.next(4).await.unwrap().unwrap();
        assert_eq!(b.as_ptr(), big[4..].as_ptr(), "a chunk's middle");
        let c = p.next(4).await.unwrap().unwrap();
        assert_eq!(&c[..], &[7, 7, 8, 8][..], "across chunks: copied");
        let d = p.next(4).await.unwrap().unwrap();
        assert_eq!(d.as_ptr(), last[2..].as_ptr(), "the body's last bytes");
        assert!(p.next(4).await.unwrap().is_none());
        let whole = Bytes::from(vec![1u8; 6]);
        let mut p = Pieces::new(crate::object_store::once(whole.clone()));
        let only = p.next(8).await.unwrap().unwrap();
        assert_eq!(
            only.as_ptr(),
            whole.as_ptr(),
            "a body of one chunk, shorter than a piece"
        );
        assert_eq!(p.total(), 6);
    }
}
