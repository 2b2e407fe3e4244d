//! Native throughput of the converter, for comparison with the Wasm build:
//! `cargo run --release --manifest-path plugins/Cargo.toml --example native -- FILE.csv`
use csv_to_jsonl::Converter;
use std::io::Read;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: native FILE.csv");
    let mut data = Vec::new();
    std::fs::File::open(&path)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let t = Instant::now();
    let mut conv = Converter::new(b',');
    let mut out = Vec::with_capacity(1 << 20);
    let mut written = 0usize;
    for chunk in data.chunks(256 * 1024) {
        conv.feed(chunk, &mut out).unwrap();
        written += out.len();
        out.clear();
    }
    conv.finish(&mut out).unwrap();
    written += out.len();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} rows, {} MB in, {} MB out, {:.2} s, {:.0} MB/s",
        conv.rows,
        data.len() / 1_000_000,
        written / 1_000_000,
        s,
        data.len() as f64 / 1e6 / s
    );
}
