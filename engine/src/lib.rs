//! The engine: run one component on one input, sandboxed, under limits.
//! It knows nothing of jobs, leases or tickets (that is `agensium-worker`):
//! the worker, the API's golden checks at admission and `agensium run` call
//! it alike, and the API links it without the worker.
//!
//! * [`Runtime`] owns the wasmtime engines, validates and (de)serializes
//!   components, and runs a component on an input, its output drained as
//!   it is written, into an [`Outcome`] ([`Runtime::run_draining`], the
//!   one way to run one).
//! * [`Loader`] keeps compiled processors per digest: memory, local
//!   artifact, stored artifact, compile.
//! * `sandbox` is one run's store: host functions, limits, and the
//!   classification of every way a run ends into an `ErrorCode`.

mod attributed;
pub mod bindings;
mod clocks;
mod host_fns;
mod joblog;
mod limiter;
mod loader;
mod run;
mod runtime;
mod sandbox;
mod screen;
mod state;

pub use clocks::RESOLUTION as CLOCK_RESOLUTION;
pub use joblog::{JobLog, Stream};
pub use loader::{LoadError, Loader, Source};
pub use run::OutputChunks;
pub use runtime::{
    DEFAULT_INSTANCES, Metering, PER_COMPONENT, PerComponent, Processor, Runtime, ValidateError,
    compile_artifact,
};
pub use sandbox::{OUTPUT_QUEUE, Outcome, Run};
