//! Email addresses as a type: parsed once with a practical validator, then trusted.
//!
//! The validator accepts what mail systems deliver in practice (RFC 5321 length limits, dot-atom
//! local parts, internationalised domain labels) and rejects what spreadsheets typically get
//! wrong: a missing `@` or domain, spaces, two addresses in one cell, `Name <address>` forms,
//! trailing dots. Quoted local parts and IP-literal domains are legal but not accepted: no
//! provisioning directory uses them, and their presence in a CSV is far more likely a mistake.

use std::fmt;

/// An email address that passed [`EmailAddress::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why a cell is not a usable email address; its `Display` is the admin-facing explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    /// No `@` at all.
    MissingAt,
    /// More than one `@`, usually two addresses in one cell.
    SeveralAt,
    /// A space or other whitespace inside the address.
    Whitespace,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// Nothing after the `@`.
    EmptyDomain,
    /// A character that cannot appear in this position.
    ForbiddenChar(char),
    /// A dot at the start or end of the local part, or two dots in a row.
    MisplacedDot,
    /// The domain has no dot, so no top-level domain (`jane@company`).
    NoTopLevelDomain,
    /// A domain label is empty, too long or starts/ends with a hyphen.
    BadDomainLabel(String),
    /// The top-level domain is a single character or only digits.
    BadTopLevelDomain(String),
    /// The address or its local part exceeds the RFC 5321 limits.
    TooLong,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingAt => f.write_str("it has no \"@\""),
            Self::SeveralAt => f.write_str("it has more than one \"@\" (one address per cell)"),
            Self::Whitespace => f.write_str("it contains a space"),
            Self::EmptyLocalPart => f.write_str("nothing comes before the \"@\""),
            Self::EmptyDomain => f.write_str("the domain after the \"@\" is missing"),
            Self::ForbiddenChar('<' | '>') => {
                f.write_str("it contains \"<\" or \">\"; write only the address, without a name")
            }
            Self::ForbiddenChar(c) => write!(f, "it contains the character \"{c}\""),
            Self::MisplacedDot => f.write_str("a dot is at the start or end of the name, or doubled"),
            Self::NoTopLevelDomain => f.write_str("the domain has no dot (e.g. \"@example.com\")"),
            Self::BadDomainLabel(label) => write!(f, "the domain part \"{label}\" is not valid"),
            Self::BadTopLevelDomain(tld) => write!(f, "\".{tld}\" is not a top-level domain"),
            Self::TooLong => f.write_str("it is longer than email allows (254 characters, 64 before the \"@\")"),
        }
    }
}

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

impl EmailAddress {
    /// Parses an address; the input must already be trimmed (inner whitespace is an error).
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        if let Some(c) = input.chars().find(|c| matches!(c, '<' | '>')) {
            return Err(EmailError::ForbiddenChar(c));
        }
        if input.chars().any(char::is_whitespace) {
            return Err(EmailError::Whitespace);
        }
        let (local, domain) = match input.split_once('@') {
            None => return Err(EmailError::MissingAt),
            Some((_, domain)) if domain.contains('@') => return Err(EmailError::SeveralAt),
            Some(parts) => parts,
        };
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        if domain.is_empty() {
            return Err(EmailError::EmptyDomain);
        }
        if input.len() > 254 || local.len() > 64 {
            return Err(EmailError::TooLong);
        }
        if let Some(c) = local.chars().find(|c| !c.is_alphanumeric() && !LOCAL_SPECIALS.contains(*c)) {
            return Err(EmailError::ForbiddenChar(c));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::MisplacedDot);
        }
        if let Some(c) = domain.chars().find(|c| !c.is_alphanumeric() && !matches!(c, '.' | '-')) {
            return Err(EmailError::ForbiddenChar(c));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(EmailError::NoTopLevelDomain);
        }
        for label in &labels {
            let bad = label.is_empty() || label.chars().count() > 63 || label.starts_with('-') || label.ends_with('-');
            if bad {
                return Err(EmailError::BadDomainLabel((*label).to_owned()));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.chars().count() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(EmailError::BadTopLevelDomain(tld.to_owned()));
        }
        Ok(Self(input.to_owned()))
    }

    /// The address as written (after whatever normalisation the caller applied before parsing).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`: the generated username of seed 001.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(local, _)| local)
    }

    /// The address itself.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_addresses_people_actually_have() {
        let good = [
            "jsmith@example.com",
            "Jane.Doe@Example.COM",
            "first.last+tag@sub.example.co.uk",
            "o'neil@example.ie",
            "user_name-1@xn--bcher-kva.example",
            "josé@bücher.de",
            "a@b.io",
            "x!#$%&*/=?^`{|}~@example.org",
        ];
        for address in good {
            assert!(EmailAddress::parse(address).is_ok(), "{address} should be accepted");
        }
    }

    #[test]
    fn rejects_spreadsheet_mistakes_with_the_reason() {
        let bad = [
            ("bad-email", EmailError::MissingAt),
            ("a@b@example.com", EmailError::SeveralAt),
            ("jane doe@example.com", EmailError::Whitespace),
            ("@example.com", EmailError::EmptyLocalPart),
            ("jane@", EmailError::EmptyDomain),
            ("Jane <jane@example.com>", EmailError::ForbiddenChar('<')),
            ("<jane@example.com>", EmailError::ForbiddenChar('<')),
            ("jane,bob@example.com", EmailError::ForbiddenChar(',')),
            (".jane@example.com", EmailError::MisplacedDot),
            ("jane.@example.com", EmailError::MisplacedDot),
            ("ja..ne@example.com", EmailError::MisplacedDot),
            ("john.doe@domain", EmailError::NoTopLevelDomain),
            ("jane@example.com.", EmailError::BadDomainLabel(String::new())),
            ("jane@-example.com", EmailError::BadDomainLabel("-example".into())),
            ("jane@example.c", EmailError::BadTopLevelDomain("c".into())),
            ("jane@10.0.0.1", EmailError::BadTopLevelDomain("1".into())),
            ("jane@exa_mple.com", EmailError::ForbiddenChar('_')),
            ("mailto:jane@example.com", EmailError::ForbiddenChar(':')),
        ];
        for (address, expected) in bad {
            assert_eq!(EmailAddress::parse(address), Err(expected), "{address}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long_local), Err(EmailError::TooLong));
    }

    #[test]
    fn local_part_is_what_comes_before_the_at() {
        let email = EmailAddress::parse("jane.doe@example.com").unwrap();
        assert_eq!(email.local_part(), "jane.doe");
    }
}
