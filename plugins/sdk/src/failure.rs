//! Why a processor gave up on a job.

use std::fmt;

/// A failure: a short `snake_case` code and a message. The host keeps the
/// code when it is at most 64 bytes of `[a-z0-9_]` and not one of its own
/// (`timeout`, `trap`, …); otherwise the job fails with `processor_error`.
/// It keeps the first 4096 bytes of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Machine-readable, e.g. `invalid_input`.
    pub code: String,
    /// For people.
    pub message: String,
}

impl Failure {
    /// A failure with any code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `invalid_input`: the input is not what this processor reads.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("invalid_input", message)
    }

    /// `invalid_params`: a param is missing or malformed.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new("invalid_params", message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Failure {}

/// I/O errors reach a processor from decoders layered over [`crate::Input`]
/// (a corrupt gzip stream, invalid UTF-8 in `lines()`): the input is at
/// fault, so they become `invalid_input`. Reading the job's input and
/// writing its output never fail themselves.
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::invalid_input(e.to_string())
    }
}
