//! The rules of the business, one home each: what may be done to a job, a
//! team or a key, by whom, and what it changes in the ports. Transports
//! (the HTTP API, the CLI) parse a request, call one use case and map its
//! [`Refusal`] or result to their own answer; they never decide these
//! things themselves.
//!
//! Every use case asks [`agensium_domain::authorize`] before it acts and
//! reads or writes the ports it is given, nothing else.

pub mod accept;
mod authenticate;
pub mod jobs;
pub mod keys;
pub mod listing;
pub mod processors;
pub mod readiness;
mod refusal;
pub mod results;
pub mod retention;
pub mod submit;
pub mod teams;
pub mod tenancy;
pub mod trace_context;
pub mod work;

pub use authenticate::authenticate;
pub use refusal::{Refusal, Result};
