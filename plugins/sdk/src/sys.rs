//! The three host calls (`read`, `write`, `log`): the Wasm imports in a
//! component, a per-thread job of [`crate::testing`] natively.

use crate::{Failure, Input, Output, Params, Processor, Summary};

/// Runs `f` on a job: params parsed, input and output streamed, the output
/// flushed when `f` returns.
pub(crate) fn run(pairs: Vec<(String, String)>, f: Processor) -> Result<Summary, Failure> {
    let params = Params::new(pairs);
    let mut input = Input::new();
    let mut output = Output::new();
    let result = f(&params, &mut input, &mut output);
    output.finish();
    result
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::agensium::processor::host;
    use crate::bindings::{Failure as WitFailure, Summary as WitSummary};
    use crate::{Level, Processor};

    pub fn read(max: u32) -> Vec<u8> {
        host::read(max)
    }

    pub fn write(data: &[u8]) {
        host::write(data);
    }

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => host::Level::Debug,
            Level::Info => host::Level::Info,
            Level::Warn => host::Level::Warn,
            Level::Error => host::Level::Error,
        };
        host::log(level, message);
    }

    /// The component's `process`, as [`crate::processor!`] exports it.
    pub fn run_job(params: Vec<(String, String)>, f: Processor) -> Result<WitSummary, WitFailure> {
        match super::run(params, f) {
            Ok(s) => Ok(WitSummary {
                content_type: s.content_type,
                stats: s.stats,
            }),
            Err(e) => Err(WitFailure {
                code: e.code,
                message: e.message,
            }),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::Level;
    use std::cell::RefCell;

    /// The job a native test runs: its input, what it wrote and logged.
    #[derive(Default)]
    pub struct NativeJob {
        pub input: Vec<u8>,
        pub at: usize,
        pub output: Vec<u8>,
        pub log: Vec<(Level, String)>,
    }

    thread_local! {
        pub static JOB: RefCell<Option<NativeJob>> = const { RefCell::new(None) };
    }

    fn with<T>(f: impl FnOnce(&mut NativeJob) -> T) -> T {
        JOB.with_borrow_mut(|j| {
            f(j.as_mut()
                .expect("no job: run processors natively with agensium_sdk::testing::run"))
        })
    }

    pub fn read(max: u32) -> Vec<u8> {
        with(|j| {
            let end = j.input.len().min(j.at + max as usize);
            let chunk = j.input[j.at..end].to_vec();
            j.at = end;
            chunk
        })
    }

    pub fn write(data: &[u8]) {
        with(|j| j.output.extend_from_slice(data));
    }

    pub fn log(level: Level, message: &str) {
        with(|j| j.log.push((level, message.to_owned())));
    }
}

pub(crate) use imp::{log, read, write};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use imp::{JOB, NativeJob};

#[cfg(target_arch = "wasm32")]
pub use imp::run_job;

/// Native builds have no component to export: [`crate::processor!`]
/// expands to nothing there.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_job(params: Vec<(String, String)>, f: Processor) -> Result<Summary, Failure> {
    run(params, f)
}
