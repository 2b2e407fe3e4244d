//! The fast path: a row that lies whole within the chunk is converted
//! straight from the chunk to the output in one pass, without going
//! through the row buffer. Anything unusual is left to the general path,
//! which also words the errors.

use super::{Converter, MAX_ROW, State};
use crate::json::{copy_clean, write_escape};
use crate::keys::Prefixes;

/// A row converted by [`convert_row`].
struct Row {
    /// Bytes consumed, up to and including the terminating `\n` or `\r`.
    len: usize,
    /// The terminating byte.
    term: u8,
    /// Newlines inside quoted fields.
    newlines: u64,
}

impl Converter {
    /// Converts the row at the start of `chunk` when it is plain sailing: it
    /// ends within `chunk`, is not blank, has the header's field count, is
    /// well quoted, and each field is valid UTF-8. Returns the bytes
    /// consumed; otherwise `None`, with `self` and `out` as they were, and
    /// the general path takes the row.
    pub(super) fn fast_row(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let keys = self.keys.as_ref()?;
        let mark = out.len();
        let Some(row) = convert_row(keys, self.delim, chunk, out) else {
            out.truncate(mark);
            return None;
        };
        let mut len = row.len;
        if row.term == b'\r' {
            match chunk.get(len) {
                Some(b'\n') => len += 1,
                None => self.state = State::AfterCr,
                Some(_) => {}
            }
        }
        self.line += 1 + row.newlines;
        self.row_line = self.line;
        self.rows += 1;
        Some(len)
    }
}

/// Writes the JSON line of the row at the start of `chunk` to `out`.
/// `None` (`out` then holds part of a line) when the general path must
/// take the row.
fn convert_row(keys: &Prefixes, delim: u8, chunk: &[u8], out: &mut Vec<u8>) -> Option<Row> {
    let mut pos = 0;
    let mut newlines = 0;
    for k in 0..keys.len() {
        keys.write(out, k);
        // Set when the field holds non-ASCII bytes, whose UTF-8 is to check.
        let mut high = false;
        let (start, end, term);
        if chunk.get(pos) == Some(&b'"') {
            start = pos + 1;
            pos = start;
            loop {
                pos = copy_clean(out, chunk, pos, b'"', &mut high);
                let b = *chunk.get(pos)?;
                if b == b'"' {
                    let next = *chunk.get(pos + 1)?;
                    pos += 2;
                    if next != b'"' {
                        (end, term) = (pos - 2, next);
                        break;
                    }
                } else {
                    newlines += u64::from(b == b'\n');
                    pos += 1;
                }
                write_escape(out, b);
            }
            if term != delim && term != b'\n' && term != b'\r' {
                return None;
            }
        } else {
            start = pos;
            loop {
                pos = copy_clean(out, chunk, pos, delim, &mut high);
                let b = *chunk.get(pos)?;
                pos += 1;
                if b == delim || b == b'\n' || b == b'\r' {
                    (end, term) = (pos - 1, b);
                    break;
                }
                write_escape(out, b);
            }
            if k == 0 && start == end && term != delim {
                return None; // a blank line
            }
        }
        if high && std::str::from_utf8(&chunk[start..end]).is_err() {
            return None;
        }
        if term != delim {
            if k + 1 != keys.len() || pos > MAX_ROW {
                return None;
            }
            out.extend_from_slice(Prefixes::END);
            return Some(Row {
                len: pos,
                term,
                newlines,
            });
        }
    }
    None // more fields than the header has
}
