//! The Agensium kitchen: processors run sandboxed in wasmtime.
//!
//! * [`engine`] runs one component on one input under limits: it knows
//!   nothing of jobs.
//! * [`worker`] is the job lifecycle: take a ticket, start the job under a
//!   lease, run it on the engine, record the outcome, and decide what
//!   becomes of the ticket (a [`worker::Disposition`]).
//!
//! This crate knows the domain and the ports only: never an adapter, never
//! the API.

pub mod engine;
pub mod worker;

pub use engine::{
    DEFAULT_INSTANCES, JobLog, LoadError, Loader, Metering, Outcome, OutputChunks, Processor, Run,
    Runtime, Source, ValidateError, bindings, compile_artifact,
};
