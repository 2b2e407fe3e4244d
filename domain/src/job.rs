//! Jobs: ids, rows and what an attempt used.

use crate::{
    Caller, DeclaredLimits, Digest, InvalidInput, JobError, JobStatus, KeyId, ProcessorName,
    ProcessorVersion, TeamName, WorkerId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A job's identifier: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(Uuid);

impl JobId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// An id made at `t` (tests, and ids made for a given time).
    pub fn at(t: std::time::SystemTime) -> Self {
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, d.as_secs(), d.subsec_nanos());
        Self(Uuid::new_v7(ts))
    }

    /// When the id was made (to the millisecond).
    pub fn created(&self) -> std::time::SystemTime {
        let (secs, nanos) = self.0.get_timestamp().map_or((0, 0), |t| t.to_unix());
        std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
    }

    /// Object-store folder of the job's input, stored as segments
    /// (`agensium_ports::segments`). Named apart from [`Self::input_key`],
    /// so that no key is both an object and a folder.
    pub fn input_prefix(&self) -> String {
        format!("jobs/{self}/in/")
    }

    /// Object-store key of the job's input as one object: how inputs were
    /// stored before segments; still read.
    pub fn input_key(&self) -> String {
        format!("jobs/{self}/input")
    }

    /// Object-store folder of the output of one attempt, stored as
    /// segments (`agensium_ports::segments`). Each attempt writes its own,
    /// so a late attempt never overwrites the result of the attempt that
    /// finished the job.
    pub fn output_prefix(&self, attempt: u32) -> String {
        format!("{}{attempt}/", self.segmented_outputs())
    }

    /// Object-store key of the output of one attempt as one object: how
    /// outputs were stored before segments; still read.
    pub fn output_key(&self, attempt: u32) -> String {
        format!("{}{attempt}", self.whole_outputs())
    }

    /// The attempt whose output `key` holds (a segment under
    /// [`Self::output_prefix`], or a whole [`Self::output_key`]); `None`
    /// for any other key.
    pub fn output_attempt(&self, key: &str) -> Option<u32> {
        let rest = key
            .strip_prefix(&self.segmented_outputs())
            .or_else(|| key.strip_prefix(&self.whole_outputs()))?;
        rest.split('/').next()?.parse().ok()
    }

    fn segmented_outputs(&self) -> String {
        format!("jobs/{self}/out/")
    }

    fn whole_outputs(&self) -> String {
        format!("jobs/{self}/output/")
    }

    /// The prefix of every object of the job (input, outputs, logs).
    pub fn objects_prefix(&self) -> String {
        format!("jobs/{self}")
    }

    /// The key prefix of every attempt's output, segmented (`out/`) or
    /// stored whole before segments (`output/`).
    pub fn outputs_prefix(&self) -> String {
        format!("jobs/{self}/out")
    }

    /// Object-store key of the log of one attempt.
    pub fn log_key(&self, attempt: u32) -> String {
        format!("jobs/{self}/log/{attempt}")
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for JobId {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| InvalidInput(format!("invalid job id {s:?}")))
    }
}

impl TryFrom<String> for JobId {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.to_string()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_hyphenated())
    }
}

/// A job's id and its team: what a ticket is pushed with (each team has
/// its own lane on the rail).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobRef {
    /// The job.
    pub id: JobId,
    /// Its team.
    pub team: TeamName,
}

/// What a job's last attempt used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Peak linear memory of the processor, in bytes.
    pub peak_memory_bytes: u64,
    /// Time spent instantiating and running `process`, in milliseconds.
    pub wall_time_ms: u64,
    /// Epoch ticks (10 ms each) the processor ran for.
    pub epoch_ticks: u64,
    /// Bytes the processor wrote as output.
    pub output_bytes: u64,
    /// Fuel consumed, when the job was metered (its version declared `fuel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_consumed: Option<u64>,
}

/// Key/value pairs, in order (job params, processor stats).
pub type Pairs = Vec<(String, String)>;

/// A job: one input run through one pinned processor version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// The team that submitted it: the only one (with operators) that sees it.
    pub team: TeamName,
    /// The key that submitted it.
    pub key_id: Option<KeyId>,
    /// Processor name.
    pub processor: ProcessorName,
    /// Processor version the job was submitted against.
    pub version: String,
    /// The exact component the job runs, pinned at submission.
    pub digest: Digest,
    /// Current status.
    pub status: JobStatus,
    /// Parameters handed to `process`.
    pub params: Pairs,
    /// Set when the job failed or was cancelled.
    pub error: Option<JobError>,
    /// How many times a worker started the job.
    pub attempts: u32,
    /// `attempts` when the job was last retried by a user: attempts beyond
    /// it count towards the worker's `max_attempts`.
    #[serde(default)]
    pub attempt_base: u32,
    /// The worker that runs (or last ran) the job.
    pub worker: Option<WorkerId>,
    /// What the last finished attempt used.
    pub usage: Option<Usage>,
    /// The version's declared limits, pinned at submission.
    pub limits: DeclaredLimits,
    /// Size of the input in bytes.
    pub input_bytes: u64,
    /// Size of the output in bytes, once succeeded.
    pub output_bytes: Option<u64>,
    /// Media type of the output reported by the processor.
    pub content_type: Option<String>,
    /// Statistics reported by the processor.
    pub stats: Pairs,
    /// When the job was accepted.
    pub created_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its webhook, when it was submitted with a `callback_url`.
    #[serde(default)]
    pub callback: Option<crate::Callback>,
    /// The trace its spans join (the submission's, as it put the job on
    /// the rail); every attempt continues it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<crate::TraceParent>,
}

impl Job {
    /// A freshly accepted job in `queued` state, owned by `by`'s team.
    pub fn queued(
        id: JobId,
        pv: &ProcessorVersion,
        params: Pairs,
        input_bytes: u64,
        by: &Caller,
    ) -> Self {
        Self {
            id,
            team: by.team.clone(),
            key_id: Some(by.key_id.clone()),
            processor: pv.name.clone(),
            version: pv.version.clone(),
            digest: pv.digest.clone(),
            status: JobStatus::Queued,
            params,
            error: None,
            attempts: 0,
            attempt_base: 0,
            worker: None,
            usage: None,
            limits: pv.limits,
            input_bytes,
            output_bytes: None,
            content_type: None,
            stats: Vec::new(),
            created_at: now_to_the_millisecond(),
            started_at: None,
            finished_at: None,
            callback: None,
            trace_parent: None,
        }
    }
}

/// The current time truncated to milliseconds, the precision stores keep.
pub fn now_to_the_millisecond() -> DateTime<Utc> {
    from_millis(Utc::now().timestamp_millis())
}

/// A timestamp from milliseconds since the Unix epoch.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_key_names_its_attempt() {
        let id = JobId::new();
        let other = JobId::new();
        assert_eq!(
            id.output_attempt(&format!("{}000003", id.output_prefix(12))),
            Some(12)
        );
        assert_eq!(id.output_attempt(&id.output_key(3)), Some(3));
        assert_eq!(id.output_attempt(&id.log_key(3)), None);
        assert_eq!(id.output_attempt(&id.input_key()), None);
        assert_eq!(id.output_attempt(&other.output_key(3)), None);
    }

    #[test]
    fn ids_round_trip() {
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
    }
}
