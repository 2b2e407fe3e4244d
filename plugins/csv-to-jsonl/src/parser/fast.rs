//! The fast path: rows that lie whole within the chunk are converted
//! straight from it, in one pass, without going through the row buffer.
//! Anything unusual is left to the general path, which also words errors.
//!
//! The output is staged in a buffer of fixed size, written through a
//! cursor a block at a time, and appended to the caller's `Vec` in bulk:
//! the hot loop does no `Vec` bookkeeping and calls no `memcpy`.

use super::{Converter, MAX_ROW, State};
use crate::json::{BLOCK, escape_seq, scan};
use crate::keys::Prefixes;

/// Size of the staging buffer. It is flushed once half full, so a row
/// whose JSON line is longer than half of it takes the general path.
pub(super) const STAGE: usize = 64 << 10;

/// A row converted by [`convert_row`].
struct Row {
    /// Bytes consumed, up to and including the terminating `\n` or `\r`.
    len: usize,
    /// The terminating byte.
    term: u8,
    /// Newlines inside quoted fields.
    newlines: u64,
    /// Bytes of the JSON line.
    written: usize,
}

impl Converter {
    /// Converts the rows at the start of `chunk` as long as they are plain
    /// sailing: a row ends within `chunk`, short of its last 16 bytes, is
    /// not blank, has the header's field count, is well quoted and valid
    /// UTF-8. Appends their lines to `out`; returns the bytes consumed. The
    /// general path takes the row it stops at.
    #[inline(never)]
    pub(super) fn fast_rows(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> usize {
        let Some(keys) = &self.keys else { return 0 };
        let stage = &mut self.stage;
        stage.resize(STAGE, 0); // once
        let (mut pos, mut staged) = (0, 0);
        while let Some(row) = convert_row(keys, self.delim, &chunk[pos..], &mut stage[staged..]) {
            pos += row.len;
            staged += row.written;
            if row.term == b'\r' {
                match chunk.get(pos) {
                    Some(b'\n') => pos += 1,
                    None => self.state = State::AfterCr,
                    Some(_) => {}
                }
            }
            self.line += 1 + row.newlines;
            self.rows += 1;
            if staged > STAGE / 2 {
                out.extend_from_slice(&stage[..staged]);
                staged = 0;
            }
        }
        out.extend_from_slice(&stage[..staged]);
        self.row_line = self.line;
        pos
    }
}

/// Writes the JSON line of the row at the start of `chunk` to the start of
/// `buf`; `None` when the general path must take the row.
///
/// One loop over the row: each turn copies a block and stops at the first
/// byte that needs attention (a byte to escape, a quote, a delimiter, a line
/// end), few values live across it, which suits Wasm compilers.
fn convert_row(keys: &Prefixes, delim: u8, chunk: &[u8], buf: &mut [u8]) -> Option<Row> {
    let mut w = keys.put(0, buf)?;
    let (mut k, mut newlines) = (0, 0);
    let mut quoted = chunk.first() == Some(&b'"');
    let mut pos = usize::from(quoted);
    // Where the current field starts, and its non-ASCII bytes (if any, its
    // UTF-8 is checked at its end).
    let (mut start, mut high) = (pos, 0);
    loop {
        let block = chunk.get(pos..pos + BLOCK)?.try_into().expect("a block");
        let (n, non_ascii) = scan(block, if quoted { b'"' } else { delim });
        buf.get_mut(w..w + BLOCK)?.copy_from_slice(block);
        (pos, w, high) = (pos + n, w + n, high | non_ascii);
        if n == BLOCK {
            continue;
        }
        let b = chunk[pos];
        pos += 1;
        let end = if quoted { b == b'"' } else { b == delim || b == b'\n' || b == b'\r' };
        if !end {
            newlines += u64::from(b == b'\n'); // (only quoted fields hold newlines)
            let (seq, len) = escape_seq(b);
            buf.get_mut(w..w + 8)?.copy_from_slice(&seq);
            w += len;
            continue;
        }
        let field = &chunk[start..pos - 1];
        let term = if quoted {
            let next = *chunk.get(pos)?;
            pos += 1;
            if next == b'"' {
                // A doubled quote.
                buf.get_mut(w..w + 2)?.copy_from_slice(b"\\\"");
                w += 2;
                continue;
            }
            next
        } else {
            if k == 0 && field.is_empty() && b != delim {
                return None; // a blank line
            }
            b
        };
        let valid = term == delim || term == b'\n' || term == b'\r';
        if !valid || high != 0 && std::str::from_utf8(field).is_err() {
            return None;
        }
        k += 1;
        if term != delim {
            if k != keys.len() || pos > MAX_ROW {
                return None;
            }
            buf.get_mut(w..w + 3)?.copy_from_slice(Prefixes::END);
            return Some(Row {
                len: pos,
                term,
                newlines,
                written: w + 3,
            });
        }
        if k == keys.len() {
            return None; // more fields than the header has
        }
        w += keys.put(k, buf.get_mut(w..)?)?;
        quoted = chunk.get(pos) == Some(&b'"');
        pos += usize::from(quoted);
        (start, high) = (pos, 0);
    }
}
