//! The component glue: streams the input through the converter.

use crate::Converter;

wit_bindgen::generate!({ path: "../../wit", world: "processor" });

use agensium::processor::host;

const READ: u32 = 256 * 1024;
const FLUSH_AT: usize = 256 * 1024;

struct CsvToJsonl;

fn invalid(message: String) -> Failure {
    Failure {
        code: "invalid_input".into(),
        message,
    }
}

impl Guest for CsvToJsonl {
    fn process(params: Vec<(String, String)>) -> Result<Summary, Failure> {
        let mut delim = b',';
        for (k, v) in &params {
            match (k.as_str(), v.as_bytes()) {
                ("delimiter", [b]) if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => {
                    delim = *b
                }
                ("delimiter", _) => {
                    return Err(invalid(format!("bad delimiter {v:?}: one ASCII character")));
                }
                _ => host::log(host::Level::Warn, &format!("unknown param {k:?} ignored")),
            }
        }
        let mut conv = Converter::new(delim);
        let mut out = Vec::with_capacity(FLUSH_AT * 2);
        loop {
            let chunk = host::read(READ);
            if chunk.is_empty() {
                break;
            }
            conv.feed(&chunk, &mut out).map_err(|e| invalid(e.0))?;
            if out.len() >= FLUSH_AT {
                host::write(&out);
                out.clear();
            }
        }
        conv.finish(&mut out).map_err(|e| invalid(e.0))?;
        host::write(&out);
        Ok(Summary {
            content_type: Some("application/x-ndjson".into()),
            stats: vec![
                ("rows".into(), conv.rows.to_string()),
                ("columns".into(), conv.columns().to_string()),
            ],
        })
    }
}

export!(CsvToJsonl);
