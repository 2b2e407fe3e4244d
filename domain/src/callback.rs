//! Webhooks: where a job's end is announced (`callback_url`), how that
//! delivery went and the team secret that signs it. Which addresses a
//! delivery may reach is decided by [`crate::is_public_ip`].

use crate::InvalidInput;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The longest `callback_url` accepted.
pub const MAX_CALLBACK_URL: usize = 2048;

/// The longest outcome text kept of one delivery attempt.
pub const MAX_CALLBACK_OUTCOME: usize = 200;

/// An absolute `http`/`https` URL with a host, no credentials and no
/// fragment, at most [`MAX_CALLBACK_URL`] bytes: parsed once, then trusted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallbackUrl(url::Url);

impl CallbackUrl {
    /// The URL as sent.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The host when it is an IP address literal (no name to resolve).
    pub fn literal_ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(_) => None,
        }
    }
}

impl FromStr for CallbackUrl {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| InvalidInput(format!("invalid callback_url: {why}"));
        if s.len() > MAX_CALLBACK_URL {
            return Err(bad(&format!("longer than {MAX_CALLBACK_URL} bytes")));
        }
        let u = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(bad("credentials in the URL are not accepted"));
        }
        if u.fragment().is_some() {
            return Err(bad("a fragment is not accepted"));
        }
        if u.as_str().len() > MAX_CALLBACK_URL {
            return Err(bad(&format!("longer than {MAX_CALLBACK_URL} bytes")));
        }
        Ok(Self(u))
    }
}

impl TryFrom<String> for CallbackUrl {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CallbackUrl> for String {
    fn from(u: CallbackUrl) -> Self {
        u.0.into()
    }
}

impl fmt::Display for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallbackUrl({:?})", self.as_str())
    }
}

/// How a job's webhook stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet: the job has not ended, or an attempt is due.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up: attempts exhausted, or the address is refused.
    Failed,
}

impl DeliveryState {
    /// As stored and answered.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryState {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            _ => Err(InvalidInput(format!("unknown delivery state {s:?}"))),
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's webhook and the record of its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// Where the job's end is POSTed.
    pub url: CallbackUrl,
    /// How the delivery stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// What the last attempt got (`HTTP 500`, `timed out`, …), at most
    /// [`MAX_CALLBACK_OUTCOME`] bytes.
    pub last_outcome: Option<String>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl Callback {
    /// A webhook not delivered yet.
    pub fn new(url: CallbackUrl) -> Self {
        Self {
            url,
            state: DeliveryState::Pending,
            attempts: 0,
            last_outcome: None,
            last_attempt_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        for ok in ["https://example.com/hook", "http://10.0.0.1:8080/x?a=b"] {
            assert_eq!(ok.parse::<CallbackUrl>().unwrap().as_str(), ok);
        }
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "/relative",
            "http://",
            "file:///etc/passwd",
        ] {
            assert!(bad.parse::<CallbackUrl>().is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_CALLBACK_URL));
        assert!(long.parse::<CallbackUrl>().is_err());
    }

    #[test]
    fn states_round_trip() {
        for s in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ] {
            assert_eq!(s.as_str().parse::<DeliveryState>().unwrap(), s);
        }
    }
}
