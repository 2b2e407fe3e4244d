//! Agensium's domain: what the system is about, with no I/O.
//!
//! Processors and their immutable, content-addressed versions; jobs and the
//! one state machine their status follows ([`Transition`]); the one list of
//! failure codes ([`ErrorCode`]); the limits a version declares, a job runs
//! under and an operator caps ([`DeclaredLimits`], [`Limits`], [`Ceilings`]).
//! Every other crate depends on this one; it depends on none of them.

mod bounds;
mod callback;
mod digest;
mod error_code;
mod inline;
mod job;
mod limits;
mod names;
mod special_ip;
mod status;
mod tenancy;
mod text;
mod trace_parent;
mod version;
mod webhook_secret;
mod worker_id;

pub use bounds::{
    MAX_PARAM_KEY, MAX_PARAM_VALUE, MAX_PARAMS, MAX_PARAMS_BYTES, MAX_STAT_KEY, MAX_STAT_VALUE,
    MAX_STATS, MAX_STATS_JSON, ParamError, ParamsBuilder, bound_stats,
};
pub use callback::{Callback, CallbackUrl, DeliveryState, MAX_CALLBACK_OUTCOME, MAX_CALLBACK_URL};
pub use digest::Digest;
pub use error_code::{ErrorCode, JobError, MAX_PROCESSOR_CODE};
pub use inline::InlineLimit;
pub use job::{Job, JobId, JobRef, Pairs, Usage, from_millis, now_to_the_millisecond};
pub use limits::{Ceilings, DeclaredLimits, GOLDEN_CAPS, LimitExceeded, Limits};
pub use names::{
    InvalidInput, MAX_SLUG, MAX_VERSION, ProcessorName, SLUG_PATTERN, TeamName, VERSION_PATTERN,
    parse_version,
};
pub use special_ip::is_public_ip;
pub use status::{JobStatus, LeaseGuard, Transition, TransitionError};
pub use tenancy::{
    Action, ApiKey, Caller, DayUsage, Denied, KeyHash, KeyId, KeyRecord, KeyRefusal, MAX_KEY_NAME,
    Outcomes, Ownership, Quota, Resource, Role, Team, UsageReport, Visibility, authorize, operates,
    scope, sees_team,
};
pub use text::{terminal_safe, truncate_at_char_boundary};
pub use trace_parent::{TRACE_PARENT_LEN, TraceParent};
pub use version::{ProcessorVersion, precedence_key};
pub use webhook_secret::WebhookSecret;
pub use worker_id::WorkerId;
