//! Domain types: processors, versions, digests and jobs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Why a name, version, digest or id failed to parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// A processor's name: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcessorName(String);

impl ProcessorName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProcessorName {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput(format!(
                "invalid processor name {s:?}: expected [a-z0-9][a-z0-9-]{{0,62}}"
            )))
        }
    }
}

impl TryFrom<String> for ProcessorName {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProcessorName> for String {
    fn from(n: ProcessorName) -> String {
        n.0
    }
}

impl fmt::Display for ProcessorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a semantic version (`1.2.3`, `1.0.0-rc.1`), with a clear error.
pub fn parse_version(s: &str) -> Result<semver::Version, InvalidInput> {
    semver::Version::parse(s).map_err(|e| {
        InvalidInput(format!(
            "invalid version {s:?}: {e} (expected semver, e.g. 1.0.0)"
        ))
    })
}

/// A content digest, always `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_sha256(Sha256::digest(bytes).into())
    }

    /// Wraps a finished sha256 hash.
    pub fn from_sha256(hash: [u8; 32]) -> Self {
        Self(format!("sha256:{}", hex::encode(hash)))
    }

    /// The full `sha256:<hex>` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part alone, safe to use in object keys and file names.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl FromStr for Digest {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("sha256:") {
            Some(h)
                if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Ok(Self(s.to_owned()))
            }
            _ => Err(InvalidInput(format!(
                "invalid digest {s:?}: expected sha256:<64 hex>"
            ))),
        }
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Limits a processor version declares at upload. Unset fields take the
/// operator's defaults; every field is capped by the operator's ceilings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredLimits {
    /// Linear memory, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Wall time of `process`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Output, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_mib: Option<u64>,
    /// Log, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_kib: Option<u64>,
    /// Input accepted at submission, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mib: Option<u64>,
    /// CPU budget of `process` in wasmtime fuel units (about one per Wasm
    /// instruction): deterministic, unlike wall time. Unset: not metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}

/// One immutable, content-addressed version of a processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessorVersion {
    /// The processor's name.
    pub name: ProcessorName,
    /// The semantic version, as uploaded.
    pub version: String,
    /// sha256 of the component bytes.
    pub digest: Digest,
    /// Size of the component in bytes.
    pub size: u64,
    /// When the version was registered.
    pub created_at: DateTime<Utc>,
    /// Limits declared at upload.
    pub limits: DeclaredLimits,
}

impl ProcessorVersion {
    /// Object-store key of a component with this digest.
    pub fn object_key(digest: &Digest) -> String {
        format!("processors/{}.wasm", digest.hex())
    }
}

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

    /// Object-store key of the job's input.
    pub fn input_key(&self) -> String {
        format!("jobs/{self}/input")
    }

    /// Object-store key of the output of one attempt. Each attempt writes
    /// its own object, so a late attempt never overwrites the result of the
    /// attempt that finished the job.
    pub fn output_key(&self, attempt: u32) -> String {
        format!("jobs/{self}/output/{attempt}")
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

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted and waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// Finished; the output is available.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobStatus {
    /// The lowercase name used in the API and the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// True once the job can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl FromStr for JobStatus {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return Err(InvalidInput(format!("invalid job status {s:?}"))),
        })
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job failed: a stable machine-readable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// `snake_case` code, e.g. `timeout`, `memory_limit`, `trap`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl JobError {
    /// Builds an error from a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
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
    pub worker: Option<String>,
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
}

impl Job {
    /// A freshly accepted job in `queued` state.
    pub fn queued(id: JobId, pv: &ProcessorVersion, params: Pairs, input_bytes: u64) -> Self {
        Self {
            id,
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
            created_at: now_millis(),
            started_at: None,
            finished_at: None,
        }
    }
}

/// The current time truncated to milliseconds, the precision stores keep.
pub fn now_millis() -> DateTime<Utc> {
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
    fn names() {
        assert!("wordcount".parse::<ProcessorName>().is_ok());
        assert!("a".parse::<ProcessorName>().is_ok());
        assert!("csv-to-jsonl".parse::<ProcessorName>().is_ok());
        assert!("-x".parse::<ProcessorName>().is_err());
        assert!("Upper".parse::<ProcessorName>().is_err());
        assert!("".parse::<ProcessorName>().is_err());
        assert!("a_b".parse::<ProcessorName>().is_err());
        assert!("a".repeat(63).parse::<ProcessorName>().is_ok());
        assert!("a".repeat(64).parse::<ProcessorName>().is_err());
    }

    #[test]
    fn digests() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.as_str().parse::<Digest>().unwrap(), d);
        assert!("sha256:XYZ".parse::<Digest>().is_err());
        assert!("md5:abc".parse::<Digest>().is_err());
    }

    #[test]
    fn versions_and_statuses() {
        assert!(parse_version("1.0.0").is_ok());
        assert!(parse_version("1.0").is_err());
        for s in ["queued", "running", "succeeded", "failed", "cancelled"] {
            assert_eq!(s.parse::<JobStatus>().unwrap().as_str(), s);
        }
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
    }
}
