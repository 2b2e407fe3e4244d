//! The OpenAPI schemas of the domain types the API answers as they are
//! (limits, quotas, usage, errors, webhooks): each a shape-only copy named
//! like its type, used through `#[schema(value_type = …)]`. The domain
//! stays free of OpenAPI; the openapi test and schemathesis check that the
//! shapes match what is served.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Limits a processor version declares at upload. Unset fields take the
/// operator's defaults; every field is capped by the operator's ceilings.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(as = DeclaredLimits)]
pub struct DeclaredLimits {
    /// Linear memory, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory_mib: Option<u64>,
    /// Wall time of `process`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    /// Output, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_mib: Option<u64>,
    /// Log, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_kib: Option<u64>,
    /// Input accepted at submission, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_mib: Option<u64>,
    /// CPU budget of `process` in wasmtime fuel units (about one per Wasm
    /// instruction): deterministic, unlike wall time. Unset: not metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fuel: Option<u64>,
}

/// A team's quotas; `None` is "no quota of the team's own" (the operator's
/// ceilings still apply).
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(as = Quota)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Jobs the team may have queued at once (submit answers 429 beyond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_queued: Option<u32>,
    /// Jobs of the team that run at once across the fleet; a worker that
    /// starts one more gives it back to wait for its turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_running: Option<u32>,
    /// Largest input of one job, in bytes (capped by the operator's ceiling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_input_bytes: Option<u64>,
    /// Seconds a finished job (row, input, output, log) is kept; unset:
    /// the operator's default (`AGENSIUM_RETENTION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    retention_secs: Option<u64>,
}

/// Jobs of one day by outcome.
#[derive(Serialize, ToSchema)]
#[schema(as = Outcomes)]
pub struct Outcomes {
    /// Jobs that succeeded.
    succeeded: u64,
    /// Jobs that failed.
    failed: u64,
    /// Jobs that were cancelled.
    cancelled: u64,
}

/// What a team used on one day (UTC), counted by when its jobs finished.
#[derive(Serialize, ToSchema)]
#[schema(as = DayUsage)]
pub struct DayUsage {
    /// The day, `YYYY-MM-DD`.
    day: String,
    /// Finished jobs by outcome.
    jobs: Outcomes,
    /// Processor wall time of the jobs' last attempts, in milliseconds.
    wall_ms: u64,
    /// Fuel consumed by metered jobs.
    fuel: u64,
    /// The highest peak linear memory of any job, in bytes.
    peak_memory_bytes: u64,
    /// Input bytes of the jobs.
    bytes_in: u64,
    /// Output bytes of the jobs that succeeded.
    bytes_out: u64,
}

/// Why a job failed: a stable machine-readable code and a message for people.
#[derive(Serialize, ToSchema)]
#[schema(as = JobError)]
pub struct JobError {
    /// The code, e.g. `timeout`, `memory_limit`, `trap`.
    code: String,
    /// Human-readable explanation.
    message: String,
}

/// What a job's last attempt used.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(as = Usage)]
pub struct Usage {
    /// Peak linear memory of the processor, in bytes.
    peak_memory_bytes: u64,
    /// Time spent instantiating and running `process`, in milliseconds.
    wall_time_ms: u64,
    /// Epoch ticks (10 ms each) the processor ran for.
    epoch_ticks: u64,
    /// Bytes the processor wrote as output.
    output_bytes: u64,
    /// Fuel consumed, when the job was metered (its version declared `fuel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fuel_consumed: Option<u64>,
}

/// How a job's webhook stands.
#[derive(Serialize, ToSchema)]
#[schema(as = DeliveryState)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet: the job has not ended, or an attempt is due.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up: attempts exhausted, or the address is refused.
    Failed,
}

/// A job's webhook and the record of its delivery.
#[derive(Serialize, ToSchema)]
#[schema(as = Callback)]
pub struct Callback {
    /// Where the job's end is POSTed.
    url: String,
    /// How the delivery stands.
    state: DeliveryState,
    /// Attempts made so far.
    attempts: u32,
    /// What the last attempt got (`HTTP 500`, `timed out`, …), at most
    /// 200 bytes.
    last_outcome: Option<String>,
    /// When the last attempt was made.
    last_attempt_at: Option<DateTime<Utc>>,
}
