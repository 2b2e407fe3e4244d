//! The Agensium API (the cashier): HTTP handlers over the three ports.
//!
//! * [`app`] builds the axum router over the three backends.
//! * every `/v1` route authenticates its caller (`auth.rs`: a Bearer API
//!   key → team and role) and shows a team only what is its own or public.
//!
//! It starts nothing: the `agensium` application crate wires the backends,
//! starts the workers and serves this router.

pub mod accept;
pub mod admission;
pub mod app;
mod auth;
pub mod cache;
mod control;
mod error;
pub mod finishes;
mod follow;
mod golden;
pub mod fair;
pub mod holds;
mod jobs;
mod keys;
mod limited;
mod links;
pub mod openapi;
mod processors;
mod rate;
mod result_headers;
mod shapes;
pub mod shares;
mod teams;
pub mod telemetry;
mod ui;
mod views;
mod waiting;
mod webhook_secret;
pub mod webhooks;

pub use app::{ApiLimits, AppState, router};
pub use error::ApiError;
pub use rate::SubmitLimiter;
