//! Why a use case did not do what it was asked: [`Refusal`], with a stable
//! code a transport answers as it is (`job_not_found`, `job_finished`, …).

use agensium_domain::Denied;
use agensium_ports::{MetaError, StoreError};
use std::time::Duration;

/// A use case's outcome.
pub type Result<T> = std::result::Result<T, Refusal>;

/// Why a use case refused, or what failed under it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Nothing the caller may see by that name (missing or not visible).
    #[error("{message}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// The presented key may not act (unknown, wrong, revoked, expired, or
    /// of a disabled team).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller sees it but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing is not in a state that allows this.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// What the request names is gone for good.
    #[error("{message}")]
    Gone {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// The request is malformed or out of bounds.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Over a quota or rate for now: try again after `retry_after`.
    #[error("{message}")]
    TooMany {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// Something the use case needs is missing for now (randomness).
    #[error("{message}")]
    Unavailable {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Refusal {
    /// [`Refusal::NotFound`].
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// [`Refusal::Conflict`].
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// [`Refusal::Gone`].
    pub fn gone(code: &'static str, message: impl Into<String>) -> Self {
        Self::Gone {
            code,
            message: message.into(),
        }
    }

    /// [`Refusal::Invalid`].
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// A denial of [`agensium_domain::authorize`]: `hidden` when the
    /// caller may not see the thing, forbidden otherwise.
    pub fn denied(d: Denied, hidden: impl FnOnce() -> Self) -> Self {
        match d {
            Denied::Hidden => hidden(),
            Denied::Forbidden(why) => Self::Forbidden(why),
        }
    }
}
