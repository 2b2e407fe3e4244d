//! Bounds on the key/value pairs that reach a job row from outside: a
//! submission's params (from a caller) and a summary's stats (from a
//! processor). Each bound keeps the stored JSON well inside its column
//! (MySQL: `params` MEDIUMTEXT, `stats` TEXT of 64 KiB), even when every
//! byte needs escaping, so a value too long for its column is refused or
//! cut here and never becomes a database error (which would be retried
//! as an infrastructure failure).

use crate::Pairs;
use crate::text::truncate_at_char_boundary;

/// Most params of one job.
pub const MAX_PARAMS: usize = 64;
/// Longest param key, in bytes.
pub const MAX_PARAM_KEY: usize = 128;
/// Longest param value, in bytes.
pub const MAX_PARAM_VALUE: usize = 64 << 10;
/// Most bytes of all param keys and values together (escaped as JSON, at
/// most 6× that: 1.5 MiB, well inside MEDIUMTEXT's 16 MiB).
pub const MAX_PARAMS_BYTES: usize = 256 << 10;

/// Most stats kept from a summary.
pub const MAX_STATS: usize = 64;
/// Longest stat key kept, in bytes.
pub const MAX_STAT_KEY: usize = 64;
/// Longest stat value kept, in bytes.
pub const MAX_STAT_VALUE: usize = 256;
/// Most bytes of the stats as stored (JSON): a quarter of a TEXT column.
pub const MAX_STATS_JSON: usize = 16 << 10;

/// Cuts `stats` to the bounds above (entries, key and value lengths, then
/// the JSON size, dropping entries from the end); how many entries were
/// dropped.
pub fn bound_stats(stats: &mut Pairs) -> usize {
    let before = stats.len();
    stats.truncate(MAX_STATS);
    for (k, v) in stats.iter_mut() {
        truncate_at_char_boundary(k, MAX_STAT_KEY);
        truncate_at_char_boundary(v, MAX_STAT_VALUE);
    }
    while json_len(stats) > MAX_STATS_JSON {
        stats.pop();
    }
    before - stats.len()
}

fn json_len(stats: &Pairs) -> usize {
    serde_json::to_string(stats).map_or(usize::MAX, |s| s.len())
}

/// Why a param was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// An empty key, or one over [`MAX_PARAM_KEY`] bytes.
    #[error("param keys are 1 to {MAX_PARAM_KEY} bytes; got {0} bytes")]
    Key(usize),
    /// The same key twice.
    #[error("param {0:?} is given twice")]
    Duplicate(String),
    /// A value over [`MAX_PARAM_VALUE`] bytes.
    #[error("param {0:?} is over {MAX_PARAM_VALUE} bytes")]
    Value(String),
    /// More than [`MAX_PARAMS`] params, or more than [`MAX_PARAMS_BYTES`].
    #[error("at most {MAX_PARAMS} params of {MAX_PARAMS_BYTES} bytes in all")]
    TooMany,
}

/// Params being collected from a request: checked as they come (duplicates
/// found in constant time each), so a hostile request costs linear time.
#[derive(Debug, Default)]
pub struct ParamsBuilder {
    pairs: Pairs,
    seen: std::collections::HashSet<String>,
    bytes: usize,
}

impl ParamsBuilder {
    /// Adds one param, or says why not.
    pub fn add(&mut self, key: &str, value: String) -> Result<(), ParamError> {
        if key.is_empty() || key.len() > MAX_PARAM_KEY {
            return Err(ParamError::Key(key.len()));
        }
        if value.len() > MAX_PARAM_VALUE {
            return Err(ParamError::Value(key.to_owned()));
        }
        let bytes = self.bytes + key.len() + value.len();
        if self.pairs.len() == MAX_PARAMS || bytes > MAX_PARAMS_BYTES {
            return Err(ParamError::TooMany);
        }
        if !self.seen.insert(key.to_owned()) {
            return Err(ParamError::Duplicate(key.to_owned()));
        }
        self.bytes = bytes;
        self.pairs.push((key.to_owned(), value));
        Ok(())
    }

    /// True when no param was added.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The params, in the order given.
    pub fn finish(self) -> Pairs {
        self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_fit_their_column_even_when_every_byte_is_escaped() {
        let mut stats: Pairs = (0..100)
            .map(|i| (format!("k{i}\u{1}"), "\u{1}".repeat(1000)))
            .collect();
        let dropped = bound_stats(&mut stats);
        assert!(dropped > 36, "{dropped}");
        assert!(json_len(&stats) <= MAX_STATS_JSON);
        assert!(
            stats
                .iter()
                .all(|(k, v)| k.len() <= MAX_STAT_KEY && v.len() <= MAX_STAT_VALUE)
        );
    }

    #[test]
    fn params_are_bounded_and_unique() {
        let mut p = ParamsBuilder::default();
        p.add("a", "1".into()).unwrap();
        assert_eq!(
            p.add("a", "2".into()),
            Err(ParamError::Duplicate("a".into()))
        );
        assert_eq!(p.add("", "x".into()), Err(ParamError::Key(0)));
        assert_eq!(
            p.add(&"k".repeat(129), "x".into()),
            Err(ParamError::Key(129))
        );
        assert!(matches!(
            p.add("big", "v".repeat(MAX_PARAM_VALUE + 1)),
            Err(ParamError::Value(_))
        ));
        for i in 1..MAX_PARAMS {
            p.add(&format!("p{i}"), String::new()).unwrap();
        }
        assert_eq!(p.add("one_more", String::new()), Err(ParamError::TooMany));
        assert_eq!(p.finish().len(), MAX_PARAMS);
        let mut big = ParamsBuilder::default();
        for i in 0..3 {
            big.add(&format!("b{i}"), "v".repeat(MAX_PARAM_VALUE))
                .unwrap();
        }
        big.add("b3", "v".repeat(60_000)).unwrap();
        assert_eq!(big.add("b4", "v".repeat(10_000)), Err(ParamError::TooMany));
    }
}
