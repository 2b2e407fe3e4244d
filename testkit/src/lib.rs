//! Test-only support, linked by tests and never by production code.
//!
//! * [`conformance`]: one suite per port; every adapter's tests run its
//!   port's suite, so all adapters of a port keep the same promises.
//! * [`testenv`]: the real MariaDB/MySQL, Redis and S3 servers for tests.

pub mod conformance;
pub mod testenv;
