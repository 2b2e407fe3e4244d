//! Object store on S3 (AWS S3, MinIO, Garage, s3s-fs, …).
//!
//! Puts are streamed: a body that fits in one part goes up with a single
//! PutObject, a larger one as a multipart upload with [`PARTS_IN_FLIGHT`]
//! parts uploading at once while the next one is read: at most
//! `PARTS_IN_FLIGHT + 1` parts in memory. Parts grow with the object (the
//! configured size for the first 900 parts, doubling every 900 after),
//! so S3's 10,000-part limit is never the bound, with no size known in
//! advance. A multipart upload is aborted on any failure (and, best effort,
//! when the `put` future is dropped), so a failed put stores nothing and
//! leaves no pending upload. Gets stream the response body, read ahead by a
//! task of their own ([`READ_AHEAD`] chunks) so the network and the reader
//! overlap.

use agensium_ports::object_store::{ByteStream, ObjectStore, StoreError, validate_key};
use agensium_ports::pieces::Pieces;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::abort_multipart_upload::builders::AbortMultipartUploadFluentBuilder;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
};
use bytes::Bytes;
use std::io;
use std::time::Duration;

mod config;
pub use config::S3Config;

/// S3's smallest part (except the last one of an upload).
const MIN_PART: usize = 5 << 20;
/// S3's largest part.
const MAX_PART: u64 = 5 << 30;
/// S3's largest number of parts in one upload.
const MAX_PARTS: i32 = 10_000;
/// Parts of one multipart upload sent at once: with the part being read,
/// `(PARTS_IN_FLIGHT + 1) × part size` of memory per upload (15 MiB at the
/// default 5 MiB parts), which keeps an API process under its 64 MiB
/// target while it stores a 1 GiB input.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Parts of one size before the size doubles.
const PARTS_PER_SIZE: i32 = 900;
/// Chunks of a get's body read ahead of its reader.
pub const READ_AHEAD: usize = 4;
/// How long `connect` and `create_bucket` wait for the server.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An [`ObjectStore`] on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    part_size: usize,
    /// The id of the last multipart upload started, so tests can check it
    /// was aborted.
    #[cfg(test)]
    last_upload: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl S3Store {
    /// Builds a client for `cfg` and checks (HeadBucket, 10 s timeout) that
    /// the bucket is reachable with the configured credentials.
    pub async fn connect(cfg: S3Config) -> Result<Self, StoreError> {
        if cfg.part_size < MIN_PART || cfg.part_size as u64 > MAX_PART {
            return Err(StoreError::backend(format!(
                "S3 part_size must be between 5 MiB and 5 GiB, not {} bytes",
                cfg.part_size
            )));
        }
        let client = cfg.client().await;
        let head = client.head_bucket().bucket(&cfg.bucket).send();
        let why = match tokio::time::timeout(TIMEOUT, head).await {
            Ok(Ok(_)) => {
                return Ok(Self {
                    client,
                    bucket: cfg.bucket,
                    part_size: cfg.part_size,
                    #[cfg(test)]
                    last_upload: Default::default(),
                });
            }
            Err(_) => format!("HeadBucket got no answer within {}s", TIMEOUT.as_secs()),
            Ok(Err(e)) => {
                let hint = match status(&e) {
                    Some(404) => "the bucket does not exist; ",
                    Some(401 | 403) => "access denied (check the credentials); ",
                    _ => "",
                };
                format!("{hint}HeadBucket failed: {}", DisplayErrorContext(&e))
            }
        };
        Err(StoreError::backend(format!("S3 {}: {why}", cfg.describe())))
    }

    /// Creates the bucket of `cfg`. Idempotent: a bucket that already exists
    /// and is ours is fine. Meant for tests and first-time setup.
    pub async fn create_bucket(cfg: &S3Config) -> Result<(), StoreError> {
        let client = cfg.client().await;
        let mut req = client.create_bucket().bucket(&cfg.bucket);
        let region = client.config().region().map(|r| r.as_ref().to_owned());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            let location = BucketLocationConstraint::from(region.as_str());
            let conf = CreateBucketConfiguration::builder().location_constraint(location);
            req = req.create_bucket_configuration(conf.build());
        }
        let why = match tokio::time::timeout(TIMEOUT, req.send()).await {
            Ok(Ok(_)) => return Ok(()),
            Err(_) => format!("CreateBucket got no answer within {}s", TIMEOUT.as_secs()),
            Ok(Err(e)) => match e.code() {
                Some("BucketAlreadyOwnedByYou") => return Ok(()),
                // s3s-fs answers this for our own buckets too: ours if we see it.
                Some("BucketAlreadyExists") if is_visible(&client, &cfg.bucket).await => {
                    return Ok(());
                }
                _ => format!("CreateBucket failed: {}", DisplayErrorContext(&e)),
            },
        };
        Err(StoreError::backend(format!("S3 {}: {why}", cfg.describe())))
    }

    /// Maps an SDK error to a backend error naming the operation and object.
    fn failed<'a, E: std::error::Error + 'static>(
        &'a self,
        op: &'a str,
        key: &'a str,
    ) -> impl FnOnce(SdkError<E>) -> StoreError + 'a {
        move |e| {
            let (bucket, e) = (&self.bucket, DisplayErrorContext(&e));
            StoreError::backend(format!("S3 {op} {bucket}/{key}: {e}"))
        }
    }

    /// Uploads `first` and the rest of `parts` as parts, up to
    /// [`PARTS_IN_FLIGHT`] at once while the next is read, and completes
    /// the upload. The caller aborts it on failure.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Bytes,
        parts: &mut Pieces,
    ) -> Result<u64, StoreError> {
        let mut sending = tokio::task::JoinSet::new();
        let mut done = Vec::new();
        let (mut number, mut next) = (1, Some(first));
        while let Some(part) = next {
            if number > MAX_PARTS {
                return Err(StoreError::backend(format!(
                    "S3 object {key} needs more than {MAX_PARTS} parts; raise part_size"
                )));
            }
            while sending.len() >= PARTS_IN_FLIGHT {
                done.push(self.sent(key, sending.join_next().await)?);
            }
            sending.spawn(self.send_part(key, upload_id, number, part));
            number += 1;
            next = parts.next(part_size(self.part_size, number)).await?;
        }
        while let Some(r) = sending.join_next().await {
            done.push(self.sent(key, Some(r))?);
        }
        done.sort_by_key(CompletedPart::part_number);
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(done))
            .build();
        let req = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key);
        let req = req.upload_id(upload_id).multipart_upload(upload);
        req.send()
            .await
            .map_err(self.failed("CompleteMultipartUpload", key))?;
        Ok(parts.total())
    }

    /// One UploadPart, as a task of its own.
    fn send_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        part: Bytes,
    ) -> impl std::future::Future<Output = Result<CompletedPart, StoreError>> + Send + 'static {
        let req = self.client.upload_part().bucket(&self.bucket).key(key);
        let req = req
            .upload_id(upload_id)
            .part_number(number)
            .body(S3Body::from(part));
        let (bucket, key) = (self.bucket.clone(), key.to_owned());
        async move {
            let out = req.send().await.map_err(|e| {
                let e = DisplayErrorContext(&e);
                StoreError::backend(format!("S3 UploadPart {bucket}/{key}: {e}"))
            })?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .build())
        }
    }

    /// The outcome of a finished part task.
    fn sent(
        &self,
        key: &str,
        joined: Option<Result<Result<CompletedPart, StoreError>, tokio::task::JoinError>>,
    ) -> Result<CompletedPart, StoreError> {
        match joined {
            Some(Ok(r)) => r,
            Some(Err(e)) => Err(StoreError::backend(format!(
                "S3 UploadPart {key}: the task failed: {e}"
            ))),
            None => Err(StoreError::backend(format!(
                "S3 UploadPart {key}: no part was sending"
            ))),
        }
    }
}

