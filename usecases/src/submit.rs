//! Submitting a job, up to its acceptance ([`crate::accept`]): the version
//! it pins, the quota it must fit, the largest input it takes, and where
//! that input goes.

use crate::{Result, jobs, processors};
use agensium_domain::{Caller, InlineLimit, JobId, ProcessorName, ProcessorVersion, Team};
use agensium_ports::object_store::{Small, read_small};
use agensium_ports::segments::Segments;
use agensium_ports::{Backends, ByteStream, StoreError};
use bytes::Bytes;

/// A submission that may go ahead: what it pins and how much it may send.
#[derive(Debug)]
pub struct Cleared {
    /// The version the job pins.
    pub version: ProcessorVersion,
    /// The largest input it takes: the operator's, the version's and the
    /// team's limits, the least of them.
    pub input_limit: u64,
}

/// Clears a submission by `caller` (of `team`) against `name` at
/// `version` (default: the latest), before a byte of its input is read:
/// the processor visible, the version not yanked, the team under its
/// queued-jobs quota. `max_upload` is the operator's input limit.
pub async fn clear(
    b: &Backends,
    (caller, team): (&Caller, &Team),
    name: &ProcessorName,
    version: Option<&str>,
    max_upload: u64,
) -> Result<Cleared> {
    let meta = b.meta.as_ref();
    let pv = processors::resolve(meta, caller, name, version).await?;
    jobs::check_queued_quota(meta, team).await?;
    let input_limit = [
        pv.limits.input_mib.map(|mib| mib.saturating_mul(1 << 20)),
        team.quota.max_input_bytes,
    ]
    .into_iter()
    .flatten()
    .fold(max_upload, u64::min);
    Ok(Cleared {
        version: pv,
        input_limit,
    })
}

/// Stores job `id`'s input: a small one is answered to go into the job
/// row, a larger one is stored as the job's input segments; its size
/// either way. A failed store leaves what it wrote to the acceptor's
/// cleanup (the job is not accepted).
pub async fn store_input(
    b: &Backends,
    id: JobId,
    input: ByteStream,
    inline: InlineLimit,
) -> std::result::Result<(u64, Option<Bytes>), StoreError> {
    match read_small(input, inline).await.map_err(StoreError::Body)? {
        Small::Whole(bytes) => Ok((bytes.len() as u64, Some(bytes))),
        Small::Large(rest) => {
            let n = Segments::input_of(b.objects.clone(), id).put(rest).await?;
            Ok((n, None))
        }
    }
}
