//! What a processor reports when it finished.

/// A successful run's summary: the output's media type and a few
/// statistics (the host keeps at most 64).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Media type of the output; `application/octet-stream` when `None`.
    pub content_type: Option<String>,
    /// Key/value statistics, e.g. `rows` = `100000`.
    pub stats: Vec<(String, String)>,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the output's media type.
    #[must_use]
    pub fn content_type(mut self, media_type: impl Into<String>) -> Self {
        self.content_type = Some(media_type.into());
        self
    }

    /// Adds a statistic.
    #[must_use]
    pub fn stat(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.stats.push((key.into(), value.to_string()));
        self
    }

    /// The value of a statistic, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.stats
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
