//! A job's params, typed.

use crate::Failure;
use std::fmt::Display;
use std::str::FromStr;

/// The job's params as submitted (`param.KEY=VALUE`), in order.
///
/// Typed reads parse with [`FromStr`]; a value that does not parse is the
/// failure `invalid_params` with a message naming the key, so `?` is all
/// a processor writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Params from `key, value` pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The raw value of `key` (its last one if repeated).
    pub fn str(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` parsed as `T`, `None` when absent.
    pub fn get<T>(&self, key: &str) -> Result<Option<T>, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.str(key)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| Failure::invalid_params(format!("param {key:?} = {v:?}: {e}")))
            })
            .transpose()
    }

    /// `key` parsed as `T`, or `default` when absent.
    pub fn get_or<T>(&self, key: &str, default: T) -> Result<T, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// `key` parsed as `T`; absent is the failure `invalid_params`.
    pub fn require<T>(&self, key: &str) -> Result<T, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(key)?
            .ok_or_else(|| Failure::invalid_params(format!("param {key:?} is required")))
    }

    /// Every `key, value` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Logs a warning for each param whose key is not in `known` (a typo
    /// would otherwise go unnoticed).
    pub fn warn_unknown(&self, known: &[&str]) {
        for (k, _) in self.iter().filter(|(k, _)| !known.contains(k)) {
            crate::warn!("unknown param {k:?} ignored");
        }
    }
}
