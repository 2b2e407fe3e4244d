//! JSON shapes of the API's answers.

use agensium_domain::{Job, JobError, Ownership, ProcessorVersion, Visibility};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// One processor version, as answered by PUT and listed by GET.
#[derive(Debug, Serialize)]
pub struct VersionView {
    pub name: String,
    pub version: String,
    pub digest: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    pub limits: agensium_domain::DeclaredLimits,
    /// Id of the key that uploaded it.
    pub uploaded_by: Option<String>,
    /// Results are served inline (the publisher vouches for them).
    pub inline_safe: bool,
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
        }
    }
}

/// A processor with all its versions.
#[derive(Debug, Serialize)]
pub struct ProcessorView {
    pub name: String,
    /// The team that owns the name.
    pub team: String,
    /// `private` (the owner team only) or `public`.
    pub visibility: Visibility,
    /// Highest version by semver precedence (releases before pre-releases).
    pub latest: String,
    pub versions: Vec<VersionView>,
}

/// The newest version by semver precedence, preferring releases.
pub fn latest(versions: &[ProcessorVersion]) -> Option<&ProcessorVersion> {
    versions.iter().max_by_key(|v| {
        let sv = semver::Version::parse(&v.version).ok();
        let release = sv.as_ref().is_some_and(|s| s.pre.is_empty());
        (release, sv)
    })
}

/// Groups versions into the processors of `owners` (others are left out),
/// by name.
pub fn group(owners: &[Ownership], versions: Vec<ProcessorVersion>) -> Vec<ProcessorView> {
    let mut by_name: BTreeMap<&str, (&Ownership, Vec<ProcessorVersion>)> = owners
        .iter()
        .map(|o| (o.name.as_str(), (o, Vec::new())))
        .collect();
    for v in versions {
        if let Some((_, vs)) = by_name.get_mut(v.name.as_str()) {
            vs.push(v);
        }
    }
    by_name
        .into_values()
        .filter_map(|(o, vs)| {
            let latest = latest(&vs)?.version.clone();
            Some(ProcessorView {
                name: o.name.to_string(),
                team: o.team.to_string(),
                visibility: o.visibility,
                latest,
                versions: vs.iter().map(VersionView::from).collect(),
            })
        })
        .collect()
}

/// A job, as answered by submit and GET.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: String,
    /// The team that submitted it.
    pub team: String,
    /// Id of the key that submitted it.
    pub key_id: Option<String>,
    pub processor: String,
    pub version: String,
    pub digest: String,
    pub status: &'static str,
    pub error: Option<JobError>,
    pub attempts: u32,
    pub worker: Option<String>,
    pub usage: Option<agensium_domain::Usage>,
    pub params: BTreeMap<String, String>,
    pub input_bytes: u64,
    pub output_bytes: Option<u64>,
    pub content_type: Option<String>,
    pub stats: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agensium_testkit::conformance::meta_store::version;

    #[test]
    fn latest_prefers_highest_release() {
        let vs = vec![
            version("p", "1.10.0", b"a"),
            version("p", "1.9.0", b"b"),
            version("p", "2.0.0-rc.1", b"c"),
        ];
        assert_eq!(latest(&vs).unwrap().version, "1.10.0");
        let pre = vec![
            version("p", "2.0.0-rc.1", b"c"),
            version("p", "2.0.0-rc.2", b"d"),
        ];
        assert_eq!(latest(&pre).unwrap().version, "2.0.0-rc.2");
    }
}
