//! The Agensium kitchen: runs processors sandboxed in wasmtime.
//!
//! * [`Runtime`] owns the wasmtime engine, validates components, keeps one
//!   pre-instantiated component per digest and runs jobs under limits.
//! * [`worker`] takes tickets from the rail and drives jobs to a final state.
//!
//! This crate knows the domain and the ports only: never an adapter, never the API.

pub mod bindings;
mod joblog;
mod limiter;
mod loader;
mod runtime;
mod sandbox;
pub mod worker;

pub use joblog::JobLog;
pub use loader::{LoadError, Loader, Source};
pub use runtime::{Metering, Processor, Runtime, ValidateError};
pub use sandbox::{Outcome, RunRequest};
