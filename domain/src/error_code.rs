//! Failure codes: the one list of why a job can fail.

use crate::InvalidInput;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The longest code a processor may report.
pub const MAX_PROCESSOR_CODE: usize = 64;

/// Why a job failed, as a stable machine-readable code.
///
/// The host's own codes are variants; a processor's own code (its
/// `failure.code`) is [`ErrorCode::Processor`], kept only when it is a plain
/// `snake_case` word that is not one of the host's, so a processor can
/// never pass its failure off as the host's (say, `timeout`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ErrorCode {
    /// The wall-time limit was exceeded.
    Timeout,
    /// The fuel (deterministic CPU) limit was exhausted.
    FuelLimit,
    /// The processor grew its memory past the limit.
    MemoryLimit,
    /// The processor exhausted its stack.
    StackOverflow,
    /// The processor wrote more output than allowed.
    OutputLimit,
    /// The processor logged more than allowed.
    LogLimit,
    /// The processor trapped (panicked, hit `unreachable`, …).
    Trap,
    /// The processor returned a failure whose code is not usable as one.
    ProcessorError,
    /// The component could not be loaded: not a processor of this world.
    InvalidProcessor,
    /// The component's object is missing from the object store.
    ProcessorMissing,
    /// The component's object does not match its digest.
    ProcessorCorrupt,
    /// The job was cancelled on request.
    Cancelled,
    /// Infrastructure failures kept handing the job back; it gave up.
    MaxAttempts,
    /// The object store failed while the job streamed its input or output.
    /// Not the processor's fault: the attempt is handed back and retried.
    StorageUnavailable,
    /// The worker had no free sandbox instance (its pooling allocator was
    /// full). Not the processor's fault: the attempt is handed back.
    PoolExhausted,
    /// The processor's own code, e.g. `invalid_input`.
    Processor(String),
}

impl ErrorCode {
    /// The host's own codes, in the order the README lists them.
    pub const HOST: [ErrorCode; 15] = [
        Self::Timeout,
        Self::FuelLimit,
        Self::MemoryLimit,
        Self::StackOverflow,
        Self::OutputLimit,
        Self::LogLimit,
        Self::Trap,
        Self::ProcessorError,
        Self::InvalidProcessor,
        Self::ProcessorMissing,
        Self::ProcessorCorrupt,
        Self::Cancelled,
        Self::MaxAttempts,
        Self::StorageUnavailable,
        Self::PoolExhausted,
    ];

    /// The `snake_case` form used in the API and the databases.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Timeout => "timeout",
            Self::FuelLimit => "fuel_limit",
            Self::MemoryLimit => "memory_limit",
            Self::StackOverflow => "stack_overflow",
            Self::OutputLimit => "output_limit",
            Self::LogLimit => "log_limit",
            Self::Trap => "trap",
            Self::ProcessorError => "processor_error",
            Self::InvalidProcessor => "invalid_processor",
            Self::ProcessorMissing => "processor_missing",
            Self::ProcessorCorrupt => "processor_corrupt",
            Self::Cancelled => "cancelled",
            Self::MaxAttempts => "max_attempts",
            Self::StorageUnavailable => "storage_unavailable",
            Self::PoolExhausted => "pool_exhausted",
            Self::Processor(code) => code,
        }
    }

    /// True when a failure with this code ends the job: what the processor
    /// (or the user) did. False for infrastructure failures, which hand the
    /// attempt back to be retried with backoff.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::StorageUnavailable | Self::PoolExhausted)
    }

    /// One line for people: what the code means (the README's list).
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Timeout => "the version's wall-time limit was exceeded",
            Self::FuelLimit => "the version's fuel (deterministic CPU) budget ran out",
            Self::MemoryLimit => "the processor grew its memory past the limit",
            Self::StackOverflow => "the processor exhausted its stack",
            Self::OutputLimit => "the processor wrote more output than allowed",
            Self::LogLimit => "the processor logged more than allowed",
            Self::Trap => "the processor trapped (a panic, `unreachable`, …)",
            Self::ProcessorError => {
                "the processor failed with a code that is not a plain snake_case word, or is one of these"
            }
            Self::InvalidProcessor => "the component could not be loaded as a processor",
            Self::ProcessorMissing => "the component's object is missing from the object store",
            Self::ProcessorCorrupt => "the component's object does not match its digest",
            Self::Cancelled => "cancelled on request",
            Self::MaxAttempts => {
                "infrastructure failures kept handing the job back (the dead letter)"
            }
            Self::StorageUnavailable => {
                "never final: the object store failed mid-stream and the attempt was retried"
            }
            Self::PoolExhausted => {
                "never final: the worker had no free sandbox instance and the attempt was retried"
            }
            Self::Processor(_) => "the processor's own code",
        }
    }

    /// The code a processor reported, attributed: its own word when plain
    /// `snake_case` (at most [`MAX_PROCESSOR_CODE`] bytes) and not one of the
    /// host's codes, else [`ErrorCode::ProcessorError`].
    pub fn from_processor(code: &str) -> Self {
        if is_plain(code) && host_code(code).is_none() {
            Self::Processor(code.to_owned())
        } else {
            Self::ProcessorError
        }
    }
}

