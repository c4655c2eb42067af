//! Opaque cursors for cursor-based pagination (RFC 9865): where the next or previous page of a
//! listing starts, bound to the query that issued them.
//!
//! A cursor is `base64url(checksum ‖ JSON)`: the sort key of the row the page starts after (or
//! before), the total counted on the first page, when it was issued, and a fingerprint of the
//! endpoint, tenant, filter and sort. Only unreserved URL characters appear (RFC 9865 §2). The
//! checksum catches corrupted or edited cursors; a forged one gains nothing, since every page is
//! still read within the caller's tenant and filter.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, Filter};
use super::schema::ResourceKind;

const FORMAT_VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 8;
const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The position of one row in a listing's order: its sort value (text; `None` when the row has
/// none), creation time and id. Together they order every row of a listing totally, so a page
/// can start right after (or before) any row without counting the rows in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub sort_value: Option<String>,
    #[serde(rename = "c")]
    pub created: String,
    #[serde(rename = "i")]
    pub id: String,
}

/// Which way a cursor reads from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// The page after the key (`nextCursor`).
    #[serde(rename = "n")]
    Next,
    /// The page before the key (`previousCursor`).
    #[serde(rename = "p")]
    Previous,
}

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub direction: Direction,
    /// The resource type of the key's row (listings at the root span several).
    pub resource_type: ResourceKind,
    pub key: SortKey,
    /// `totalResults` as counted on the walk's first page, repeated on later pages so that they
    /// need no count.
    pub total_results: Option<u64>,
    /// Seconds since the Unix epoch.
    pub issued_at: i64,
}

/// What a cursor is bound to: the endpoint, tenant, filter and sort of the query that issued it.
/// RFC 9865 §2: later pages repeat every parameter of the first request except `cursor`. The
/// filter counts in its canonical form, case folded, so respelling a keyword or attribute name
/// does not orphan a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFingerprint(String);

