//! A value that never prints.

use std::fmt;

/// A setting that may hold a password (a database or Redis URL). `Debug`
/// and `Display` show it with the password replaced by `***`; only
/// [`Secret::expose`] gives the value itself, to the one adapter that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: hand it to a driver, never to a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", redact(&self.0))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Removes the password of a `scheme://user:password@host` URL; anything
/// that is not such a URL is hidden whole.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let Some((auth, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let s = Secret::new("mysql://root:hunter2@db:3306/x");
        assert_eq!(s.to_string(), "mysql://root:***@db:3306/x");
        assert_eq!(format!("{s:?}"), "Secret(mysql://root:***@db:3306/x)");
        assert!(!format!("{s:?}{s}").contains("hunter2"));
        assert_eq!(s.expose(), "mysql://root:hunter2@db:3306/x");
        assert_eq!(redact("mysql://root@db/x"), "mysql://root@db/x");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact("hunter2"), "***");
    }
}
