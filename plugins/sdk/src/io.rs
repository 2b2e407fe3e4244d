//! The job's input and output as standard I/O.

use std::io::{self, BufRead, Read, Write};

/// How much one host read asks for, and how much output is buffered.
const CHUNK: usize = 256 * 1024;

/// The job's input, pulled from the host in chunks: [`Read`] and
/// [`BufRead`]. Reads never fail; the end of the input reads as 0 bytes.
pub struct Input {
    buf: Vec<u8>,
    at: usize,
    done: bool,
}

impl Input {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            at: 0,
            done: false,
        }
    }

    /// The whole rest of the input in memory. Only for inputs known to be
    /// small: a streaming processor reads instead.
    pub fn read_all(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        self.read_to_end(&mut all)
            .expect("reading the input never fails");
        all
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at == self.buf.len() && !self.done {
            self.buf = crate::sys::read(CHUNK as u32);
            self.at = 0;
            self.done = self.buf.is_empty();
        }
        Ok(&self.buf[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.buf.len());
    }
}

/// The job's output, pushed to the host: [`Write`], buffered (256 KiB);
/// a write at least that large goes straight through. Writes never fail:
/// past the job's output limit the host stops the processor with
/// `output_limit`. Whatever is buffered is flushed when the processor
/// returns.
pub struct Output {
    buf: Vec<u8>,
    written: u64,
}

impl Output {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::with_capacity(CHUNK),
            written: 0,
        }
    }

    /// Bytes written so far (buffered ones included).
    pub fn written(&self) -> u64 {
        self.written
    }

    fn push_buffer(&mut self) {
        if !self.buf.is_empty() {
            crate::sys::write(&self.buf);
            self.buf.clear();
        }
    }

    /// Flushes what is buffered; called when the processor returns.
    pub(crate) fn finish(&mut self) {
        self.push_buffer();
    }
}

impl Write for Output {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written += data.len() as u64;
        if self.buf.len() + data.len() > CHUNK {
            self.push_buffer();
        }
        if data.len() >= CHUNK {
            crate::sys::write(data);
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_buffer();
        Ok(())
    }
}