fn is_plain(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_PROCESSOR_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn host_code(code: &str) -> Option<ErrorCode> {
    ErrorCode::HOST.into_iter().find(|c| c.as_str() == code)
}

impl FromStr for ErrorCode {
    type Err = InvalidInput;
    /// Reads a stored code back: a host code, or a processor's plain code.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match host_code(s) {
            Some(c) => Ok(c),
            None if is_plain(s) => Ok(Self::Processor(s.to_owned())),
            None => Err(InvalidInput(format!("invalid error code {s:?}"))),
        }
    }
}

impl TryFrom<String> for ErrorCode {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ErrorCode> for String {
    fn from(c: ErrorCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job failed: a stable machine-readable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// The code, e.g. `timeout`, `memory_limit`, `trap`.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
}

impl JobError {
    /// The longest message kept, in bytes: a processor's message is cut
    /// here (at a character boundary) before it reaches a row or a log.
    pub const MAX_MESSAGE: usize = 4096;

    /// Builds an error from a code and a message (cut to [`Self::MAX_MESSAGE`]).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        crate::truncate_at_char_boundary(&mut message, Self::MAX_MESSAGE);
        Self { code, message }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in ErrorCode::HOST {
            assert_eq!(c.as_str().parse::<ErrorCode>().unwrap(), c);
        }
        assert_eq!(
            "invalid_input".parse::<ErrorCode>().unwrap(),
            ErrorCode::Processor("invalid_input".into())
        );
        assert!("Bad Code".parse::<ErrorCode>().is_err());
    }

    #[test]
    fn a_processor_cannot_pose_as_the_host() {
        assert_eq!(
            ErrorCode::from_processor("timeout"),
            ErrorCode::ProcessorError
        );
        assert_eq!(
            ErrorCode::from_processor("Oops!"),
            ErrorCode::ProcessorError
        );
        assert_eq!(ErrorCode::from_processor(""), ErrorCode::ProcessorError);
        let long = "a".repeat(MAX_PROCESSOR_CODE + 1);
        assert_eq!(ErrorCode::from_processor(&long), ErrorCode::ProcessorError);
        assert_eq!(
            ErrorCode::from_processor("bad_row"),
            ErrorCode::Processor("bad_row".into())
        );
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let e = JobError::new(ErrorCode::Trap, "é".repeat(JobError::MAX_MESSAGE));
        assert!(e.message.len() <= JobError::MAX_MESSAGE);
        assert!(e.message.len() > JobError::MAX_MESSAGE - 2);
    }

    #[test]
    fn only_infrastructure_codes_are_retried() {
        let retried: Vec<_> = ErrorCode::HOST
            .into_iter()
            .filter(|c| !c.is_final())
            .collect();
        assert_eq!(
            retried,
            [ErrorCode::StorageUnavailable, ErrorCode::PoolExhausted]
        );
        assert!(ErrorCode::Processor("x".into()).is_final());
    }

    /// The README's list of failure codes is this enum's list.
    #[test]
    fn readme_lists_every_code() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("<!-- error-codes -->")
            .expect("README has an <!-- error-codes --> list");
        let end = readme.find("<!-- /error-codes -->").expect("list ends");
        let listed = &readme[start..end];
        let want: String = ErrorCode::HOST
            .iter()
            .map(|c| {
                format!(
                    "| `{}` | {} | {} |\n",
                    c,
                    if c.is_final() { "yes" } else { "no" },
                    c.meaning()
                )
            })
            .collect();
        assert!(
            listed.ends_with(&want),
            "README's error-code table is out of date; it should read:\n{want}"
        );
    }
}
