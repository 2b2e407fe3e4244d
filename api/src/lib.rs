//! The Agensium API (the cashier): HTTP handlers over the ports of the
//! three backends, and the work an API process does beside them.
//!
//! * [`app`] builds the axum router over the three backends; [`AppState`]
//!   (`state.rs`) is what its handlers share.
//! * every `/v1` route authenticates its caller (`auth.rs`: a Bearer API
//!   key → team and role) and shows a team only what is its own or public.
//! * beside the handlers: the acceptor's flushers
//!   (`agensium_usecases::accept::Acceptor::new` starts them) and the subscription to job
//!   ends ([`finishes::Finishes::start`]), started as the state is built;
//!   the webhook dispatcher ([`webhooks::Webhooks::run`]), which the
//!   `agensium` application crate starts when it serves this router.
//!
//! The application crate wires the backends, serves this router and starts
//! the workers.

pub mod admission;
pub mod app;
mod auth;
mod control;
mod error;
pub mod fair;
pub mod finishes;
mod follow;
mod forms;
mod golden;
pub mod holds;
mod jobs;
mod keys;
mod limited;
mod links;
mod lookup;
pub mod openapi;
mod processors;
mod rate;
mod request_span;
mod result_headers;
mod schemas;
mod shapes;
pub mod shares;
mod state;
mod teams;
pub mod telemetry;
mod ui;
mod views;
mod waiting;
mod webhook_secret;
pub mod webhooks;

pub use app::router;
pub use error::ApiError;
pub use rate::SubmitLimiter;
pub use state::{ApiLimits, AppState};
