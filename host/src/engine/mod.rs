//! The engine: run one component on one input, sandboxed, under limits.
//! It knows nothing of jobs, leases or tickets (that is [`crate::worker`]).
//!
//! * [`Runtime`] owns the wasmtime engines, validates and (de)serializes
//!   components, and runs one [`RunRequest`] into an [`Outcome`].
//! * [`Loader`] keeps compiled processors per digest: memory, local
//!   artifact, stored artifact, compile.
//! * `sandbox` is one run's store: host functions, limits, and the
//!   classification of every way a run ends into an `ErrorCode`.

mod attributed;
pub mod bindings;
mod joblog;
mod limiter;
mod loader;
mod runtime;
mod sandbox;

pub use joblog::JobLog;
pub use loader::{LoadError, Loader, Source};
pub use runtime::{Metering, Processor, Runtime, ValidateError};
pub use sandbox::{Outcome, RunRequest};
