use crate::Converter;

fn convert_chunks(chunks: &[&[u8]]) -> Result<String, String> {
    let mut c = Converter::new(b',');
    let mut out = Vec::new();
    for ch in chunks {
        c.feed(ch, &mut out).map_err(|e| e.0)?;
    }
    c.finish(&mut out).map_err(|e| e.0)?;
    Ok(String::from_utf8(out).unwrap())
}

fn convert(input: &str) -> Result<String, String> {
    convert_chunks(&[input.as_bytes()])
}

#[test]
fn simple_rows() {
    assert_eq!(
        convert("a,b\n1,2\n3,4\n").unwrap(),
        "{\"a\":\"1\",\"b\":\"2\"}\n{\"a\":\"3\",\"b\":\"4\"}\n"
    );
    assert_eq!(
        convert("a,b\r\n1,2\r\n").unwrap(),
        "{\"a\":\"1\",\"b\":\"2\"}\n"
    );
    assert_eq!(
        convert("a,b\n1,2").unwrap(),
        "{\"a\":\"1\",\"b\":\"2\"}\n",
        "no final newline"
    );
    assert_eq!(convert("a\n").unwrap(), "");
    assert_eq!(convert("").unwrap(), "");
}

#[test]
fn rfc4180_quoting() {
    let csv = "name,quote\n\"Smith, J\",\"He said \"\"hi\"\"\nand left\"\n";
    assert_eq!(
        convert(csv).unwrap(),
        "{\"name\":\"Smith, J\",\"quote\":\"He said \\\"hi\\\"\\nand left\"}\n"
    );
    assert_eq!(
        convert("a,b\n\"\",x\n").unwrap(),
        "{\"a\":\"\",\"b\":\"x\"}\n"
    );
    assert_eq!(
        convert("a\n\"\"\n").unwrap(),
        "{\"a\":\"\"}\n",
        "a quoted empty field is a row"
    );
    assert_eq!(convert("a,b\n,\n").unwrap(), "{\"a\":\"\",\"b\":\"\"}\n");
}

#[test]
fn escapes_bom_blank_lines_unicode() {
    assert_eq!(
        convert("\u{feff}k\n\tv\\\u{1}\n").unwrap(),
        "{\"k\":\"\\tv\\\\\\u0001\"}\n"
    );
    assert_eq!(convert("k\n\nx\n\n").unwrap(), "{\"k\":\"x\"}\n");
    assert_eq!(
        convert("ключ\nзначение ✓\n").unwrap(),
        "{\"ключ\":\"значение ✓\"}\n"
    );
}

#[test]
fn errors() {
    assert!(
        convert("a,b\n1\n")
            .unwrap_err()
            .contains("1 fields, the header has 2")
    );
    assert!(convert("a\n\"open\n").unwrap_err().contains("unterminated"));
    assert!(
        convert("a\n\"x\"y\n")
            .unwrap_err()
            .contains("after a closing quote")
    );
    assert!(convert("a,a\n").unwrap_err().contains("duplicate"));
    assert!(
        convert_chunks(&[b"a\n\xff\n"])
            .unwrap_err()
            .contains("UTF-8")
    );
}

#[test]
fn any_chunking_gives_the_same_output() {
    let csv = "id,text,n\r\n1,\"multi\nline, with \"\"quotes\"\"\",3\r\n2,plain,4\r\n3,\"\",5";
    let whole = convert(csv).unwrap();
    assert_eq!(whole.lines().count(), 3);
    let b = csv.as_bytes();
    for size in 1..=7 {
        let chunks: Vec<&[u8]> = b.chunks(size).collect();
        assert_eq!(convert_chunks(&chunks).unwrap(), whole, "chunk size {size}");
    }
}

#[test]
fn other_delimiter() {
    let mut c = Converter::new(b';');
    let mut out = Vec::new();
    c.feed(b"a;b\n1,5;2\n", &mut out).unwrap();
    c.finish(&mut out).unwrap();
    assert_eq!(out, b"{\"a\":\"1,5\",\"b\":\"2\"}\n");
}

mod escape;

#[test]
fn as_a_job() {
    use agensium_sdk::testing::run;
    let r = run(
        crate::csv_to_jsonl,
        b"a;b\n1;2\n",
        &[("delimiter", ";"), ("colour", "red")],
    );
    assert_eq!(r.text(), "{\"a\":\"1\",\"b\":\"2\"}\n");
    let s = r.result.unwrap();
    assert_eq!(s.get("rows"), Some("1"));
    assert_eq!(s.content_type.as_deref(), Some("application/x-ndjson"));
    assert!(
        r.log[0].1.contains("unknown param \"colour\""),
        "{:?}",
        r.log
    );
    let bad = run(crate::csv_to_jsonl, b"a\n", &[("delimiter", "::")]);
    assert_eq!(bad.result.unwrap_err().code, "invalid_input");
    let ragged = run(crate::csv_to_jsonl, b"a,b\n1\n", &[]);
    assert_eq!(ragged.result.unwrap_err().code, "invalid_input");
}
