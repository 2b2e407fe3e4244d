//! `wordcount`: lines, words and bytes of the input, exactly as
//! `LC_ALL=C wc -l -w -c` counts them.
//!
//! * lines: number of `\n` bytes;
//! * words: as GNU wc counts them in the C locale — a word starts at a
//!   printable ASCII byte (`0x21..=0x7e`) outside a word and ends at ASCII
//!   whitespace (space, `\t`, `\n`, `\v`, `\f`, `\r` — C's `isspace`);
//!   other bytes (controls, `0x7f`, `0x80..=0xff`) neither start nor end a
//!   word. On text this is "runs of non-whitespace bytes".
//! * bytes: the input's length.
//!
//! Output: `{"lines":L,"words":W,"bytes":B}` as `application/json`.

use agensium_sdk::{Failure, Input, Output, Params, Summary};
use std::io::{BufRead, Write};

/// C-locale `isspace`.
const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Streaming counter: feed chunks in order, then read the totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// `\n` bytes seen.
    pub lines: u64,
    /// Words seen.
    pub words: u64,
    /// Bytes seen.
    pub bytes: u64,
    in_word: bool,
}

impl Counts {
    /// Counts one more chunk, branch-free.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut lines = 0u64;
        let mut starts = 0u64;
        let mut in_word = self.in_word;
        for block in chunk.chunks(4096) {
            let (mut l, mut s) = (0u32, 0u32);
            for &b in block {
                let printable = (0x21..=0x7e).contains(&b);
                l += (b == b'\n') as u32;
                s += (printable & !in_word) as u32;
                in_word = printable | (in_word & !is_space(b));
            }
            lines += l as u64;
            starts += s as u64;
        }
        self.in_word = in_word;
        self.lines += lines;
        self.words += starts;
        self.bytes += chunk.len() as u64;
    }

    /// The JSON document the processor writes.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"lines":{},"words":{},"bytes":{}}}"#,
            self.lines, self.words, self.bytes
        )
    }
}

/// The processor: counts the input as it streams, writes the JSON.
pub fn wordcount(
    _params: &Params,
    input: &mut Input,
    output: &mut Output,
) -> Result<Summary, Failure> {
    let mut counts = Counts::default();
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        counts.feed(chunk);
        input.consume(n);
    }
    output.write_all(counts.to_json().as_bytes())?;
    Ok(Summary::new()
        .content_type("application/json")
        .stat("lines", counts.lines)
        .stat("words", counts.words)
        .stat("bytes", counts.bytes))
}

agensium_sdk::processor!(wordcount);

#[cfg(test)]
mod tests {
    use super::*;

    fn count(chunks: &[&[u8]]) -> (u64, u64, u64) {
        let mut c = Counts::default();
        for ch in chunks {
            c.feed(ch);
        }
        (c.lines, c.words, c.bytes)
    }

    #[test]
    fn basics() {
        assert_eq!(count(&[b""]), (0, 0, 0));
        assert_eq!(count(&[b"hello world\n"]), (1, 2, 12));
        assert_eq!(count(&[b"  a\tb\x0bc\x0cd\re\n\nf"]), (2, 6, 14));
        // Like GNU wc in the C locale: non-printable bytes neither start nor end words.
        assert_eq!(count(&[b"\xff\x00 \x01"]), (0, 0, 4));
        assert_eq!(count(&[b"a\x01b \x80 c\xffd"]), (0, 2, 9));
    }

    #[test]
    fn words_split_across_chunks() {
        assert_eq!(count(&[b"hel", b"lo wo", b"rld"]), (0, 2, 11));
        assert_eq!(count(&[b"a ", b" b"]), (0, 2, 4));
        let text = b"the quick  brown\tfox\njumps over\r\nthe lazy dog \n";
        let whole = count(&[text]);
        for split in 0..text.len() {
            assert_eq!(
                count(&[&text[..split], &text[split..]]),
                whole,
                "split at {split}"
            );
        }
    }

    #[test]
    fn as_a_job() {
        let run = agensium_sdk::testing::run(wordcount, b"hello big\nworld\n", &[]);
        assert_eq!(run.text(), r#"{"lines":2,"words":3,"bytes":16}"#);
        let summary = run.result.unwrap();
        assert_eq!(summary.content_type.as_deref(), Some("application/json"));
        assert_eq!(summary.get("words"), Some("3"));
    }

    #[test]
    fn json() {
        let mut c = Counts::default();
        c.feed(b"a b\n");
        assert_eq!(c.to_json(), r#"{"lines":1,"words":2,"bytes":4}"#);
    }
}
