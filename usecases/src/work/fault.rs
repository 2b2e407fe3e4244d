//! [`Fault`]: a backend failed under a lifecycle step. Not the processor's
//! doing: the worker hands the job back.

use agensium_ports::{MetaError, RailError, StoreError};

/// Which backend failed.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The metadata store.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The object store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rail.
    #[error(transparent)]
    Rail(#[from] RailError),
}
