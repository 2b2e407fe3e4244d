//! The streaming RFC 4180 parser and the converter around it.

use crate::json::write_escaped;
use crate::keys::Prefixes;

mod fast;

/// Longest row accepted, in bytes.
pub const MAX_ROW: usize = 16 << 20;

/// Why the input is not acceptable CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
    AfterCr,
}

/// Streaming CSV → JSON Lines converter. Feed input chunks with
/// [`Converter::feed`]; converted lines are appended to the output buffer.
///
/// Rows that lie whole within a chunk are converted straight from it, a
/// block at a time (`parser/fast.rs`); the others, and anything unusual,
/// go through the state machine below and the row buffer, which also words
/// the errors. Both give the same output.
pub struct Converter {
    delim: u8,
    state: State,
    /// Bytes of the current row's fields, back to back.
    row: Vec<u8>,
    /// End offset of each finished field of the current row in `row`.
    ends: Vec<usize>,
    /// Whether the current field was quoted (a quoted empty field is not a blank line).
    quoted: bool,
    /// Whether any byte of the current row was seen.
    open: bool,
    /// What precedes each field in a JSON line, once the header is read.
    keys: Option<Prefixes>,
    /// Output of the fast path, staged (see `fast.rs`).
    stage: Box<[u8; fast::STAGE]>,
    /// Rows converted.
    pub rows: u64,
    /// Physical line number (1-based) where the current row starts.
    line: u64,
    row_line: u64,
    bom_checked: bool,
}

impl Converter {
    /// A converter for the given delimiter.
    pub fn new(delim: u8) -> Self {
        Self {
            delim,
            state: State::FieldStart,
            row: Vec::new(),
            ends: Vec::new(),
            quoted: false,
            open: false,
            keys: None,
            stage: vec![0; fast::STAGE].try_into().expect("STAGE bytes"),
            rows: 0,
            line: 1,
            row_line: 1,
            bom_checked: false,
        }
    }

    /// Number of columns from the header, once read.
    pub fn columns(&self) -> usize {
        self.keys.as_ref().map_or(0, Prefixes::len)
    }

    /// Parses one more chunk, appending finished JSON lines to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if !self.bom_checked {
            // A BOM split across the first chunks is not recognised; the host hands out
            // chunks of many KiB, so the first non-empty chunk holds it whole.
            if chunk.is_empty() {
                return Ok(());
            }
            self.bom_checked = true;
            if let Some(rest) = chunk.strip_prefix(b"\xEF\xBB\xBF") {
                chunk = rest;
            }
        }
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::FieldStart => {
                    if !self.open {
                        // Whole rows within the chunk take the fast path;
                        // the general one then takes the next row, if any.
                        i += self.fast_rows(&chunk[i..], out);
                        if i == chunk.len() || self.state != State::FieldStart {
                            continue;
                        }
                    }
                    self.open = true;
                    if chunk[i] == b'"' {
                        self.quoted = true;
                        self.state = State::Quoted;
                        i += 1;
                    } else {
                        self.state = State::Unquoted;
                    }
                }
                State::Unquoted => {
                    let rest = &chunk[i..];
                    match memchr::memchr3(self.delim, b'\n', b'\r', rest) {
                        None => {
                            self.push_bytes(rest)?;
                            i = chunk.len();
                        }
                        Some(j) => {
                            self.push_bytes(&rest[..j])?;
                            i += j;
                            self.terminator(chunk[i], out)?;
                            i += 1;
                        }
                    }
                }
                State::Quoted => {
                    let rest = &chunk[i..];
                    match memchr::memchr(b'"', rest) {
                        None => {
                            self.count_lines(rest);
                            self.push_bytes(rest)?;
                            i = chunk.len();
                        }
                        Some(j) => {
                            self.count_lines(&rest[..j]);
                            self.push_bytes(&rest[..j])?;
                            self.state = State::QuoteInQuoted;
                            i += j + 1;
                        }
                    }
                }
                State::QuoteInQuoted => {
                    let b = chunk[i];
                    if b == b'"' {
                        self.push_bytes(b"\"")?;
                        self.state = State::Quoted;
                    } else if b == self.delim || b == b'\n' || b == b'\r' {
                        self.terminator(b, out)?;
                    } else {
                        return Err(Error(format!(
                            "line {}: unexpected {:?} after a closing quote",
                            self.line, b as char
                        )));
                    }
                    i += 1;
                }
                State::AfterCr => {
                    if chunk[i] == b'\n' {
                        i += 1;
                    }
                    self.state = State::FieldStart;
                }
            }
        }
        Ok(())
    }

    /// Ends the input: flushes a last row without a newline.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self.state {
            State::Quoted => Err(Error(format!(
                "line {}: unterminated quoted field (the row starts at line {})",
                self.line, self.row_line
            ))),
            _ if self.open => self.end_row(out),
            _ => Ok(()),
        }
    }

    fn count_lines(&mut self, bytes: &[u8]) {
        self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.row.len() + bytes.len() > MAX_ROW {
            return Err(Error(format!(
                "line {}: row longer than {MAX_ROW} bytes",
                self.row_line
            )));
        }
        self.row.extend_from_slice(bytes);
        Ok(())
    }

    /// Handles a delimiter, `\n` or `\r` that ends the current field.
    fn terminator(&mut self, b: u8, out: &mut Vec<u8>) -> Result<(), Error> {
        self.ends.push(self.row.len());
        if b == self.delim {
            self.quoted = false;
            self.state = State::FieldStart;
            return Ok(());
        }
        self.line += 1;
        self.state = if b == b'\r' {
            State::AfterCr
        } else {
            State::FieldStart
        };
        let blank = self.ends.len() == 1 && self.row.is_empty() && !self.quoted;
        if blank {
            self.reset_row();
            Ok(())
        } else {
            self.ends.pop();
            self.end_row(out)
        }
    }

    fn reset_row(&mut self) {
        self.row.clear();
        self.ends.clear();
        self.quoted = false;
        self.open = false;
        self.row_line = self.line;
    }

    fn end_row(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.ends.push(self.row.len());
        let result = self.emit(out);
        self.reset_row();
        result
    }

    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let f = &self.row[start..end];
            start = end;
            f
        })
    }

    fn emit(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let line = self.row_line;
        let utf8 = |f: &[u8]| -> Result<(), Error> {
            std::str::from_utf8(f)
                .map(|_| ())
                .map_err(|e| Error(format!("line {line}: field is not valid UTF-8 ({e})")))
        };
        let Some(keys) = &self.keys else {
            let mut seen = std::collections::HashSet::new();
            for f in self.fields() {
                utf8(f)?;
                if !seen.insert(f) {
                    return Err(Error(format!(
                        "header: duplicate column name {:?}",
                        String::from_utf8_lossy(f)
                    )));
                }
            }
            self.keys = Some(Prefixes::new(self.fields()));
            return Ok(());
        };
        if self.ends.len() != keys.len() {
            return Err(Error(format!(
                "line {line}: row has {} fields, the header has {}",
                self.ends.len(),
                keys.len()
            )));
        }
        utf8(&self.row)?;
        for (k, f) in self.fields().enumerate() {
            out.extend_from_slice(keys.get(k));
            write_escaped(out, f);
        }
        out.extend_from_slice(Prefixes::END);
        self.rows += 1;
        Ok(())
    }
}
