//! Agensium's domain types and its three backend ports.
//!
//! * [`ObjectStore`] — the warehouse: inputs, outputs and processor binaries,
//!   always streamed, never held whole in memory.
//! * [`MetaStore`] — the source of truth for processors and jobs.
//! * [`Rail`] — the ticket rail that hands queued jobs to workers.
//!
//! Each port has an embedded adapter here ([`LocalDirStore`],
//! [`SqliteMetaStore`], [`MemoryRail`]) so that a single process runs with no
//! configuration. Every adapter of a port must pass the same suite in
//! [`conformance`].

pub mod conformance;
mod connect;
mod local_store;
mod memory_rail;
pub mod meta;
mod model;
mod mysql;
pub mod object_store;
pub mod rail;
pub mod reconcile;
mod redis_rail;
mod s3_store;
mod sqlite;
#[doc(hidden)]
pub mod testenv;

pub use connect::{BackendConfig, ConnectError, redact};
pub use local_store::LocalDirStore;
pub use memory_rail::MemoryRail;
pub use meta::{Finish, MetaError, MetaStore, PutVersion};
pub use model::*;
pub use mysql::MySqlMetaStore;
pub use object_store::{ByteStream, ObjectStore, StoreError};
pub use rail::{Rail, RailError, Ticket};
pub use redis_rail::{RedisRail, RedisRailConfig};
pub use s3_store::{S3Config, S3Store};
pub use sqlite::SqliteMetaStore;

use std::sync::Arc;

/// The three backends a process works with.
#[derive(Clone)]
pub struct Backends {
    /// Processors and jobs: the truth.
    pub meta: Arc<dyn MetaStore>,
    /// Inputs, outputs, logs and processor binaries.
    pub objects: Arc<dyn ObjectStore>,
    /// Tickets for queued jobs.
    pub rail: Arc<dyn Rail>,
}
