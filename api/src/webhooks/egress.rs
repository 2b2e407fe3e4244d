//! The webhook HTTP client: TLS with the system's roots, no proxy, no
//! redirects, and unless the operator allows private addresses, a resolver
//! that drops every non-public address a name resolves to, so a name cannot
//! point a delivery at the host's loopback, its network or a cloud
//! metadata endpoint (checked at each connection: no rebinding window).

use super::WebhookSettings;
use agensium_domain::is_public_ip;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A name that resolved to no public address.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0} resolves to no public address")]
pub struct Refused(String);

/// Resolves names to their public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = all.filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The client deliveries are made with.
pub fn client(s: &WebhookSettings) -> Result<reqwest::Client, reqwest::Error> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(s.timeout)
        .connect_timeout(s.timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(4)
        .user_agent(concat!("agensium-webhooks/", env!("CARGO_PKG_VERSION")));
    if !s.allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build()
}

/// The refusal inside `e`, if that is why it failed.
pub(super) fn refusal(e: &reqwest::Error) -> Option<String> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<Refused>() {
            return Some(r.to_string());
        }
        cause = c.source();
    }
    None
}
