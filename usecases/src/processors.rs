//! Processors and their versions: who may see or publish one, resolving
//! the version a job pins, recording an admitted upload, yanking,
//! visibility, listings.

use crate::{Refusal, Result};
use agensium_domain::{
    Action, Caller, Digest, Job, Ownership, ProcessorName, ProcessorVersion, Resource, Visibility,
    authorize, now_to_the_millisecond, scope,
};
use agensium_ports::object_store::once;
use agensium_ports::{Backends, MetaStore, PutVersion};
use bytes::Bytes;

fn not_found(name: &ProcessorName) -> Refusal {
    Refusal::not_found("processor_not_found", format!("no processor named {name}"))
}

fn name_taken(name: &ProcessorName) -> Refusal {
    Refusal::conflict(
        "name_taken",
        format!("the processor name {name} belongs to another team; choose another name"),
    )
}

fn version_exists(name: &ProcessorName, version: &str, digest: &Digest) -> Refusal {
    Refusal::conflict(
        "version_exists",
        format!(
            "{name} {version} already exists with digest {digest}; versions are immutable, upload a new version"
        ),
    )
}

fn no_version(name: &ProcessorName, version: &str) -> Refusal {
    Refusal::not_found(
        "version_not_found",
        format!("processor {name} has no version {version}"),
    )
}

/// The processor's ownership, when `caller` may see it; not found
/// otherwise, the same answer as for a name nobody registered.
pub async fn visible(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &ProcessorName,
) -> Result<Ownership> {
    meta.ownership(name)
        .await?
        .filter(|o| authorize(caller, Action::Read, Resource::Processor(o)).is_ok())
        .ok_or_else(|| not_found(name))
}

/// The processor, when `caller` may change it (its team's publishers):
/// not found when it may not see it, forbidden when it sees it only.
pub async fn changeable(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &ProcessorName,
) -> Result<Ownership> {
    let owner = visible(meta, caller, name).await?;
    authorize(caller, Action::Publish, Resource::Processor(&owner))
        .map_err(|d| Refusal::denied(d, || not_found(name)))?;
    Ok(owner)
}

/// The name's owner, when `caller` may add versions to it (`None`: the
/// name is free); `name_taken` when another team owns it (processor names
/// are one namespace), hidden or not.
pub async fn may_publish(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &ProcessorName,
) -> Result<Option<Ownership>> {
    match meta.ownership(name).await? {
        None => Ok(None),
        Some(o) => match authorize(caller, Action::Publish, Resource::Processor(&o)) {
            Ok(()) => Ok(Some(o)),
            Err(_) => Err(name_taken(name)),
        },
    }
}

/// The version already registered under `name` and `version`, when it has
/// these bytes (`digest`); `version_exists` when it has others; `None`
/// when there is none.
pub async fn existing(
    meta: &dyn MetaStore,
    name: &ProcessorName,
    version: &str,
    digest: &Digest,
) -> Result<Option<ProcessorVersion>> {
    match meta.get_version(name, version).await? {
        Some(v) if v.digest == *digest => Ok(Some(v)),
        Some(v) => Err(version_exists(&v.name, &v.version, &v.digest)),
        None => Ok(None),
    }
}

/// An admitted component's bytes: stored before its version is visible.
pub struct Admitted {
    /// The component as uploaded.
    pub component: Bytes,
    /// Its precompiled artifact, which workers load instead of compiling.
    pub artifact: Vec<u8>,
    /// Where the artifact goes (keyed by engine compatibility).
    pub artifact_key: String,
}

/// What became of recording a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// It is new.
    Created,
    /// The same bytes were recorded under this version already.
    Unchanged,
}

/// Records an admitted version: its component (content-addressed) and
/// artifact first, the artifact's digest in the ledger before its bytes
/// (workers load only an artifact whose bytes match it), the name claimed
/// for `caller`'s team when `owner` is `None` (another team that claimed
/// it meanwhile wins), and the version's row last: visible from there.
pub async fn record(
    b: &Backends,
    caller: &Caller,
    owner: Option<Ownership>,
    pv: &ProcessorVersion,
    admitted: Admitted,
) -> Result<Recorded> {
    store(b, &pv.digest, admitted).await?;
    if owner.is_none() {
        claim(b.meta.as_ref(), caller, &pv.name).await?;
    }
    match b.meta.put_version(pv).await? {
        PutVersion::Created => {
            tracing::info!(processor = %pv.name, version = %pv.version, digest = %pv.digest, "processor registered");
            Ok(Recorded::Created)
        }
        // Lost a race with an identical or a different upload of this version.
        PutVersion::Unchanged => Ok(Recorded::Unchanged),
        PutVersion::Conflict(d) => Err(version_exists(&pv.name, &pv.version, &d)),
    }
}

