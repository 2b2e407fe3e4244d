//! The component glue: reads the input through the host, writes the JSON.

use crate::Counts;

wit_bindgen::generate!({ path: "../../wit", world: "processor" });

use agensium::processor::host;

struct Wordcount;

impl Guest for Wordcount {
    fn process(_params: Vec<(String, String)>) -> Result<Summary, Failure> {
        let mut counts = Counts::default();
        loop {
            let chunk = host::read(256 * 1024);
            if chunk.is_empty() {
                break;
            }
            counts.feed(&chunk);
        }
        host::write(counts.to_json().as_bytes());
        Ok(Summary {
            content_type: Some("application/json".into()),
            stats: vec![
                ("lines".into(), counts.lines.to_string()),
                ("words".into(), counts.words.to_string()),
                ("bytes".into(), counts.bytes.to_string()),
            ],
        })
    }
}

export!(Wordcount);
