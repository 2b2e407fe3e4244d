//! The block-at-a-time escaping and the fast path, against simple
//! byte-at-a-time references.

use super::convert_chunks;
use crate::json::{BLOCK, Masks, classify, classify_swar, needs_escape, write_escaped};

/// The reference escaper: one byte at a time.
fn reference_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

fn escaped(s: &[u8]) -> Vec<u8> {
    let mut out = b"prefix".to_vec();
    write_escaped(&mut out, s);
    out.split_off(6)
}

/// Deterministic pseudo-random numbers below `n` (xorshift64).
fn rand(state: &mut u64, n: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % n
}

#[test]
fn every_byte_at_every_offset() {
    for b in 0..=255u8 {
        for before in 0..=2 * BLOCK + 2 {
            for after in [0, 1, 7, 8, 9, 15, 16, 17] {
                let mut s = vec![b'a'; before];
                s.push(b);
                s.extend(std::iter::repeat_n(b'z', after));
                assert_eq!(escaped(&s), reference_escape(&s), "{b:#x} after {before}");
            }
        }
    }
}

#[test]
fn runs_of_specials_and_utf8_across_blocks() {
    let pieces: [&str; 10] = [
        "\"", "\\", "\n", "\u{1}", "\u{1f}", "ü", "✓", "😀", "ключ", " \u{7f} ",
    ];
    let mut rng = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut s = String::new();
        for _ in 0..rand(&mut rng, 12) {
            s.push_str(&"x".repeat(rand(&mut rng, 20) as usize));
            s.push_str(pieces[rand(&mut rng, pieces.len() as u64) as usize]);
        }
        assert_eq!(
            escaped(s.as_bytes()),
            reference_escape(s.as_bytes()),
            "{s:?}"
        );
    }
    let all_specials: Vec<u8> = (0..0x20).chain([b'"', b'\\']).collect();
    assert_eq!(escaped(&all_specials), reference_escape(&all_specials));
    let long = "Zürich ✓ ".repeat(40);
    assert_eq!(escaped(long.as_bytes()), long.as_bytes());
}

#[test]
fn classify_matches_a_byte_loop() {
    let mut rng = 0x2545_f491_4f6c_dd1d;
    let bytes = [
        b'a', b' ', b'"', b'\\', b',', b'\t', 0, 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xff,
    ];
    for round in 0..20_000 {
        let mut block = [0u8; BLOCK];
        for b in &mut block {
            *b = if round % 2 == 0 {
                bytes[rand(&mut rng, bytes.len() as u64) as usize]
            } else {
                rand(&mut rng, 256) as u8
            };
        }
        for delim in [b',', b';', b'\t', b'"', b'|', 0x7f] {
            let mask = |f: &dyn Fn(u8) -> bool| {
                (0..BLOCK)
                    .filter(|&i| f(block[i]))
                    .map(|i| 1 << i)
                    .sum::<u32>()
            };
            let expected = Masks {
                escape: mask(&needs_escape),
                delim: mask(&|b| b == delim),
                quote: mask(&|b| b == b'"'),
                line: mask(&|b| b == b'\n' || b == b'\r'),
                non_ascii: mask(&|b| b >= 0x80),
            };
            assert_eq!(classify(&block, delim), expected, "{block:?} {delim}");
            assert_eq!(
                classify_swar(&block, delim),
                expected,
                "SWAR {block:?} {delim}"
            );
        }
    }
}

/// The reference converter: the whole input at once, one byte at a time.
fn reference_convert(input: &[u8]) -> Vec<u8> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let (mut rows, mut i) = (Vec::new(), 0);
    while i < input.len() {
        let (mut row, first_quoted) = (Vec::new(), input[i] == b'"');
        loop {
            let mut field = Vec::new();
            if input.get(i) == Some(&b'"') {
                i += 1;
                while !(input[i] == b'"' && input.get(i + 1) != Some(&b'"')) {
                    i += usize::from(input[i] == b'"');
                    field.push(input[i]);
                    i += 1;
                }
                i += 1;
            }
            while i < input.len() && !matches!(input[i], b',' | b'\n' | b'\r') {
                field.push(input[i]);
                i += 1;
            }
            row.push(field);
            if input.get(i) != Some(&b',') {
                break;
            }
            i += 1;
        }
        match input.get(i) {
            Some(b'\r') if input.get(i + 1) == Some(&b'\n') => i += 2,
            Some(_) => i += 1,
            None => {}
        }
        if !(row.len() == 1 && row[0].is_empty() && !first_quoted) {
            rows.push(row);
        }
    }
    let mut out = Vec::new();
    for r in rows.iter().skip(1) {
        out.push(b'{');
        for (n, (k, v)) in rows[0].iter().zip(r).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            for s in [k, v] {
                out.push(b'"');
                out.extend(reference_escape(s));
                out.push(b'"');
                out.push(b':');
            }
            out.pop();
        }
        out.extend_from_slice(b"}\n");
    }
    out
}