async fn store(b: &Backends, digest: &Digest, admitted: Admitted) -> Result<()> {
    let Admitted {
        component,
        artifact,
        artifact_key,
    } = admitted;
    let key = ProcessorVersion::object_key(digest);
    if b.objects.head(&key).await? != Some(component.len() as u64) {
        b.objects.put(&key, once(component)).await?;
    }
    b.meta
        .record_artifact(&artifact_key, &Digest::of(&artifact))
        .await?;
    b.objects
        .put(&artifact_key, once(Bytes::from(artifact)))
        .await?;
    Ok(())
}

async fn claim(meta: &dyn MetaStore, caller: &Caller, name: &ProcessorName) -> Result<()> {
    let want = Ownership {
        name: name.clone(),
        team: caller.team.clone(),
        visibility: Visibility::Private,
        created_at: now_to_the_millisecond(),
        latest: None,
    };
    let got = meta.claim_processor(&want).await?;
    authorize(caller, Action::Publish, Resource::Processor(&got)).map_err(|_| name_taken(name))
}

/// The version a new job of `name` pins: `version`, or the latest; gone
/// (`version_yanked`) when it is yanked or every version is.
pub async fn resolve(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &ProcessorName,
    version: Option<&str>,
) -> Result<ProcessorVersion> {
    let owner = visible(meta, caller, name).await?;
    let Some(wanted) = version.or(owner.latest.as_deref()) else {
        return Err(Refusal::gone(
            "version_yanked",
            format!("every version of {name} is yanked (or none was uploaded yet)"),
        ));
    };
    match meta.get_version(name, wanted).await? {
        Some(pv) if pv.yanked_at.is_some() => Err(Refusal::gone(
            "version_yanked",
            format!("{name} {wanted} is yanked: new jobs cannot use it"),
        )),
        Some(pv) => Ok(pv),
        None => Err(no_version(name, wanted)),
    }
}

/// Yanks a version (the owner team's publishers): no new job resolves to
/// it; jobs that pinned it still run. Idempotent; the version as it is.
pub async fn yank(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &ProcessorName,
    version: &str,
) -> Result<ProcessorVersion> {
    changeable(meta, caller, name).await?;
    let yanked = meta.yank_version(name, version).await?;
    let v = yanked.ok_or_else(|| no_version(name, version))?;
    tracing::info!(processor = %name, %version, by = %caller.key_id, "version yanked");
    Ok(v)
}

/// Makes a processor public or private (the owner team's publishers;
/// `owner` as [`changeable`] found it).
pub async fn set_visibility(
    meta: &dyn MetaStore,
    caller: &Caller,
    mut owner: Ownership,
    visibility: Visibility,
) -> Result<Ownership> {
    let name = &owner.name;
    authorize(caller, Action::Publish, Resource::Processor(&owner))
        .map_err(|d| Refusal::denied(d, || not_found(name)))?;
    if !meta.set_visibility(name, visibility).await? {
        return Err(not_found(name));
    }
    tracing::info!(processor = %name, %visibility, by = %caller.key_id, "visibility changed");
    owner.visibility = visibility;
    Ok(owner)
}

/// Up to `limit` processors `caller` may see, by name, after `after`.
pub async fn list(
    meta: &dyn MetaStore,
    caller: &Caller,
    after: Option<&ProcessorName>,
    limit: u32,
) -> Result<Vec<Ownership>> {
    Ok(meta.visible_processors(scope(caller), after, limit).await?)
}

/// Up to `limit` versions of a processor `caller` may see, newest first,
/// below `before`.
pub async fn versions(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &ProcessorName,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<ProcessorVersion>> {
    visible(meta, caller, name).await?;
    Ok(meta.version_page(name, before, limit).await?)
}

/// Whether `job`'s results may be shown inline: its version's publisher
/// said so, for these very bytes.
pub async fn inline_safe(meta: &dyn MetaStore, job: &Job) -> Result<bool> {
    let v = meta.get_version(&job.processor, &job.version).await?;
    Ok(v.is_some_and(|v| v.inline_safe && v.digest == job.digest))
}
