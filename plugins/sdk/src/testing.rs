//! Run a processor natively, for `cargo test` on the host (no Wasm).
//!
//! ```ignore
//! let run = agensium_sdk::testing::run(my_processor, b"a b\n", &[("mode", "fast")]);
//! assert_eq!(run.output, b"...");
//! assert_eq!(run.result.unwrap().get("lines"), Some("1"));
//! ```

use crate::{Failure, Level, Processor, Summary};

/// What one native run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Everything the processor wrote.
    pub output: Vec<u8>,
    /// Its summary, or why it failed.
    pub result: Result<Summary, Failure>,
    /// The lines it logged.
    pub log: Vec<(Level, String)>,
}

impl Run {
    /// The output as UTF-8 (panics when it is not).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.output).expect("the output is UTF-8")
    }
}

/// Runs `processor` on `input` with `params`, exactly as a job does (the
/// same reads, writes, param checks and flush), in this thread.
pub fn run(processor: Processor, input: &[u8], params: &[(&str, &str)]) -> Run {
    use crate::sys::{JOB, NativeJob};
    let job = NativeJob {
        input: input.to_vec(),
        ..NativeJob::default()
    };
    /// Clears the thread's job even when the processor panics.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            JOB.take();
        }
    }
    let previous = JOB.replace(Some(job));
    assert!(previous.is_none(), "one native job per thread at a time");
    let _clear = Clear;
    let pairs = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let result = crate::sys::run_job(pairs, processor);
    let job = JOB.take().expect("the job is still there");
    Run {
        output: job.output,
        result,
        log: job.log,
    }
}

#[cfg(test)]
mod tests {
    use super::run;
    use crate::{Failure, Input, Level, Output, Params, Summary};
    use std::io::{BufRead, Read, Write};

    fn lines(params: &Params, input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
        let prefix: String = params.get_or("prefix", String::new())?;
        let times: u32 = params.require("times")?;
        let mut n = 0u64;
        for line in input.lines() {
            let line = line?;
            for _ in 0..times {
                writeln!(output, "{prefix}{line}")?;
            }
            n += 1;
        }
        crate::info!("{n} lines");
        Ok(Summary::new().content_type("text/plain").stat("lines", n))
    }

    #[test]
    fn params_input_output_and_log() {
        let r = run(lines, b"a\nb\n", &[("times", "2"), ("prefix", "> ")]);
        assert_eq!(r.text(), "> a\n> a\n> b\n> b\n");
        let s = r.result.unwrap();
        assert_eq!(s.get("lines"), Some("2"));
        assert_eq!(s.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.log, [(Level::Info, "2 lines".to_owned())]);
    }

    #[test]
    fn bad_or_missing_params_fail_naming_the_key() {
        let missing = run(lines, b"", &[]).result.unwrap_err();
        assert_eq!(missing.code, "invalid_params");
        assert!(missing.message.contains("\"times\""), "{missing}");
        let bad = run(lines, b"", &[("times", "many")]).result.unwrap_err();
        assert_eq!(bad.code, "invalid_params");
        assert!(bad.message.contains("\"times\" = \"many\""), "{bad}");
    }

    #[test]
    fn invalid_utf8_is_invalid_input() {
        let r = run(lines, b"\xff\n", &[("times", "1")]);
        assert_eq!(r.result.unwrap_err().code, "invalid_input");
    }

    fn copy(_: &Params, input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
        let mut buf = vec![0u8; 7919];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            output.write_all(&buf[..n])?;
        }
        let n = output.written();
        // A large write goes straight through, after what is buffered.
        output.write_all(&vec![b'z'; 300 * 1024])?;
        output.write_all(b"end")?;
        Ok(Summary::new().stat("copied", n))
    }

    #[test]
    fn large_inputs_stream_in_order_across_chunks() {
        let input: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let r = run(copy, &input, &[]);
        assert_eq!(r.result.unwrap().get("copied"), Some("1000000"));
        assert_eq!(&r.output[..input.len()], &input[..]);
        assert_eq!(r.output.len(), input.len() + 300 * 1024 + 3);
        assert!(r.output.ends_with(b"zzzend"));
    }

    #[test]
    fn a_panicking_processor_leaves_the_thread_usable() {
        fn boom(_: &Params, _: &mut Input, _: &mut Output) -> Result<Summary, Failure> {
            panic!("boom")
        }
        assert!(std::panic::catch_unwind(|| run(boom, b"", &[])).is_err());
        assert!(run(lines, b"x\n", &[("times", "1")]).result.is_ok());
    }
}
