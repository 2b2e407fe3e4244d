//! How large a job's body (input, output, log) may be to be kept inline
//! in its row of the metadata store instead of in the object store.

use crate::InvalidInput;

/// Bodies of at most this many bytes are kept inline with the job: a small
/// job then makes no object-store request at all. Larger ones stream
/// through the object store. Zero keeps nothing inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineLimit(u32);

impl InlineLimit {
    /// 64 KiB: a whole small job's bodies in a few database pages.
    pub const DEFAULT: Self = Self(64 * 1024);
    /// The largest limit accepted: 1 MiB (a row stays far below MySQL's
    /// default `max_allowed_packet`, and a worker holds at most this much
    /// of an output before it starts uploading).
    pub const MAX: u32 = 1 << 20;
    /// Nothing inline: every body goes through the object store.
    pub const NONE: Self = Self(0);

    /// A limit of `bytes`, or an error above [`InlineLimit::MAX`].
    pub fn new(bytes: u64) -> Result<Self, InvalidInput> {
        u32::try_from(bytes)
            .ok()
            .filter(|b| *b <= Self::MAX)
            .map(Self)
            .ok_or_else(|| {
                InvalidInput(format!(
                    "the inline limit is at most {} bytes, not {bytes}",
                    Self::MAX
                ))
            })
    }

    /// The limit in bytes.
    pub fn bytes(self) -> usize {
        self.0 as usize
    }

    /// Whether a body of `len` bytes is kept inline.
    pub fn keeps(self, len: usize) -> bool {
        self.0 > 0 && len <= self.bytes()
    }
}

impl Default for InlineLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_limit_and_nothing_when_zero() {
        let l = InlineLimit::new(10).unwrap();
        assert!(l.keeps(0) && l.keeps(10) && !l.keeps(11));
        assert!(!InlineLimit::NONE.keeps(0));
        assert!(InlineLimit::new(u64::from(InlineLimit::MAX) + 1).is_err());
        assert_eq!(InlineLimit::default().bytes(), 65536);
    }
}
