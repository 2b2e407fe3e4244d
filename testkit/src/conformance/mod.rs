//! One conformance suite per port. Every adapter's tests call the suite of
//! its port, so all adapters of a port keep the same promises.
//!
//! The suites panic on the first broken promise, like any test.

pub mod callbacks;
pub mod catalog;
pub mod meta_store;
pub mod object_store;
pub mod rail;
pub mod tenants;
