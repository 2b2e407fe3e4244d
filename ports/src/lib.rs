//! The ports of Agensium's three backends, and the adapters that need
//! nothing installed.
//!
//! * [`ObjectStore`] — the warehouse: inputs, outputs and processor binaries,
//!   always streamed, never held whole in memory.
//! * [`MetaStore`] — the source of truth for processors and jobs. It
//!   includes three more ports of the same store: [`TenantStore`] (teams,
//!   keys and processor ownership), [`ArtifactLedger`] (the digest of every
//!   precompiled artifact) and [`CallbackStore`] (webhook deliveries).
//! * [`Rail`] — the ticket rail that hands queued jobs to workers.
//!
//! The object store and the rail have an embedded adapter here
//! ([`LocalDirStore`], [`MemoryRail`]), the metadata store in
//! `agensium-sqlite`, so that a single process runs with no configuration;
//! the production adapters live in crates of their own (`agensium-mysql`,
//! `agensium-redis`, `agensium-s3`). Every adapter of a
//! port passes the same suite (`agensium-testkit`).

pub mod artifacts;
pub mod cached;
mod cached_meta;
pub mod callbacks;
mod error;
mod local_store;
mod memory_rail;
pub mod meta;
pub mod object_store;
pub mod pieces;
pub mod rail;
pub mod reconcile;
pub mod segments;
pub mod sql;
pub mod tenants;

pub use artifacts::ArtifactLedger;
pub use cached_meta::CachedMeta;
pub use callbacks::{AttemptRecord, CallbackStore, DueCallback};
pub use error::{BackendError, BoxError};
pub use local_store::LocalDirStore;
pub use memory_rail::MemoryRail;
pub use meta::{
    Catalog, Finish, JobBody, JobFilter, JobStore, MetaError, MetaStore, NewJob, PutVersion,
    StartedJob,
};
pub use object_store::{ByteStream, ObjectStore, StoreError};
pub use rail::{Rail, RailError, Signal, Ticket};
pub use tenants::{TeamBacklog, TenantStore};

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
