//! The worker's side of a job's life, as named operations over the ports
//! (as Oban's engine names fetch, complete, error and snooze): take a
//! ticket, start its job under a lease (or give it back while its team is
//! at its running quota), keep the lease, read the input, write the
//! output, finish, give up, hand back, ack. The worker crate decides when;
//! these decide what each step changes, and nothing else touches the ports
//! for a worker.

mod fault;
mod finish;
mod quotas;
mod start;
mod streams;
mod tickets;
mod watch;

pub use fault::Fault;
pub use finish::Finished;
pub use start::Started;
pub use streams::Output;

use agensium_domain::InlineLimit;
use agensium_ports::Backends;
use std::time::Duration;

/// One worker process's access to the job lifecycle.
pub struct Shift {
    backends: Backends,
    quotas: quotas::TeamQuotas,
    lease: Duration,
    inline: InlineLimit,
}

impl Shift {
    /// Jobs on `backends`, started under leases of `lease`; outputs and
    /// logs up to `inline` are kept with the job row.
    pub fn new(backends: Backends, lease: Duration, inline: InlineLimit) -> Self {
        Self {
            backends,
            quotas: quotas::TeamQuotas::default(),
            lease,
            inline,
        }
    }

    /// How long a lease lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Outputs and logs up to this size are kept with the job row.
    pub fn inline(&self) -> InlineLimit {
        self.inline
    }
}
