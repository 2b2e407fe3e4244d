//! The rail's side: take a ticket, ack it, give it back.

use super::Shift;
use agensium_domain::WorkerId;
use agensium_ports::{RailError, Ticket};
use std::time::Duration;

impl Shift {
    /// The next ticket for the slot `me`, waiting at most `wait`.
    pub async fn take(&self, me: &WorkerId, wait: Duration) -> Result<Option<Ticket>, RailError> {
        self.backends.rail.take(me, wait).await
    }

    /// The ticket's job needs it no more.
    pub async fn ack(&self, ticket: &Ticket) -> Result<(), RailError> {
        self.backends.rail.ack(ticket).await
    }

    /// The ticket goes back on the rail for any worker.
    pub async fn release(&self, ticket: &Ticket) -> Result<(), RailError> {
        self.backends.rail.release(ticket).await
    }
}
