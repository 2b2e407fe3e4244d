//! API keys: `agk_<id>_<secret>`. The id (16 hex digits) is public and names
//! the key in listings, logs and job rows; the secret (256 random bits) is
//! shown once and stored only as a SHA-256 hash, compared in constant time.

use crate::{InvalidInput, Role, TeamName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

const PREFIX: &str = "agk_";
const ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;

/// The longest label a key may carry.
pub const MAX_KEY_NAME: usize = 64;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn random_hex<const N: usize>() -> Result<String, getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(crate::digest::hex(&buf))
}

/// A key's public id: 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// What [`KeyId`] accepts, as an ECMA-262 pattern (for the OpenAPI
    /// document).
    pub const PATTERN: &str = "^[0-9a-f]{16}$";

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_hex(s, ID_HEX) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput(format!(
                "invalid key id {s:?}: expected {ID_HEX} hex digits"
            )))
        }
    }
}

impl TryFrom<String> for KeyId {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256 of a whole key, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Constant-time comparison.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Lowercase hex, for storage.
    pub fn to_hex(&self) -> String {
        crate::digest::hex(&self.0)
    }
}

impl FromStr for KeyHash {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_hex(s, 64) {
            return Err(InvalidInput("invalid key hash".into()));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                .map_err(|_| InvalidInput("invalid key hash".into()))?;
        }
        Ok(Self(out))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(…)")
    }
}

/// A whole API key, secret included. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: KeyId,
    full: String,
}

impl ApiKey {
    /// A new random key.
    ///
    /// # Errors
    /// When the operating system's random source fails.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let id = KeyId(random_hex::<{ ID_HEX / 2 }>()?);
        let secret = random_hex::<{ SECRET_HEX / 2 }>()?;
        Ok(Self {
            full: format!("{PREFIX}{id}_{secret}"),
            id,
        })
    }

    /// The public id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The whole key, to show once.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// What is stored instead of the key.
    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.full.as_bytes()).into())
    }
}

impl FromStr for ApiKey {
    type Err = InvalidInput;
    /// Parses the shape only; whether the key exists is the store's to say.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidInput("malformed API key: expected agk_<id>_<secret>".into());
        let rest = s.strip_prefix(PREFIX).ok_or_else(bad)?;
        let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
        if !is_hex(secret, SECRET_HEX) {
            return Err(bad());
        }
        Ok(Self {
            id: id.parse().map_err(|_| bad())?,
            full: s.to_owned(),
        })
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({PREFIX}{}_…)", self.id)
    }
}

/// Why a stored key no longer opens anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    /// It was revoked.
    #[error("the API key was revoked")]
    Revoked,
    /// Its expiry has passed.
    #[error("the API key has expired")]
    Expired,
}

/// A key as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public id.
    pub id: KeyId,
    /// The team it belongs to.
    pub team: TeamName,
    /// What it may do.
    pub role: Role,
    /// A label (≤ [`MAX_KEY_NAME`] bytes).
    pub name: String,
    /// Hash of the whole key.
    pub hash: KeyHash,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    /// A record for a freshly generated key.
    pub fn new(
        key: &ApiKey,
        team: TeamName,
        role: Role,
        name: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            id: key.id().clone(),
            team,
            role,
            name,
            hash: key.hash(),
            created_at: crate::now_to_the_millisecond(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        }
    }

    /// Whether `key` is this record's key and still works at `now`.
    /// `Ok(false)`: another key with this id's shape (a forgery).
    ///
    /// # Errors
    /// [`KeyRefusal`] when the key is right but revoked or expired.
    pub fn check(&self, key: &ApiKey, now: DateTime<Utc>) -> Result<bool, KeyRefusal> {
        if !self.hash.matches(&key.hash()) {
            return Ok(false);
        }
        self.works_at(now).map(|()| true)
    }

    /// Whether this key (whoever holds it) still works at `now`.
    ///
    /// # Errors
    /// [`KeyRefusal`] when it is revoked or expired.
    pub fn works_at(&self, now: DateTime<Utc>) -> Result<(), KeyRefusal> {
        if self.revoked_at.is_some() {
            return Err(KeyRefusal::Revoked);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(KeyRefusal::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stated_pattern_is_the_rule() {
        assert_eq!(KeyId::PATTERN, format!("^[0-9a-f]{{{ID_HEX}}}$"));
    }

    #[test]
    fn keys_round_trip_and_hide_their_secret() {
        let k = ApiKey::generate().unwrap();
        let parsed: ApiKey = k.expose().parse().unwrap();
        assert_eq!(parsed, k);
        assert!(parsed.hash().matches(&k.hash()));
        assert!(!format!("{k:?}").contains(&k.expose()[25..]));
        let other = ApiKey::generate().unwrap();
        assert_ne!(other.id(), k.id());
        assert!(!other.hash().matches(&k.hash()));
        assert_eq!(
            k.hash().to_hex().parse::<KeyHash>().unwrap(),
            k.hash(),
            "hash round-trips through storage"
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "agk_",
            "agk_0123456789abcdef",
            "agk_0123456789abcdef_xyz",
            "Bearer agk_x",
            &format!("agk_0123456789ABCDEF_{}", "0".repeat(64)),
        ] {
            assert!(bad.parse::<ApiKey>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn revoked_and_expired_keys_are_told_apart_from_forgeries() {
        let k = ApiKey::generate().unwrap();
        let now = crate::now_to_the_millisecond();
        let mut rec = KeyRecord::new(&k, TeamName::default_team(), Role::Reader, "t".into(), None);
        assert_eq!(rec.check(&k, now), Ok(true));
        let forged: ApiKey = format!("agk_{}_{}", k.id(), "0".repeat(64))
            .parse()
            .unwrap();
        assert_eq!(rec.check(&forged, now), Ok(false));
        rec.expires_at = Some(now);
        assert_eq!(rec.check(&k, now), Err(KeyRefusal::Expired));
        rec.revoked_at = Some(now);
        assert_eq!(rec.check(&k, now), Err(KeyRefusal::Revoked));
    }
}
