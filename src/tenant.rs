//! The tenant a request acts for: taken only from the caller's verified token.

use std::fmt;

/// A tenant identifier. Every stored row carries one and every query is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// Accepts 1–128 characters of letters, digits, `-`, `_`, `.` and `:`, so a tenant id is
    /// safe in logs, paths and file names.
    pub fn parse(raw: &str) -> Result<TenantId, String> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(valid_char) {
            return Err(format!("tenant {raw:?} must be 1-128 characters of letters, digits, '-', '_', '.', ':'"));
        }
        Ok(TenantId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_restricted_to_safe_characters() {
        for ok in ["acme", "acme-corp_1", "org:42", "a.b"] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "x'--", &"a".repeat(129)] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }
}