impl QueryFingerprint {
    pub fn of(endpoint: &str, tenant: &str, filter: Option<&Filter>, sort: Option<(&AttrPath, bool)>) -> Self {
        let filter = filter.map(|f| f.to_string().to_lowercase()).unwrap_or_default();
        let sort = sort.map(|(path, descending)| format!("{}:{descending}", path.to_string().to_lowercase()));
        let canonical = format!("{endpoint}\n{tenant}\n{filter}\n{}", sort.unwrap_or_default());
        let digest = Sha256::digest(canonical.as_bytes());
        QueryFingerprint(digest[..12].iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    d: Direction,
    r: String,
    k: SortKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<u64>,
    a: i64,
    q: String,
}

fn resource_type_code(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(bytes);
    let mut out = [0; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// 400 `invalidCursor` (RFC 9865 §2.1).
pub fn invalid_cursor(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidCursor, detail)
}

impl Cursor {
    /// The opaque text handed to the client as `nextCursor` / `previousCursor`.
    pub fn encode(&self, query: &QueryFingerprint) -> String {
        let payload = Payload {
            v: FORMAT_VERSION,
            d: self.direction,
            r: resource_type_code(self.resource_type).to_string(),
            k: self.key.clone(),
            t: self.total_results,
            a: self.issued_at,
            q: query.0.clone(),
        };
        let json = serde_json::to_vec(&payload).expect("a cursor payload always serializes");
        let mut bytes = checksum(&json).to_vec();
        bytes.extend_from_slice(&json);
        ENGINE.encode(bytes)
    }

    /// Reads a cursor issued for `query`: 400 `invalidCursor` when it is damaged or belongs to
    /// another query, 400 `expiredCursor` when older than `timeout_secs` at `now`
    /// (RFC 9865 §2.1).
    pub fn decode(text: &str, query: &QueryFingerprint, now: i64, timeout_secs: u64) -> Result<Cursor, ScimError> {
        let damaged =
            || invalid_cursor("the cursor is not one this server issued: pass nextCursor or previousCursor unchanged");
        let bytes = ENGINE.decode(text.trim()).map_err(|_| damaged())?;
        if bytes.len() <= CHECKSUM_LEN {
            return Err(damaged());
        }
        let (sum, json) = bytes.split_at(CHECKSUM_LEN);
        if sum != checksum(json) {
            return Err(damaged());
        }
        let payload: Payload = serde_json::from_slice(json).map_err(|_| damaged())?;
        let resource_type = match payload.r.as_str() {
            "User" => ResourceKind::User,
            "Group" => ResourceKind::Group,
            _ => return Err(damaged()),
        };
        if payload.v != FORMAT_VERSION {
            return Err(damaged());
        }
        if payload.q != query.0 {
            return Err(invalid_cursor(
                "the cursor belongs to another query: repeat the endpoint, filter, sortBy and sortOrder of the first page",
            ));
        }
        let age = now.saturating_sub(payload.a);
        if age > i64::try_from(timeout_secs).unwrap_or(i64::MAX) {
            return Err(ScimError::bad_request(
                ScimType::ExpiredCursor,
                format!("the cursor expired: request the next page within {timeout_secs} seconds (cursorTimeout)"),
            ));
        }
        Ok(Cursor {
            direction: payload.d,
            resource_type,
            key: payload.k,
            total_results: payload.t,
            issued_at: payload.a,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::{parse_attr_path, parse_filter};

    fn fingerprint(filter: &str) -> QueryFingerprint {
        let sort = parse_attr_path("userName").unwrap();
        QueryFingerprint::of("/Users", "acme", Some(&parse_filter(filter).unwrap()), Some((&sort, false)))
    }

    fn cursor() -> Cursor {
        Cursor {
            direction: Direction::Next,
            resource_type: ResourceKind::User,
            key: SortKey {
                sort_value: Some("bjensen".into()),
                created: "2026-01-01T00:00:00.000000Z".into(),
                id: "2819c223".into(),
            },
            total_results: Some(250),
            issued_at: 1_000,
        }
    }

    #[test]
    fn a_cursor_round_trips_with_only_unreserved_characters() {
        let query = fingerprint("active eq true");
        let text = cursor().encode(&query);
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{text}");
        assert_eq!(Cursor::decode(&text, &query, 1_010, 600).unwrap(), cursor());
    }

    #[test]
    fn equivalent_filters_share_a_fingerprint_and_different_ones_do_not() {
        assert_eq!(fingerprint("active eq true"), fingerprint("ACTIVE Eq TRUE"));
        assert_ne!(fingerprint("active eq true"), fingerprint("active eq false"));
        let other_tenant =
            QueryFingerprint::of("/Users", "globex", Some(&parse_filter("active eq true").unwrap()), None);
        assert_ne!(fingerprint("active eq true"), other_tenant);
    }

    #[test]
    fn damaged_foreign_and_stale_cursors_are_refused_with_their_scim_types() {
        let query = fingerprint("active eq true");
        let text = cursor().encode(&query);
        let mut edited = text.clone().into_bytes();
        let middle = edited.len() / 2;
        edited[middle] = if edited[middle] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(edited).unwrap();
        for bad in [edited.as_str(), "", "x", "not a cursor!", &text[..text.len() - 4]] {
            let error = Cursor::decode(bad, &query, 1_010, 600).unwrap_err();
            assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidCursor)), "{bad:?}");
        }
        let foreign = Cursor::decode(&text, &fingerprint("active eq false"), 1_010, 600).unwrap_err();
        assert_eq!(foreign.scim_type, Some(ScimType::InvalidCursor));
        assert!(foreign.detail.contains("another query"));
        let stale = Cursor::decode(&text, &query, 1_000 + 601, 600).unwrap_err();
        assert_eq!((stale.status, stale.scim_type), (400, Some(ScimType::ExpiredCursor)));
    }
}
