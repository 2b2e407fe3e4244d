//! `agensium processor …` and `agensium job …`: a client of a running API,
//! for people (progress bars, tables) and scripts (`--json`, exit codes).
//! The API's errors are printed as their code and message. Text from the
//! API printed to a terminal is escaped (`terminal_safe`: no escape
//! sequence, control or bidi character of the API's reaches it); to a pipe
//! or file it is printed as it came, and `--json` output and a job's result
//! always are.

mod api;
mod job;
mod processor;
mod progress;

pub use api::Conn;
pub use job::JobCommand;
pub use processor::ProcessorCommand;

use anyhow::Result;
use std::process::ExitCode;

/// What to do against the API.
pub enum Request {
    /// `agensium processor …`.
    Processor(ProcessorCommand),
    /// `agensium job …`.
    Job(JobCommand),
}

/// Runs a client command. An API error prints `error: CODE: message` and
/// exits 1; a job that `--wait` saw fail exits 1 with its code.
pub async fn run(request: Request, conn: &Conn) -> Result<ExitCode> {
    let api = api::Api::new(conn)?;
    let outcome = match request {
        Request::Processor(c) => processor::run(c, &api).await,
        Request::Job(c) => job::run(c, &api).await,
    };
    match outcome {
        Ok(code) => Ok(code),
        Err(e) => {
            // Either may hold the API's text (an error's code and message).
            match e.downcast_ref::<api::ApiError>() {
                Some(api_error) => api::eprint_line(&format!("error: {api_error}")),
                None => api::eprint_line(&format!("error: {e:#}")),
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
