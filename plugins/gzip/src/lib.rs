//! `gzip`: compresses the input into gzip (`mode=compress`, the default;
//! `level` 0–9, default 6) or decompresses a gzip input (`mode=decompress`;
//! concatenated members are read as one stream, like `gunzip`). Streams
//! both ways in constant memory (pure Rust: flate2 on miniz_oxide).
//!
//! Output: `application/gzip` or `application/octet-stream`. Fails with
//! `invalid_input` on a corrupt or truncated gzip stream, `invalid_params`
//! on a bad `mode` or `level`.

use agensium_sdk::{Failure, Input, Output, Params, Summary};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use std::io::{self, Write};

/// The processor.
pub fn gzip(params: &Params, input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
    params.warn_unknown(&["mode", "level"]);
    match params.str("mode").unwrap_or("compress") {
        "compress" => compress(params.get_or("level", 6u32)?, input, output),
        "decompress" => decompress(input, output),
        other => Err(Failure::invalid_params(format!(
            "param \"mode\" = {other:?}: compress or decompress"
        ))),
    }
}

fn compress(level: u32, input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
    if level > 9 {
        return Err(Failure::invalid_params(format!(
            "param \"level\" = {level}: 0 to 9"
        )));
    }
    let mut encoder = GzEncoder::new(output, Compression::new(level));
    let read = io::copy(input, &mut encoder)?;
    let output = encoder.finish()?;
    output.flush()?;
    Ok(Summary::new()
        .content_type("application/gzip")
        .stat("bytes_in", read)
        .stat("bytes_out", output.written()))
}

fn decompress(input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
    let mut decoder = MultiGzDecoder::new(input);
    let written = io::copy(&mut decoder, output)
        .map_err(|e| Failure::invalid_input(format!("not a valid gzip stream: {e}")))?;
    Ok(Summary::new()
        .content_type("application/octet-stream")
        .stat("bytes_out", written))
}

agensium_sdk::processor!(gzip);

#[cfg(test)]
mod tests {
    use super::gzip;
    use agensium_sdk::testing::run;
    use std::io::Read;

    fn text() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| format!("line {i} of a compressible text\n").into_bytes())
            .collect()
    }

    #[test]
    fn round_trips_and_matches_a_standard_decoder() {
        let input = text();
        let packed = run(gzip, &input, &[("level", "9")]);
        let summary = packed.result.unwrap();
        assert!(packed.output.len() < input.len() / 10, "compressed");
        assert_eq!(
            summary.get("bytes_in"),
            Some(input.len().to_string().as_str())
        );
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&packed.output[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, input);
        let unpacked = run(gzip, &packed.output, &[("mode", "decompress")]);
        assert!(unpacked.result.is_ok());
        assert_eq!(unpacked.output, input);
    }

    #[test]
    fn concatenated_members_decompress_as_one_stream() {
        let a = run(gzip, b"first\n", &[]).output;
        let b = run(gzip, b"second\n", &[]).output;
        let r = run(gzip, &[a, b].concat(), &[("mode", "decompress")]);
        assert_eq!(r.text(), "first\nsecond\n");
    }

    #[test]
    fn bad_input_and_params_fail_with_their_codes() {
        let corrupt = run(gzip, b"not gzip at all", &[("mode", "decompress")]);
        assert_eq!(corrupt.result.unwrap_err().code, "invalid_input");
        let packed = run(gzip, &text(), &[]).output;
        let truncated = run(gzip, &packed[..packed.len() / 2], &[("mode", "decompress")]);
        assert_eq!(truncated.result.unwrap_err().code, "invalid_input");
        for (k, v) in [("mode", "zip"), ("level", "11"), ("level", "high")] {
            let r = run(gzip, b"x", &[(k, v)]);
            assert_eq!(r.result.unwrap_err().code, "invalid_params", "{k}={v}");
        }
    }
}
