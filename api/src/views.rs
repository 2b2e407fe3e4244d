//! JSON shapes of the API's answers.

use agensium_domain::{Job, JobError, Ownership, ProcessorVersion, Visibility};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One processor version, as answered by PUT and listed by GET.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub name: String,
    pub version: String,
    pub digest: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = crate::schemas::DeclaredLimits)]
    pub limits: agensium_domain::DeclaredLimits,
    /// Id of the key that uploaded it.
    pub uploaded_by: Option<String>,
    /// Results are served inline (the publisher vouches for them).
    pub inline_safe: bool,
    /// When it was yanked (no new job resolves to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yanked_at: Option<DateTime<Utc>>,
}

impl From<&ProcessorVersion> for VersionView {
    fn from(v: &ProcessorVersion) -> Self {
        Self {
            name: v.name.to_string(),
            version: v.version.clone(),
            digest: v.digest.to_string(),
            size: v.size,
            created_at: v.created_at,
            limits: v.limits,
            uploaded_by: v.uploaded_by.as_ref().map(ToString::to_string),
            inline_safe: v.inline_safe,
            yanked_at: v.yanked_at,
        }
    }
}

/// A processor as listed: who owns it, who sees it, its latest version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessorSummary {
    pub name: String,
    /// The team that owns the name.
    pub team: String,
    /// `private` (the owner team only) or `public`.
    #[schema(value_type = String)]
    pub visibility: Visibility,
    /// The newest version that is not yanked (releases before
    /// pre-releases, then semver precedence); `null` when every version is.
    pub latest: Option<String>,
}

impl From<&Ownership> for ProcessorSummary {
    fn from(o: &Ownership) -> Self {
        Self {
            name: o.name.to_string(),
            team: o.team.to_string(),
            visibility: o.visibility,
            latest: o.latest.clone(),
        }
    }
}

/// A processor with the first page of its versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessorView {
    #[serde(flatten)]
    pub summary: ProcessorSummary,
    pub versions: Vec<VersionView>,
    /// `before` of the next page of `GET …/versions`, when there is one.
    pub next_versions: Option<String>,
}

/// A job, as answered by submit and GET.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// The team that submitted it.
    pub team: String,
    /// Id of the key that submitted it.
    pub key_id: Option<String>,
    pub processor: String,
    pub version: String,
    pub digest: String,
    /// queued, running, succeeded, failed or cancelled.
    #[schema(value_type = String)]
    pub status: &'static str,
    #[schema(value_type = Option<crate::schemas::JobError>)]
    pub error: Option<JobError>,
    pub attempts: u32,
    pub worker: Option<String>,
    #[schema(value_type = Option<crate::schemas::Usage>)]
    pub usage: Option<agensium_domain::Usage>,
    pub params: BTreeMap<String, String>,
    pub input_bytes: u64,
    pub output_bytes: Option<u64>,
    pub content_type: Option<String>,
    pub stats: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Its webhook and how its delivery stands, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::schemas::Callback>)]
    pub callback: Option<agensium_domain::Callback>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id.to_string(),
            team: j.team.to_string(),
            key_id: j.key_id.as_ref().map(ToString::to_string),
            processor: j.processor.to_string(),
            version: j.version,
            digest: j.digest.to_string(),
            status: j.status.as_str(),
            error: j.error,
            attempts: j.attempts,
            worker: j.worker.map(|w| w.as_str().to_owned()),
            usage: j.usage,
            params: j.params.into_iter().collect(),
            input_bytes: j.input_bytes,
            output_bytes: j.output_bytes,
            content_type: j.content_type,
            stats: j.stats.into_iter().collect(),
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            callback: j.callback,
        }
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    /// `before` of the next page, or null at the end.
    pub next: Option<String>,
}

/// A page of processors, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessorPage {
    pub processors: Vec<ProcessorSummary>,
    /// `after` of the next page, or null at the end.
    pub next: Option<String>,
}

/// A page of a processor's versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionPage {
    pub versions: Vec<VersionView>,
    /// `before` of the next page, or null at the end.
    pub next: Option<String>,
}

/// The answer to a submission (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    /// Always `queued`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub processor: String,
    pub version: String,
    pub digest: String,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}
