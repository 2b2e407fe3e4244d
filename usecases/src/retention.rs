//! Retention: a finished job, its input, output and log expire after the
//! team's retention (an operator's `retention_secs` on its quota) or the
//! operator's default. The sweep deletes objects first, then rows (each
//! leaving a tombstone, so the job answers `410 expired`), in batches,
//! without long locks; queued and running jobs are never swept. One
//! process sweeps at a time: [`sweep_if_ours`] takes the fleet's lease.

use crate::Result;
use agensium_domain::{Job, Team, now_to_the_millisecond};
use agensium_ports::Backends;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Jobs expired per batch (one list of objects each, one delete of rows).
const BATCH: u32 = 200;
/// The lease's name.
const LEASE: &str = "retention-sweep";

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Job rows deleted (tombstones left).
    pub jobs: u64,
    /// Objects deleted (inputs, outputs, logs).
    pub objects: u64,
}

/// How long `team`'s finished jobs are kept: its own retention, else
/// `default`; `None`: forever.
pub fn kept_for(team: &Team, default: Option<Duration>) -> Option<Duration> {
    team.quota
        .retention_secs
        .map(Duration::from_secs)
        .or(default)
}

/// Sweeps once if this process (`holder`) holds the fleet's sweep lease
/// (taken or renewed for `every` × 3); `None` when another process does.
pub async fn sweep_if_ours(
    b: &Backends,
    holder: &str,
    default: Option<Duration>,
    every: Duration,
) -> Result<Option<Swept>> {
    let now = now_to_the_millisecond();
    let until = now + chrono::Duration::from_std(every * 3).unwrap_or(chrono::Duration::MAX);
    if !b.meta.take_lease(LEASE, holder, now, until).await? {
        return Ok(None);
    }
    Ok(Some(sweep(b, default, now).await?))
}

/// Expires every team's jobs that finished before its retention, as of `now`.
pub async fn sweep(b: &Backends, default: Option<Duration>, now: DateTime<Utc>) -> Result<Swept> {
    let mut swept = Swept::default();
    for team in b.meta.list_teams().await? {
        let Some(keep) = kept_for(&team, default) else {
            continue;
        };
        let cutoff = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        loop {
            let epoch = DateTime::<Utc>::UNIX_EPOCH;
            let batch = b
                .meta
                .finished_jobs(&team.name, epoch, cutoff, None, BATCH)
                .await?;
            let more = batch.len() == BATCH as usize;
            swept.objects += delete_objects(b, &batch).await?;
            let ids: Vec<_> = batch.iter().map(|j| j.id).collect();
            swept.jobs += b.meta.expire_jobs(&ids, now).await?;
            if !more {
                break;
            }
        }
    }
    if swept.jobs > 0 {
        tracing::info!(
            jobs = swept.jobs,
            objects = swept.objects,
            "expired jobs swept"
        );
    }
    Ok(swept)
}

/// Every object of `jobs` (input, outputs, logs), before their rows go.
async fn delete_objects(b: &Backends, jobs: &[Job]) -> Result<u64> {
    let mut deleted = 0;
    for job in jobs {
        for key in b.objects.list(&job.id.objects_prefix()).await? {
            b.objects.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}
