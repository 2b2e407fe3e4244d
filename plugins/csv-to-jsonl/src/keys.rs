//! The constant text written before each field of a row.

use crate::json::{BLOCK, push_prefix, write_escaped};

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
    pub const END: &[u8] = b"\"}\n";

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

    /// Appends the prefix of column `k` to `out`, a block at a time.
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>, k: usize) {
        let end = self.ends[k];
        let mut at = if k == 0 { 0 } else { self.ends[k - 1] };
        loop {
            let block = self.text[at..at + BLOCK].try_into().expect("a block");
            let keep = (end - at).min(BLOCK);
            push_prefix(out, block, keep);
            at += keep;
            if at == end {
                return;
            }
        }
    }
}
