//! What the cache keeps nothing of, passed straight through: jobs (never
//! cached), the artifact ledger, webhook deliveries.

use super::CachedMeta;
use crate::meta::{Finish, JobBody, JobFilter, NewJob, StartedJob};
use crate::{ArtifactLedger, AttemptRecord, CallbackStore, DueCallback, JobStore, MetaError};
use agensium_domain::{Digest, Job, JobId, JobRef, TeamName, Usage, WebhookSecret, WorkerId};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[async_trait]
impl JobStore for CachedMeta {
    async fn insert_job(&self, job: &Job, input: Option<&Bytes>) -> Result<(), MetaError> {
        self.inner.insert_job(job, input).await
    }

    async fn insert_jobs(&self, jobs: &[NewJob<'_>]) -> Result<(), MetaError> {
        self.inner.insert_jobs(jobs).await
    }

    async fn insert_job_within(
        &self,
        job: &Job,
        input: Option<&Bytes>,
        max_queued: u32,
    ) -> Result<bool, MetaError> {
        self.inner.insert_job_within(job, input, max_queued).await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, MetaError> {
        self.inner.get_job(id).await
    }

    async fn get_job_body(
        &self,
        id: JobId,
        body: JobBody,
    ) -> Result<Option<(Job, Option<Bytes>)>, MetaError> {
        self.inner.get_job_body(id, body).await
    }

    async fn start_job(
        &self,
        id: JobId,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<Option<StartedJob>, MetaError> {
        self.inner.start_job(id, owner, lease).await
    }

    async fn renew_lease(
        &self,
        id: JobId,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<bool, MetaError> {
        self.inner.renew_lease(id, owner, lease).await
    }

    async fn finish_job(
        &self,
        id: JobId,
        owner: &WorkerId,
        finish: &Finish,
        usage: Option<&Usage>,
        log: Option<&Bytes>,
    ) -> Result<bool, MetaError> {
        self.inner.finish_job(id, owner, finish, usage, log).await
    }

    async fn requeue_job(&self, id: JobId, owner: &WorkerId) -> Result<bool, MetaError> {
        self.inner.requeue_job(id, owner).await
    }

    async fn admit_job(
        &self,
        id: JobId,
        owner: &WorkerId,
    ) -> Result<Option<DateTime<Utc>>, MetaError> {
        self.inner.admit_job(id, owner).await
    }

    async fn yield_job(&self, id: JobId, owner: &WorkerId) -> Result<bool, MetaError> {
        self.inner.yield_job(id, owner).await
    }

    async fn cancel_job(&self, id: JobId) -> Result<bool, MetaError> {
        self.inner.cancel_job(id).await
    }

    async fn retry_job(&self, id: JobId) -> Result<bool, MetaError> {
        self.inner.retry_job(id).await
    }

    async fn requeue_expired(&self) -> Result<Vec<JobRef>, MetaError> {
        self.inner.requeue_expired().await
    }

    async fn queued_jobs(
        &self,
        after: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<JobRef>, MetaError> {
        self.inner.queued_jobs(after, limit).await
    }

    async fn list_jobs(
        &self,
        filter: &JobFilter<'_>,
        before: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Job>, MetaError> {
        self.inner.list_jobs(filter, before, limit).await
    }

    async fn recover_unfinished(&self) -> Result<Vec<JobRef>, MetaError> {
        self.inner.recover_unfinished().await
    }

    async fn expire_jobs(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<u64, MetaError> {
        self.inner.expire_jobs(ids, at).await
    }

    async fn expired_job(&self, id: JobId) -> Result<Option<TeamName>, MetaError> {
        self.inner.expired_job(id).await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.inner.take_lease(name, holder, now, until).await
    }
}

#[async_trait]
impl ArtifactLedger for CachedMeta {
    async fn record_artifact(&self, key: &str, sha256: &Digest) -> Result<(), MetaError> {
        self.inner.record_artifact(key, sha256).await
    }

    async fn artifact_digest(&self, key: &str) -> Result<Option<Digest>, MetaError> {
        self.inner.artifact_digest(key).await
    }
}

#[async_trait]
impl CallbackStore for CachedMeta {
    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        skip: &[TeamName],
    ) -> Result<Vec<DueCallback>, MetaError> {
        self.inner.due_callbacks(now, limit, skip).await
    }

    async fn claim_callback(
        &self,
        due: &DueCallback,
        until: DateTime<Utc>,
    ) -> Result<bool, MetaError> {
        self.inner.claim_callback(due, until).await
    }

    async fn record_callback(
        &self,
        id: JobId,
        attempt: u32,
        record: &AttemptRecord,
    ) -> Result<bool, MetaError> {
        self.inner.record_callback(id, attempt, record).await
    }

    async fn webhook_secret(&self, team: &TeamName) -> Result<Option<WebhookSecret>, MetaError> {
        self.inner.webhook_secret(team).await
    }

    async fn set_webhook_secret(
        &self,
        team: &TeamName,
        secret: &WebhookSecret,
    ) -> Result<bool, MetaError> {
        self.inner.set_webhook_secret(team, secret).await
    }
}
