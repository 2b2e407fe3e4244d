//! A team's usage, added up per day from its finished jobs: what an
//! operator charges back.

use crate::{Job, JobStatus};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// Jobs of one day by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed.
    pub failed: u64,
    /// Jobs that were cancelled.
    pub cancelled: u64,
}

/// What a team used on one day (UTC), counted by when its jobs finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DayUsage {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Finished jobs by outcome.
    pub jobs: Outcomes,
    /// Processor wall time of the jobs' last attempts, in milliseconds.
    pub wall_ms: u64,
    /// Fuel consumed by metered jobs.
    pub fuel: u64,
    /// The highest peak linear memory of any job, in bytes.
    pub peak_memory_bytes: u64,
    /// Input bytes of the jobs.
    pub bytes_in: u64,
    /// Output bytes of the jobs that succeeded.
    pub bytes_out: u64,
}

impl DayUsage {
    fn add(&mut self, j: &Job) {
        match j.status {
            JobStatus::Succeeded => self.jobs.succeeded += 1,
            JobStatus::Failed => self.jobs.failed += 1,
            JobStatus::Cancelled => self.jobs.cancelled += 1,
            JobStatus::Queued | JobStatus::Running => return,
        }
        if let Some(u) = &j.usage {
            self.wall_ms = self.wall_ms.saturating_add(u.wall_time_ms);
            self.fuel = self.fuel.saturating_add(u.fuel_consumed.unwrap_or(0));
            self.peak_memory_bytes = self.peak_memory_bytes.max(u.peak_memory_bytes);
        }
        self.bytes_in = self.bytes_in.saturating_add(j.input_bytes);
        self.bytes_out = self.bytes_out.saturating_add(j.output_bytes.unwrap_or(0));
    }
}

/// Usage per day, added to job by job.
#[derive(Debug, Default)]
pub struct UsageReport {
    days: BTreeMap<NaiveDate, DayUsage>,
}

impl UsageReport {
    /// Adds a finished job (others are ignored) to the day it finished.
    pub fn add(&mut self, job: &Job) {
        let Some(t) = job.finished_at else { return };
        let day = t.date_naive();
        self.days
            .entry(day)
            .or_insert_with(|| DayUsage {
                day: day.to_string(),
                ..DayUsage::default()
            })
            .add(job);
    }

    /// The days with any finished job, oldest first.
    pub fn days(self) -> Vec<DayUsage> {
        self.days.into_values().collect()
    }
}
