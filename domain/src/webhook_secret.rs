//! A team's webhook signing secret, `whsec_` and 64 hex digits, and the
//! signature it puts on a delivery: `t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>`, as Stripe signs its webhooks.

use crate::InvalidInput;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "whsec_";
const HEX: usize = 64;

/// The secret a team's receivers check deliveries with. Never printed:
/// `Debug` and `Display` show only its prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A new random secret (256 bits).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut buf = [0u8; HEX / 2];
        getrandom::fill(&mut buf)?;
        Ok(Self(format!("{PREFIX}{}", crate::digest::hex(&buf))))
    }

    /// The secret itself, for the one answer that shows it and for storage.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `Agensium-Signature` header value of `body` sent at `timestamp`
    /// (Unix seconds).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        format!("t={timestamp},v1={}", crate::digest::hex(&tag))
    }
}

impl FromStr for WebhookSecret {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix(PREFIX) {
            Some(h) if h.len() == HEX && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self(s.to_owned()))
            }
            _ => Err(InvalidInput("malformed webhook secret".into())),
        }
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({PREFIX}…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_round_trip() {
        let s = WebhookSecret::generate().unwrap();
        assert_eq!(s.expose().parse::<WebhookSecret>().unwrap(), s);
        assert!(!format!("{s:?}").contains(&s.expose()[PREFIX.len()..]));
        assert!("whsec_zz".parse::<WebhookSecret>().is_err());
    }

    #[test]
    fn the_signature_is_stripes_scheme() {
        let s: WebhookSecret = format!("{PREFIX}{}", "ab".repeat(32)).parse().unwrap();
        // HMAC-SHA256 of "1700000000.{}" under that key, by `openssl dgst`.
        let sig = s.sign(1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=b92e2f8ad8c0846d4cf9c719c9dfa0fa0dcff77f004615fb3f922c6ffe96915b"
        );
        assert_ne!(sig, s.sign(1_700_000_001, b"{}"));
    }
}
