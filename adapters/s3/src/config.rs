//! Where an S3 object store lives and how to reach it.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

/// Where an [`S3Store`] keeps its objects and how it uploads them.
/// Credentials always come from the standard AWS chain
/// (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, instance roles…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket that holds every object; it must exist (see
    /// [`S3Store::create_bucket`]).
    pub bucket: String,
    /// Endpoint URL of a self-hosted server (MinIO, Garage, s3s-fs), e.g.
    /// `http://127.0.0.1:9000`; requests then use path-style addressing.
    /// `None`: AWS S3 (or `AWS_ENDPOINT_URL` when set).
    pub endpoint: Option<String>,
    /// The region; `None`: from the AWS chain (`AWS_REGION`, profile), else
    /// `us-east-1`.
    pub region: Option<String>,
    /// Size in bytes of each multipart-upload part, and the largest body sent
    /// with a single PutObject. A `put` buffers about this much. Between
    /// 5 MiB and 5 GiB; an object may have at most 10,000 parts.
    pub part_size: usize,
}

impl S3Config {
    /// The default part size: 5 MiB, the S3 minimum, so that a streaming
    /// upload holds as little as possible (objects up to ~48 GiB).
    pub const DEFAULT_PART_SIZE: usize = 5 << 20;

    /// AWS S3 (region and credentials from the environment), 5 MiB parts.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            endpoint: None,
            region: None,
            part_size: Self::DEFAULT_PART_SIZE,
        }
    }

    /// The bucket and endpoint, for messages.
    pub(super) fn describe(&self) -> String {
        let at = self
            .endpoint
            .as_deref()
            .unwrap_or("the default AWS endpoint");
        format!("bucket {:?} at {at}", self.bucket)
    }

    /// A client for this endpoint and region (credentials: the AWS chain).
    pub(super) async fn client(&self) -> Client {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        // Flexible checksums only when an operation requires them: Garage
        // checks multipart checksums strictly, other servers lack them.
        let mut b = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            b = b.region(Region::from_static("us-east-1"));
        }
        if let Some(endpoint) = &self.endpoint {
            b = b.endpoint_url(endpoint).force_path_style(true);
        }
        Client::from_conf(b.build())
    }
}
