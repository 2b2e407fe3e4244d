//! Retention: a finished job, its input, output and log expire after the
//! team's retention (an operator's `retention_secs` on its quota) or the
//! operator's default. The sweep deletes objects first, then rows (each
//! leaving a tombstone, so the job answers `410 expired`), in batches,
//! without long locks; queued and running jobs are never swept. One
//! process sweeps at a time: [`sweep_if_ours`] takes the fleet's lease.

use crate::Result;
use agensium_domain::{InlineLimit, Job, JobStatus, Team, now_to_the_millisecond};
use agensium_ports::Backends;
use agensium_ports::segments::Segments;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use std::time::Duration;

/// Jobs expired per batch (one list of objects each, one delete of rows).
const BATCH: u32 = 200;
/// Jobs whose objects are deleted at once.
const IN_FLIGHT: usize = 16;
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
/// `default` is the operator's retention, `inline` what the job rows keep.
pub async fn sweep_if_ours(
    b: &Backends,
    holder: &str,
    (default, inline): (Option<Duration>, InlineLimit),
    every: Duration,
) -> Result<Option<Swept>> {
    let now = now_to_the_millisecond();
    let until = later(now, every.saturating_mul(3));
    if !b.meta.take_lease(LEASE, holder, now, until).await? {
        return Ok(None);
    }
    Ok(Some(sweep(b, (default, inline), now).await?))
}

/// Expires every team's jobs that finished before its retention, as of `now`.
pub async fn sweep(
    b: &Backends,
    (default, inline): (Option<Duration>, InlineLimit),
    now: DateTime<Utc>,
) -> Result<Swept> {
    let mut swept = Swept::default();
    for team in b.meta.list_teams().await? {
        let Some(keep) = kept_for(&team, default) else {
            continue;
        };
        // A retention longer than the calendar goes back: nothing is old enough.
        let Some(cutoff) = earlier(now, keep) else {
            continue;
        };
        loop {
            let epoch = DateTime::<Utc>::UNIX_EPOCH;
            let batch = b
                .meta
                .finished_jobs(&team.name, epoch, cutoff, None, BATCH)
                .await?;
            let more = batch.len() == BATCH as usize;
            swept.objects += delete_objects(b, &batch, inline).await?;
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

/// `at + d`, or the last instant there is when that is past it.
fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at - d`, unless that is before the first instant there is.
fn earlier(at: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
}

/// Every object of `jobs` (input, outputs, logs), before their rows go:
/// [`IN_FLIGHT`] jobs at a time (each a list, then its deletes at once).
async fn delete_objects(b: &Backends, jobs: &[Job], inline: InlineLimit) -> Result<u64> {
    // The futures made first: a stream mapping a closure over borrowed
    // jobs would not be `Send` for every lifetime the spawned task needs.
    let each: Vec<_> = jobs
        .iter()
        .map(|job| delete_job_objects(b, job, inline))
        .collect();
    let counts: Vec<u64> = futures::stream::iter(each)
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(counts.iter().sum())
}

async fn delete_job_objects(b: &Backends, job: &Job, inline: InlineLimit) -> Result<u64> {
    let keys = match known_keys(b, job, inline) {
        Some(keys) => keys,
        None => b.objects.list(&job.id.objects_prefix()).await?,
    };
    let deletes = keys.iter().map(|key| b.objects.delete(key));
    futures::future::try_join_all(deletes).await?;
    Ok(keys.len() as u64)
}

/// The keys a succeeded job's objects lie under, from its row: its input
/// and output unless they were kept inline (`inline`), the log of each
/// attempt (earlier attempts' outputs went when it succeeded). `None` for
/// a failed or cancelled job, whose attempts may have left partial output
/// the row does not size: those are listed.
fn known_keys(b: &Backends, job: &Job, inline: InlineLimit) -> Option<Vec<String>> {
    let output = job
        .output_bytes
        .filter(|_| job.status == JobStatus::Succeeded)?;
    let stored = |bytes: u64| !inline.keeps(usize::try_from(bytes).unwrap_or(usize::MAX));
    let mut keys: Vec<String> = (1..=job.attempts).map(|a| job.id.log_key(a)).collect();
    if stored(job.input_bytes) {
        keys.extend(Segments::input_of(b.objects.clone(), job.id).keys_of(job.input_bytes));
    }
    if stored(output) {
        let segments = Segments::output_of(b.objects.clone(), job.id, job.attempts);
        keys.extend(segments.keys_of(output));
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operator's retention or sweep interval of any size (both are
    /// numbers it types) is arithmetic, never a panic of the sweep task.
    #[test]
    fn huge_durations_neither_overflow_nor_panic() {
        let now = now_to_the_millisecond();
        let huge = Duration::from_secs(u64::MAX);
        assert_eq!(earlier(now, huge), None, "nothing is that old");
        assert_eq!(later(now, huge), DateTime::<Utc>::MAX_UTC);
        let day = Duration::from_secs(86_400);
        assert_eq!(earlier(now, day), Some(now - chrono::Duration::days(1)));
        assert_eq!(later(now, day), now + chrono::Duration::days(1));
    }
}
