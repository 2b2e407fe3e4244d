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

#[cfg(target_arch = "wasm32")]
mod component;
mod json;
mod keys;
mod parser;

pub use parser::{Converter, Error};

#[cfg(test)]
mod tests;
