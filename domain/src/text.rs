//! Bounding strings that come from outside.

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub fn truncate_at_char_boundary(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}
