//! The Agensium API (the cashier) and process startup.
//!
//! * [`app`] builds the axum router over the three backends.
//! * [`serve`] starts the embedded single-process system: API + workers on
//!   SQLite, a local directory and an in-process rail.

pub mod app;
mod control;
mod error;
mod golden;
mod jobs;
mod limited;
mod processors;
pub mod serve;
pub mod telemetry;
mod views;

pub use app::{ApiLimits, AppState, router};
pub use error::ApiError;
pub use serve::{ServeConfig, Server};
