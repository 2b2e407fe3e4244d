//! The constant text written before each field of a row.

use crate::json::{BLOCK, write_escaped};

/// What precedes each field's value in a JSON line: `{"a":"` before the
/// first, `","b":"` (closing the previous value) before the others. The
/// line then ends with [`Prefixes::END`].
pub struct Prefixes {
    /// All prefixes back to back, then `BLOCK` bytes of padding so that a
    /// whole block can be read from any offset.
    text: Vec<u8>,
    /// Start and length of each prefix in `text`.
    spans: Vec<(usize, usize)>,
}

impl Prefixes {
    /// Closes the last value and the line.
    pub const END: &[u8; 3] = b"\"}\n";

    /// The prefixes of the given header names (valid UTF-8).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let (mut text, mut spans) = (Vec::new(), Vec::new());
        for (n, name) in names.into_iter().enumerate() {
            let start = text.len();
            text.extend_from_slice(if n == 0 { b"{\"" } else { b"\",\"" });
            write_escaped(&mut text, name);
            text.extend_from_slice(b"\":\"");
            spans.push((start, text.len() - start));
        }
        text.extend_from_slice(&[0; BLOCK]);
        Self { text, spans }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The prefix of column `k`.
    pub fn get(&self, k: usize) -> &[u8] {
        let (start, len) = self.spans[k];
        &self.text[start..start + len]
    }

    /// Stores the prefix of column `k` at `buf[w..]`, a block at a time
    /// (bytes past it are overwritten too); where it ends, or `None` when
    /// `buf` is too short.
    #[inline(always)]
    pub fn put(&self, k: usize, buf: &mut [u8], w: usize) -> Option<usize> {
        let (start, len) = self.spans[k];
        buf.get_mut(w..w + BLOCK)?
            .copy_from_slice(&self.text[start..start + BLOCK]);
        if len > BLOCK {
            self.put_rest(start, len, buf, w)?;
        }
        Some(w + len)
    }

    /// The blocks of a prefix after its first (for longer names).
    #[cold]
    fn put_rest(&self, start: usize, len: usize, buf: &mut [u8], w: usize) -> Option<()> {
        for at in (BLOCK..len).step_by(BLOCK) {
            let block = &self.text[start + at..start + at + BLOCK];
            buf.get_mut(w + at..w + at + BLOCK)?.copy_from_slice(block);
        }
        Some(())
    }
}
