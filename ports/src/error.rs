//! The cause of a backend failure, kept whole.

use std::error::Error;
use std::fmt;

/// Any error, boxed.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// What a backend (a driver, the filesystem, an SDK) said when it failed.
///
/// The original error is kept ([`BackendError::inner`], for downcasting);
/// `Display` shows it and [`Error::source`] goes on with *its* source, so an
/// error chain names every cause once.
#[derive(Debug)]
pub struct BackendError(BoxError);

impl BackendError {
    /// Wraps an error, or a message (`&str`, `String`).
    pub fn new(e: impl Into<BoxError>) -> Self {
        Self(e.into())
    }

    /// The original error.
    pub fn inner(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for BackendError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_original_error() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = BackendError::new(io);
        assert_eq!(e.to_string(), "refused");
        let kind = e
            .inner()
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        assert_eq!(kind, Some(std::io::ErrorKind::ConnectionRefused));
    }
}
