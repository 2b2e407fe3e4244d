//! The fast path: rows that lie whole within the chunk are converted
//! straight from it, in one pass, without going through the row buffer.
//! Anything unusual is left to the general path, which also words errors.
//!
//! The output is staged in a buffer of fixed size, written through a
//! cursor a block at a time, and appended to the caller's `Vec` in bulk:
//! the hot loop does no `Vec` bookkeeping and calls no `memcpy`.

use super::{Converter, MAX_ROW, State};
use crate::json::{BLOCK, classify, escape_seq};
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
    /// Where the JSON line ends in the staging buffer.
    written: usize,
}

impl Converter {
    /// Converts the rows at the start of `chunk` as long as they are plain
    /// sailing: a row ends within `chunk` (with a block or two to spare),
    /// is not blank, has the header's field count, is well quoted and valid
    /// UTF-8. Appends their lines to `out`; returns the bytes consumed. The
    /// general path takes the row it stops at.
    #[inline(never)]
    pub(super) fn fast_rows(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> usize {
        let Some(keys) = &self.keys else { return 0 };
        let stage: &mut [u8; STAGE] = &mut self.stage;
        let (mut pos, mut staged) = (0, 0);
        while let Some(row) = convert_row(keys, self.delim, &chunk[pos..], stage, staged) {
            pos += row.len;
            staged = row.written;
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

/// Writes the JSON line of the row at the start of `chunk` to `buf[w..]`;
/// `None` when the general path must take the row.
///
/// The row is read a block at a time: one classification per block finds
/// all the bytes that need handling in it (bytes to escape, quotes, and,
/// outside quotes, delimiters and line ends); the clean runs between them
/// are copied with one block store each. Each block is read through a
/// window of two, so that indexing within it needs no bounds checks.
fn convert_row(
    keys: &Prefixes,
    delim: u8,
    chunk: &[u8],
    buf: &mut [u8; STAGE],
    w: usize,
) -> Option<Row> {
    if matches!(chunk.first(), Some(b'\n' | b'\r')) {
        return None; // a blank line
    }
    let mut w = keys.put(0, buf, w)?;
    let (mut k, mut newlines) = (0, 0);
    let mut quoted = chunk.first() == Some(&b'"');
    // The first byte neither copied nor consumed yet.
    let mut at = usize::from(quoted);
    // Where the row's non-ASCII bytes lie, if any: their UTF-8 is checked.
    let (mut high_from, mut high_to) = (usize::MAX, 0);
    loop {
        let start = at;
        let window: &[u8; 2 * BLOCK] = chunk.get(start..start + 2 * BLOCK)?.try_into().ok()?;
        let masks = classify(window[..BLOCK].try_into().ok()?, delim);
        let mut high = masks.non_ascii;
        // The bytes of this block still to handle, one event at a time.
        let (term, end) = loop {
            let todo = u32::MAX << (at - start);
            let events = todo & (masks.escape | if quoted { 0 } else { masks.delim });
            // Copies the clean run from `at` up to `to`, both within the block.
            let mut copy_to = |w: &mut usize, to: usize| -> Option<()> {
                // (`at - start` < BLOCK here: `% BLOCK` only tells the compiler.)
                let from = (at - start) % BLOCK;
                buf.get_mut(*w..*w + BLOCK)?
                    .copy_from_slice(&window[from..from + BLOCK]);
                *w += to - at;
                Some(())
            };
            if events == 0 {
                if at < start + BLOCK {
                    copy_to(&mut w, start + BLOCK)?;
                    at = start + BLOCK;
                }
                break (None, 0);
            }
            let i = events.trailing_zeros() as usize % BLOCK; // (< BLOCK)
            copy_to(&mut w, start + i)?;
            let bit = 1 << i;
            at = start + i + 1;
            if quoted && masks.quote & bit != 0 {
                let next = window[i + 1];
                at += 1;
                if next == b'"' {
                    buf.get_mut(w..w + 2)?.copy_from_slice(b"\\\"");
                    w += 2;
                } else if next == delim {
                    (w, quoted) = next_field(keys, &mut k, buf, w, window[i + 2])?;
                    at += usize::from(quoted);
                } else if next == b'\n' || next == b'\r' {
                    high &= bit - 1; // (the next row's are not ours)
                    break (Some(next), at);
                } else {
                    return None; // text after a closing quote
                }
            } else if !quoted && masks.delim & bit != 0 {
                (w, quoted) = next_field(keys, &mut k, buf, w, window[i + 1])?;
                at += usize::from(quoted);
            } else if !quoted && masks.line & bit != 0 {
                high &= bit - 1; // (the next row's are not ours)
                break (Some(window[i]), at);
            } else {
                let b = window[i];
                newlines += u64::from(b == b'\n'); // (only quoted fields hold any)
                let (seq, len) = escape_seq(b);
                buf.get_mut(w..w + 8)?.copy_from_slice(seq);
                w += len;
            }
        };
        if high != 0 {
            high_from = high_from.min(start + high.trailing_zeros() as usize);
            high_to = start + 32 - high.leading_zeros() as usize;
        }
        let Some(term) = term else { continue };
        let utf8 = high_from > high_to || std::str::from_utf8(&chunk[high_from..high_to]).is_ok();
        if k + 1 != keys.len() || end > MAX_ROW || !utf8 {
            return None;
        }
        buf.get_mut(w..w + 3)?.copy_from_slice(Prefixes::END);
        return Some(Row {
            len: end,
            term,
            newlines,
            written: w + 3,
        });
    }
}

/// Ends field `*k` at a delimiter, before a field whose first byte is
/// `first`: writes that field's prefix at `buf[w..]`; (`w` past it, whether
/// the field is quoted). `None` when the row has more fields than the
/// header.
#[inline]
fn next_field(
    keys: &Prefixes,
    k: &mut usize,
    buf: &mut [u8],
    w: usize,
    first: u8,
) -> Option<(usize, bool)> {
    *k += 1;
    if *k == keys.len() {
        return None;
    }
    Some((keys.put(*k, buf, w)?, first == b'"'))
}
