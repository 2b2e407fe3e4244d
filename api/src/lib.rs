//! The Agensium API (the cashier): HTTP handlers over the three ports.
//!
//! * [`app`] builds the axum router over the three backends.
//!
//! It starts nothing: the `agensium` application crate wires the backends,
//! starts the workers and serves this router.

pub mod app;
mod control;
mod error;
mod golden;
mod jobs;
mod limited;
mod processors;
pub mod telemetry;
mod views;

pub use app::{ApiLimits, AppState, router};
pub use error::ApiError;
