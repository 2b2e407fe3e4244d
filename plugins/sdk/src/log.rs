//! The job's log.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detail for debugging a processor.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that the processor recovered from.
    Warn,
    /// Something failed.
    Error,
}

/// Appends a line to the job's log. The log is bounded (the version's
/// `log_kib`): past it the host stops the processor with `log_limit`.
pub fn log(level: Level, message: &str) {
    crate::sys::log(level, message);
}

/// Logs a formatted line at `debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs a formatted line at `info`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log($crate::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs a formatted line at `warn`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs a formatted line at `error`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log($crate::Level::Error, &::std::format!($($arg)*)) };
}
