//! The constant text written before each field of a row.

use crate::json::{BLOCK, write_escaped};

/// What precedes each field's value in a JSON line: `{"a":"` before the
/// first, `","b":"` (closing the previous value) before the others. The
/// line then ends with [`Prefixes::END`].
pub struct Prefixes {
    /// All prefixes back to back, then `BLOCK` bytes of padding so that a
    /// whole block can be read from any offset.
    text: Vec<u8>,
    /// End offset of each prefix in `text`.
    ends: Vec<usize>,
}

impl Prefixes {
    /// Closes the last value and the line.
    pub const END: &[u8; 3] = b"\"}\n";

    /// The prefixes of the given header names (valid UTF-8).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let (mut text, mut ends) = (Vec::new(), Vec::new());
        for (n, name) in names.into_iter().enumerate() {
            text.extend_from_slice(if n == 0 { b"{\"" } else { b"\",\"" });
            write_escaped(&mut text, name);
            text.extend_from_slice(b"\":\"");
            ends.push(text.len());
        }
        text.extend_from_slice(&[0; BLOCK]);
        Self { text, ends }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The prefix of column `k`.
    pub fn get(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.text[start..self.ends[k]]
    }

    /// Stores the prefix of column `k` at the start of `buf`, a block at a
    /// time (bytes past it are overwritten too); its length, or `None` when
    /// `buf` is too short.
    #[inline]
    pub fn put(&self, k: usize, buf: &mut [u8]) -> Option<usize> {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        let len = self.ends[k] - start;
        let block = |at: usize| &self.text[start + at..start + at + BLOCK];
        buf.get_mut(..BLOCK)?.copy_from_slice(block(0));
        // Longer prefixes (names over 11 bytes) take more blocks.
        for at in (BLOCK..len).step_by(BLOCK) {
            buf.get_mut(at..at + BLOCK)?.copy_from_slice(block(at));
        }
        Some(len)
    }
}
