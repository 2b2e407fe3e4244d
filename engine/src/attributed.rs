//! What a processor reports about itself (its summary, its failure), bounded
//! and checked before it reaches a job row, a header or a log.

use super::bindings;
use super::joblog::JobLog;
use agensium_domain::{ErrorCode, JobError, Pairs, bound_stats};
#[cfg(test)]
use agensium_domain::{MAX_STAT_KEY, MAX_STAT_VALUE, MAX_STATS};

/// Longest content type kept, in bytes.
pub(super) const MAX_CONTENT_TYPE: usize = 127;

/// A failure the processor returned: its code attributed
/// ([`ErrorCode::from_processor`]), its message bounded ([`JobError::new`]).
pub(super) fn failure(f: bindings::Failure) -> JobError {
    JobError::new(ErrorCode::from_processor(&f.code), f.message)
}

/// A summary the processor returned: stats within their bounds
/// ([`bound_stats`]: at most 64, each key and value cut, the
/// whole small enough for its column), and a content type kept only when
/// it is a plausible media type (it becomes the result's `Content-Type`
/// header). What is dropped is noted in the job's log.
pub(super) fn summary(s: bindings::Summary, log: &JobLog) -> (Option<String>, Pairs) {
    let mut stats = s.stats;
    let given = stats.len();
    if bound_stats(&mut stats) > 0 {
        log.line(
            "agensium",
            &format!("kept {} of {given} stats", stats.len()),
        );
    }
    let content_type = s.content_type.filter(|t| {
        let ok = is_media_type(t);
        if !ok {
            log.line(
                "agensium",
                "content type dropped: not a media type of at most 127 bytes",
            );
        }
        ok
    });
    (content_type, stats)
}

/// `type/subtype` with optional `; parameters`, visible ASCII only: no
/// control characters (no header injection), bounded.
fn is_media_type(t: &str) -> bool {
    let visible = |b: u8| (0x20..0x7f).contains(&b);
    let essence = t.split(';').next().unwrap_or_default().trim();
    !t.is_empty()
        && t.len() <= MAX_CONTENT_TYPE
        && t.bytes().all(visible)
        && essence
            .split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(is_media_type("application/json"));
        assert!(is_media_type("text/csv; charset=utf-8"));
        assert!(!is_media_type("text/html\r\nSet-Cookie: x=1"));
        assert!(!is_media_type("json"));
        assert!(!is_media_type(&format!("a/{}", "b".repeat(200))));
        assert!(!is_media_type("é/x"));
    }

    #[test]
    fn summaries_are_bounded() {
        let log = JobLog::new(1 << 10);
        let s = bindings::Summary {
            content_type: Some("text/plain\n".into()),
            stats: (0..100)
                .map(|i| (format!("k{i}{}", "é".repeat(100)), "v".repeat(5000)))
                .collect(),
        };
        let (ct, stats) = summary(s, &log);
        assert_eq!(ct, None);
        assert!(stats.len() <= MAX_STATS && !stats.is_empty());
        assert!(
            stats
                .iter()
                .all(|(k, v)| k.len() <= MAX_STAT_KEY && v.len() <= MAX_STAT_VALUE)
        );
        assert!(serde_json::to_string(&stats).unwrap().len() <= agensium_domain::MAX_STATS_JSON);
        let text = String::from_utf8(log.contents()).unwrap();
        assert!(
            text.contains(&format!("kept {} of 100 stats", stats.len()))
                && text.contains("content type dropped"),
            "{text}"
        );
    }
}