/// A random CSV: `cols` columns, fields with every kind of content.
fn random_csv(rng: &mut u64, cols: usize) -> Vec<u8> {
    let pieces: [&str; 14] = [
        "plain",
        "x",
        ",",
        "\"",
        "\n",
        "\r\n",
        "\\",
        "\t",
        "\u{1}",
        "ü",
        "✓",
        "😀",
        "",
        "a much longer run of ordinary text crossing blocks",
    ];
    let mut out = Vec::new();
    if rand(rng, 4) == 0 {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    for r in 0..=rand(rng, 30) {
        for c in 0..cols {
            let mut f = String::new();
            if r == 0 {
                f = format!("k{c}");
            }
            for _ in 0..rand(rng, 6) {
                f.push_str(pieces[rand(rng, pieces.len() as u64) as usize]);
            }
            let must_quote = f.starts_with('"') || f.contains([',', '"', '\n', '\r']);
            if c > 0 {
                out.push(b',');
            }
            if must_quote || rand(rng, 3) == 0 {
                out.push(b'"');
                out.extend_from_slice(f.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            } else {
                out.extend_from_slice(f.as_bytes());
            }
        }
        match rand(rng, 8) {
            0 => out.extend_from_slice(b"\r\n"),
            1 => out.extend_from_slice(b"\n\n"),
            _ => out.push(b'\n'),
        }
    }
    if rand(rng, 3) == 0 && out.ends_with(b"\n") && !out.ends_with(b"\n\n") {
        out.pop(); // no final newline
    }
    out
}

#[test]
fn random_csv_matches_the_reference_for_any_chunking() {
    let mut rng = 0x0123_4567_89ab_cdef;
    for round in 0..400 {
        let cols = 1 + rand(&mut rng, 6) as usize;
        let csv = random_csv(&mut rng, cols);
        let expected = String::from_utf8(reference_convert(&csv)).unwrap();
        let show = String::from_utf8_lossy(&csv);
        assert_eq!(convert_chunks(&[&csv]).unwrap(), expected, "{show:?}");
        let size = 1 + rand(&mut rng, 40) as usize;
        let sizes = if round % 10 == 0 { 1 } else { size };
        // A byte-order mark is only recognised whole in the first chunk.
        let (bom, rest) = csv.split_at(if csv.starts_with(b"\xEF") { 3 } else { 0 });
        let chunks: Vec<&[u8]> = [bom].into_iter().chain(rest.chunks(sizes)).collect();
        assert_eq!(
            convert_chunks(&chunks).unwrap(),
            expected,
            "{show:?} by {sizes}"
        );
    }
}

#[test]
fn any_split_into_two_chunks_gives_the_same_output() {
    let mut rng = 0x5eed_0f59_1175_u64;
    for round in 0..60 {
        let csv = random_csv(&mut rng, 1 + round % 4);
        let expected = String::from_utf8(reference_convert(&csv)).unwrap();
        let start = if csv.starts_with(b"\xEF") { 3 } else { 0 };
        for at in start..=csv.len() {
            let (a, b) = csv.split_at(at);
            let got = convert_chunks(&[a, b]).unwrap();
            assert_eq!(
                got,
                expected,
                "{:?} split at {at}",
                String::from_utf8_lossy(&csv)
            );
        }
    }
}

/// Enough rows after the one under test that the fast path takes it.
fn filler(cols: usize) -> String {
    format!("{}\n", vec!["z"; cols].join(",")).repeat(20)
}

#[test]
fn fast_path_escapes_every_byte_at_every_offset() {
    let ascii = (0..0x80u8).map(|b| char::from(b).to_string());
    for piece in ascii.chain(["ü", "✓", "😀", "ключ"].map(String::from)) {
        for before in 0..=2 * BLOCK + 1 {
            let content = format!("{}{piece}{}", "a".repeat(before), "y".repeat(before % 7));
            let quoted = format!("\"{}\"", content.replace('"', "\"\""));
            let mut fields = vec![quoted];
            // Unquoted too, unless that makes it a delimiter, a line end or
            // an opening quote.
            let structural = matches!(piece.as_str(), "," | "\n" | "\r");
            if !(structural || before == 0 && piece == "\"") {
                fields.push(content.clone());
            }
            for field in fields {
                let csv = format!("h,k\nx,{field}\n{field},x\n{}", filler(2));
                let expected = String::from_utf8(reference_convert(csv.as_bytes())).unwrap();
                assert_eq!(
                    convert_chunks(&[csv.as_bytes()]).unwrap(),
                    expected,
                    "{csv:?}"
                );
            }
        }
    }
}

#[test]
fn errors_are_the_same_for_any_chunking() {
    // (columns, a bad row); each comes after good rows, one of them over
    // two lines, and before more, so that the fast path meets it first.
    let bad: [(usize, &[u8]); 7] = [
        (2, b"1,2,3"),
        (2, b"1"),
        (2, b"1,\"2\"x"),
        (2, b"ok,\xc3\x28"),
        (2, b"\"\xff\",2"),
        (1, b"\xf0\x9f\x98"),
        (2, b"\"1\n2\",\"open"),
    ];
    for (cols, row) in bad {
        let header = ["a", "b"][..cols].join(",");
        let good = [
            r#""two
lines""#,
            "x",
        ][..cols]
            .join(",");
        let mut csv = format!("{header}\r\n{good}\r\n{good}\n").into_bytes();
        csv.extend_from_slice(row);
        csv.extend_from_slice(format!("\n{}", filler(cols)).as_bytes());
        let whole = convert_chunks(&[&csv]).unwrap_err();
        for size in 1..=5 {
            let chunks: Vec<&[u8]> = csv.chunks(size).collect();
            assert_eq!(
                convert_chunks(&chunks).unwrap_err(),
                whole,
                "{csv:?} by {size}"
            );
        }
    }
}
