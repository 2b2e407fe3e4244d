//! A reader that can seek forward only, for decoders that ask for `Seek`
//! but read a stream front to back: the input is never buffered whole.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// Wraps a `BufRead`, counting the position; forward seeks skip bytes,
/// backward seeks fail.
pub struct Forward<R> {
    inner: R,
    position: u64,
}

impl<R: BufRead> Forward<R> {
    /// Starts at position 0.
    pub fn new(inner: R) -> Self {
        Self { inner, position: 0 }
    }
}

impl<R: BufRead> Read for Forward<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Forward<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.position += amount as u64;
    }
}

impl<R: BufRead> Seek for Forward<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::Current(by) => self.position.checked_add_signed(by),
            SeekFrom::End(_) => None,
        };
        match target {
            Some(at) if at >= self.position => {
                let skip = at - self.position;
                let skipped = io::copy(&mut self.by_ref().take(skip), &mut io::sink())?;
                if skipped < skip {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(self.position)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the input is a stream: it cannot seek backwards or from its end",
            )),
        }
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position)
    }
}