/// The size of part `number` (from 1): `base` for the first
/// [`PARTS_PER_SIZE`], doubling every [`PARTS_PER_SIZE`] after, at most
/// S3's largest part.
fn part_size(base: usize, number: i32) -> usize {
    let doublings = u32::try_from((number - 1) / PARTS_PER_SIZE).unwrap_or(0);
    let size = (base as u64).saturating_mul(1u64 << doublings.min(20));
    usize::try_from(size.min(MAX_PART)).unwrap_or(usize::MAX)
}

/// True when `bucket` answers HeadBucket.
async fn is_visible(client: &Client, bucket: &str) -> bool {
    client.head_bucket().bucket(bucket).send().await.is_ok()
}

/// The HTTP status of a failed request, if the server answered.
fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// True when the object (not the bucket) is missing.
fn not_found<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    e.code() != Some("NoSuchBucket")
        && (matches!(e.code(), Some("NoSuchKey" | "NotFound")) || status(e) == Some(404))
}

/// Aborts a multipart upload if dropped while still holding the request
/// (the `put` future was dropped mid-upload): best effort, on a new task.
struct AbortOnDrop(Option<AbortMultipartUploadFluentBuilder>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(req) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(req.send());
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, StoreError> {
        validate_key(key)?;
        let (c, bucket) = (&self.client, &self.bucket);
        let mut parts = Pieces::new(body);
        let first = parts.next(self.part_size).await?.unwrap_or_default();
        if parts.at_end().await? {
            let req = c.put_object().bucket(bucket).key(key);
            let req = req.body(S3Body::from(first));
            req.send().await.map_err(self.failed("PutObject", key))?;
            return Ok(parts.total());
        }
        // More than one part: a multipart upload.
        let req = c.create_multipart_upload().bucket(bucket).key(key);
        let failed = self.failed("CreateMultipartUpload", key);
        let created = req.send().await.map_err(failed)?;
        let Some(upload_id) = created.upload_id else {
            return Err(StoreError::backend(format!(
                "S3 CreateMultipartUpload {key}: no upload id"
            )));
        };
        #[cfg(test)]
        let _ = self.last_upload.lock().unwrap().insert(upload_id.clone());
        let abort = c.abort_multipart_upload().bucket(bucket).key(key);
        let mut guard = AbortOnDrop(Some(abort.upload_id(&upload_id)));
        let result = self.upload_parts(key, &upload_id, first, &mut parts).await;
        if let (Err(_), Some(abort)) = (&result, guard.0.take())
            && let Err(e) = abort.send().await
        {
            let e = DisplayErrorContext(&e);
            tracing::warn!(%key, %upload_id, "aborting a failed multipart upload failed: {e}");
        }
        result
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StoreError> {
        validate_key(key)?;
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        let body = match req.send().await {
            Ok(out) => out.body,
            Err(e) if not_found(&e) => return Err(StoreError::NotFound(key.to_owned())),
            Err(e) => return Err(self.failed("GetObject", key)(e)),
        };
        // Read ahead on a task of its own; it stops when the reader goes.
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(READ_AHEAD);
        tokio::spawn(async move {
            let mut body = body;
            loop {
                let chunk = body.try_next().await.map_err(|e| {
                    io::Error::other(format!("reading an S3 object: {}", DisplayErrorContext(&e)))
                });
                let end = !matches!(chunk, Ok(Some(_)));
                let Some(item) = chunk.transpose() else {
                    return;
                };
                if tx.send(item).await.is_err() || end {
                    return;
                }
            }
        });
        let chunks =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        Ok(Box::pin(chunks))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, StoreError> {
        validate_key(key)?;
        let req = self.client.head_object().bucket(&self.bucket).key(key);
        match req.send().await {
            Ok(out) => match out.content_length().and_then(|n| u64::try_from(n).ok()) {
                Some(n) => Ok(Some(n)),
                None => Err(StoreError::backend(format!(
                    "S3 HeadObject {key}: no Content-Length"
                ))),
            },
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(self.failed("HeadObject", key)(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(self.failed("ListObjectsV2", prefix))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let req = self.client.delete_object().bucket(&self.bucket).key(key);
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(self.failed("DeleteObject", key)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn parts_grow_so_ten_thousand_always_suffice() {
        let base = 5 << 20;
        assert_eq!(part_size(base, 1), base);
        assert_eq!(part_size(base, 900), base);
        assert_eq!(part_size(base, 901), 2 * base);
        assert_eq!(part_size(base, 1801), 4 * base);
        let most: u64 = (1..=MAX_PARTS).map(|n| part_size(base, n) as u64).sum();
        assert!(
            most >= 5 << 40,
            "10,000 parts hold S3's largest object (5 TiB)"
        );
        assert_eq!(part_size(base, MAX_PARTS) as u64, MAX_PART);
    }

    async fn store(part_size: usize) -> Option<S3Store> {
        let b = agensium_testkit::testenv::s3().await?;
        let cfg = S3Config {
            endpoint: Some(b.endpoint),
            region: Some("us-east-1".into()),
            part_size,
            ..S3Config::new(b.bucket)
        };
        Some(S3Store::connect(cfg).await.unwrap())
    }

    #[tokio::test]
    async fn bodies_of_exact_part_multiples() {
        let Some(store) = store(5 << 20).await else {
            return;
        };
        for (len, chunk) in [
            (5usize << 20, 1usize << 20),
            (10 << 20, 3 << 20),
            ((5 << 20) + 1, 4096),
        ] {
            let data: Vec<u8> = (0..len).map(|i| u8::try_from(i % 253).unwrap()).collect();
            let chunks: Vec<std::io::Result<Bytes>> = data
                .chunks(chunk)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let key = format!("exact/{len}");
            let n = store
                .put(&key, Box::pin(futures::stream::iter(chunks)))
                .await
                .unwrap();
            assert_eq!(n, len as u64);
            let got =
                agensium_ports::object_store::collect(store.get(&key).await.unwrap(), 64 << 20)
                    .await
                    .unwrap();
            assert!(got == data, "{len} bytes came back different");
        }
    }

    #[tokio::test]
    async fn conformance() {
        // 5 MiB parts: the suite's 12 MiB object goes up in three parts.
        let Some(store) = store(5 << 20).await else {
            return;
        };
        agensium_testkit::conformance::object_store::run(std::sync::Arc::new(store)).await;
    }

    #[tokio::test]
    async fn failed_multipart_put_stores_nothing_and_aborts() {
        let Some(store) = store(5 << 20).await else {
            return;
        };
        let key = "broken/large.bin";
        let mut chunks: Vec<io::Result<Bytes>> = (0..6)
            .map(|_| Ok(Bytes::from(vec![1u8; 1 << 20])))
            .collect();
        chunks.push(Err(io::Error::other("client went away")));
        let err = store
            .put(key, Box::pin(futures::stream::iter(chunks)))
            .await;
        assert!(matches!(err, Err(StoreError::Body(_))), "{err:?}");
        assert_eq!(store.head(key).await.unwrap(), None);

        // The first 5 MiB part was uploaded; the upload must be gone.
        let upload_id = store.last_upload.lock().unwrap().clone();
        let upload_id = upload_id.expect("a 6 MiB body takes the multipart path");
        let (c, bucket) = (&store.client, &store.bucket);
        let parts = c.list_parts().bucket(bucket).key(key).upload_id(&upload_id);
        match parts.send().await {
            // s3s-fs lists whatever part files are left, even for unknown uploads.
            Ok(out) => assert!(out.parts().is_empty(), "parts left: {:?}", out.parts()),
            Err(e) => assert_eq!(e.code(), Some("NoSuchUpload"), "{e:?}"),
        }
        match c.list_multipart_uploads().bucket(bucket).send().await {
            Ok(out) => assert!(out.uploads().is_empty(), "pending: {:?}", out.uploads()),
            // s3s-fs 0.14 does not implement ListMultipartUploads.
            Err(e) if e.code() == Some("NotImplemented") => {
                eprintln!("note: the server lacks ListMultipartUploads");
            }
            Err(e) => panic!("ListMultipartUploads: {}", DisplayErrorContext(&e)),
        }
    }

    #[tokio::test]
    async fn dead_endpoint_is_a_clear_error() {
        let mut cfg = S3Config::new("agensium-nowhere");
        cfg.endpoint = Some("http://127.0.0.1:1".into());
        cfg.region = Some("us-east-1".into());
        let err = S3Store::connect(cfg).await.unwrap_err().to_string();
        assert!(err.contains("http://127.0.0.1:1"), "{err}");
        assert!(err.contains("agensium-nowhere"), "{err}");
        assert!(err.contains("HeadBucket"), "{err}");
    }

    #[tokio::test]
    async fn part_size_below_the_s3_minimum_is_refused() {
        let mut cfg = S3Config::new("b");
        cfg.part_size = 1 << 20;
        let err = S3Store::connect(cfg).await.unwrap_err().to_string();
        assert!(err.contains("part_size"), "{err}");
    }
}
