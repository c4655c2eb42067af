//! Resource versions as weak ETags and the `If-Match` / `If-None-Match` checks
//! (RFC 7644 §3.14, RFC 9110 §13.1).

use std::fmt;

use super::error::ScimError;

/// A resource version; rendered as the weak ETag `W/"<n>"` in `meta.version` and `ETag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    pub fn of(version: i64) -> ETag {
        ETag(format!("W/\"{version}\""))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The opaque part, so `W/"3"` and `"3"` compare equal (weak comparison).
    fn opaque(tag: &str) -> &str {
        let tag = tag.trim();
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag.trim_matches('"')
    }

    /// Whether a header value (`*` or a comma-separated list of tags) names this version.
    pub fn matches_header(&self, header: &str) -> bool {
        header.split(',').map(str::trim).any(|tag| tag == "*" || Self::opaque(tag) == Self::opaque(&self.0))
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `If-Match` condition of a write; absent means unconditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    pub if_match: Option<String>,
}

impl Precondition {
    pub fn if_match(header: Option<String>) -> Precondition {
        Precondition { if_match: header }
    }

    /// 412 when the client's version is stale.
    pub fn check(&self, current: &ETag) -> Result<(), ScimError> {
        match &self.if_match {
            Some(header) if !current.matches_header(header) => Err(ScimError::precondition_failed(format!(
                "If-Match {header} does not match the current version {current}"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_weakly_and_honour_wildcards_and_lists() {
        let tag = ETag::of(3);
        assert_eq!(tag.as_str(), "W/\"3\"");
        for header in ["W/\"3\"", "\"3\"", "*", "W/\"1\", W/\"3\""] {
            assert!(tag.matches_header(header), "{header}");
        }
        for header in ["W/\"2\"", "\"30\"", ""] {
            assert!(!tag.matches_header(header), "{header}");
        }
    }

    #[test]
    fn a_stale_if_match_fails_with_412() {
        let stale = Precondition::if_match(Some("W/\"1\"".into()));
        assert_eq!(stale.check(&ETag::of(2)).unwrap_err().status, 412);
        assert!(Precondition::default().check(&ETag::of(2)).is_ok());
    }
}
