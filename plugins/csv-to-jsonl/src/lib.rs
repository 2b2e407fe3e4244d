//! `csv-to-jsonl`: a CSV with a header row becomes one JSON object per row.
//!
//! Keys come from the header, values are strings. Quoting follows RFC 4180
//! (`"a ""quoted"", field"`, embedded delimiters and newlines); lines may end
//! in `\n` or `\r\n`; a UTF-8 byte-order mark is skipped; blank lines are
//! skipped. The input is parsed as it streams: memory stays constant
//! whatever the file's size (bounded by the longest row).
//!
//! Params: `delimiter` (one ASCII byte, default `,`).
//! Errors (`invalid_input`): a row whose field count differs from the
//! header's, an unterminated quote, text after a closing quote, invalid
//! UTF-8, duplicate header names, a row over 16 MiB.

mod json;
mod keys;
mod parser;

pub use parser::{Converter, Error};

use agensium_sdk::{Failure, Input, Output, Params, Summary};
use std::io::{BufRead, Write};

/// Converted output is handed to the host in pieces of about this size.
const FLUSH_AT: usize = 256 * 1024;

/// The processor: streams the input through a [`Converter`].
pub fn csv_to_jsonl(
    params: &Params,
    input: &mut Input,
    output: &mut Output,
) -> Result<Summary, Failure> {
    params.warn_unknown(&["delimiter"]);
    let delim = match params.str("delimiter").map(str::as_bytes) {
        None => b',',
        Some(&[b]) if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => b,
        Some(_) => {
            return Err(Failure::invalid_input(format!(
                "bad delimiter {:?}: one ASCII character",
                params.str("delimiter").unwrap_or_default()
            )));
        }
    };
    let invalid = |e: Error| Failure::invalid_input(e.0);
    let mut conv = Converter::new(delim);
    let mut out = Vec::with_capacity(FLUSH_AT * 2);
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        conv.feed(chunk, &mut out).map_err(invalid)?;
        input.consume(n);
        if out.len() >= FLUSH_AT {
            output.write_all(&out)?;
            out.clear();
        }
    }
    conv.finish(&mut out).map_err(invalid)?;
    output.write_all(&out)?;
    Ok(Summary::new()
        .content_type("application/x-ndjson")
        .stat("rows", conv.rows)
        .stat("columns", conv.columns()))
}

agensium_sdk::processor!(csv_to_jsonl);

#[cfg(test)]
mod tests;
