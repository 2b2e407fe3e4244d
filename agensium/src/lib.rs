//! The Agensium application: what runs in an `agensium` process.
//!
//! * [`settings`]: the one layered [`Settings`] (defaults < config file <
//!   environment < flags) every subcommand reads, and the [`Role`] it plays.
//! * [`connect`]: picks an adapter for each port from the settings and
//!   connects it; the only place that knows every adapter.
//! * [`bootstrap`]: the zero-setup admin key and `agensium admin`'s teams
//!   and keys, straight on the metadata store.
//! * [`serve`]: starts the API and/or the job slots, the reconciler and the
//!   health listener, and stops them gracefully.

pub mod bootstrap;
pub mod connect;
pub mod edge;
pub mod serve;
pub mod settings;

pub use connect::ConnectError;
pub use serve::{Server, start};
pub use settings::{Role, Settings};
