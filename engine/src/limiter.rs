//! The store limiter that enforces a job's memory limit.

/// A [`wasmtime::ResourceLimiter`] that refuses growth past the limit and
/// remembers that it did, so that the resulting trap is reported as
/// `memory_limit` rather than as a guest panic.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: u64,
    /// Bytes currently reserved by all memories of the store.
    current: u64,
    /// Highest value of `current`.
    pub peak: u64,
    /// Set when a growth was refused.
    pub hit: bool,
}

impl Limiter {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            current: 0,
            peak: 0,
            hit: false,
        }
    }
}

const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = (desired - current) as u64;
        if self.current + grow > self.limit {
            self.hit = true;
            return Ok(false);
        }
        self.current += grow;
        self.peak = self.peak.max(self.current);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn counts_all_memories_and_refuses_past_limit() {
        let mut l = Limiter::new(100);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 30, None).unwrap());
        assert!(!l.memory_growing(30, 50, None).unwrap());
        assert!(l.hit);
        assert_eq!(l.peak, 90);
    }
}
