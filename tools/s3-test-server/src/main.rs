//! `agensium-s3-test-server`: the S3 server of Agensium's tests and benches.
//!
//! s3s-fs's `FileSystem` (objects as files under a root directory) served by
//! the `s3s` library, with two differences from the `s3s-fs` binary:
//!
//! * every accepted connection has `TCP_NODELAY` set. The `s3s-fs` binary
//!   leaves Nagle's algorithm on, so a response written in two pieces
//!   (headers, then body) waits for the client's delayed ACK: ~40 ms per
//!   request on loopback, which benchmarks then report as ours;
//! * it counts the requests it answers, by method, and serves the counts at
//!   `GET /_agensium/requests` (no bucket can be named `_agensium`), so a
//!   benchmark reads how many S3 requests a workload made.
//!
//! s3s-fs keeps a multipart upload's metadata in a file named after
//! base64(bucket) + base64(key): with a file name limit of 255 bytes, a
//! bucket name and key over about 150 bytes together fail with
//! `InternalError` (ENAMETOOLONG). The tests and benches use short bucket
//! names for that reason.
//!
//! Usage: `agensium-s3-test-server --host H --port P --access-key K
//! --secret-key S ROOT`.

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, HttpError, HttpResponse};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// Where the request counts are served.
const STATS_PATH: &str = "/_agensium/requests";

/// The command line.
struct Opt {
    host: String,
    port: u16,
    access_key: String,
    secret_key: String,
    root: PathBuf,
}

fn parse_args() -> Result<Opt, String> {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut ak, mut sk, mut root) = (None, None, None, None, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--host" => host = Some(value()?),
            "--port" => port = Some(value()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--access-key" => ak = Some(value()?),
            "--secret-key" => sk = Some(value()?),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => root = Some(PathBuf::from(a)),
        }
    }
    Ok(Opt {
        host: host.unwrap_or_else(|| "127.0.0.1".into()),
        port: port.ok_or("--port is required")?,
        access_key: ak.ok_or("--access-key is required")?,
        secret_key: sk.ok_or("--secret-key is required")?,
        root: root.ok_or("the root directory is required")?,
    })
}

/// Requests answered, by method.
#[derive(Default)]
struct Counts {
    get: AtomicU64,
    put: AtomicU64,
    post: AtomicU64,
    head: AtomicU64,
    delete: AtomicU64,
    other: AtomicU64,
}

impl Counts {
    fn count(&self, method: &hyper::Method) {
        let c = match *method {
            hyper::Method::GET => &self.get,
            hyper::Method::PUT => &self.put,
            hyper::Method::POST => &self.post,
            hyper::Method::HEAD => &self.head,
            hyper::Method::DELETE => &self.delete,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `{"GET":n,…}`.
    fn json(&self) -> String {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            r#"{{"GET":{},"PUT":{},"POST":{},"HEAD":{},"DELETE":{},"other":{}}}"#,
            l(&self.get),
            l(&self.put),
            l(&self.post),
            l(&self.head),
            l(&self.delete),
            l(&self.other)
        )
    }
}

/// Answers the counts, or counts the request and hands it to s3s.
async fn handle(
    s3: S3Service,
    counts: Arc<Counts>,
    req: hyper::Request<Incoming>,
) -> Result<HttpResponse, HttpError> {
    if req.uri().path() == STATS_PATH {
        let mut resp = HttpResponse::new(Body::from(counts.json()));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        return Ok(resp);
    }
    counts.count(req.method());
    s3.call(req.map(Body::from)).await
}

#[tokio::main]
async fn main() {
    let opt = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("agensium-s3-test-server: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(opt).await {
        eprintln!("agensium-s3-test-server: {e}");
        std::process::exit(1);
    }
}

async fn serve(opt: Opt) -> Result<(), Box<dyn std::error::Error>> {
    let fs = s3s_fs::FileSystem::new(&opt.root).map_err(|e| format!("{e:?}"))?;
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(opt.access_key, opt.secret_key));
    let s3 = b.build();
    let counts = Arc::new(Counts::default());
    let listener = TcpListener::bind((opt.host.as_str(), opt.port)).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    let http = Builder::new(TokioExecutor::new());
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // The point of this binary (see the module doc).
        if let Err(e) = socket.set_nodelay(true) {
            eprintln!("setting TCP_NODELAY failed: {e}");
        }
        let (s3, counts) = (s3.clone(), counts.clone());
        let service = service_fn(move |req| handle(s3.clone(), counts.clone(), req));
        let conn = http
            .serve_connection(TokioIo::new(socket), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
