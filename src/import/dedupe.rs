//! The same person twice in one file: one user, written once at the person's last row, the later
//! rows' non-empty cells winning (seed 000: "one user profile, using the details from the last
//! entry").
//!
//! Rows are the same person when they share an identity key: the email, the username or the
//! external id, compared as rows are matched to stored users (emails and usernames lower-cased,
//! external ids exactly). Two passes over the file find them with memory that grows with the
//! people named more than once, not with the file:
//! - the scan feeds every row to be imported to a [`RepeatScan`], which keeps, for each key that
//!   several rows share, the last row that has it ([`Repeats`]);
//! - the pass folds each row with a [`PersonFolder`]: a row whose person appears again later is
//!   merged with the person's earlier rows and carried forward instead of written; the person's
//!   last row is written with all of them merged under it ([`PlannedRow::merged_over`]).
//!
//! A shared username alone does not make two rows one person: rows giving one username to two
//! different emails are two people, and the later one is a `conflict` ([`UserNameClaims`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde_json::Value;

use super::error::{IssueCode, RowIssue};
use super::row::{MatchKeys, PlannedRow};

/// One identity key of a row, hashed with its kind (an email and an external id with the same
/// text are different keys), so memory does not grow with the keys' lengths.
type IdentityKey = u64;

/// The identity keys of a row: its email, username and external id, those it has.
fn identity_keys(keys: &MatchKeys) -> Vec<IdentityKey> {
    [(0u8, &keys.email), (1, &keys.user_name), (2, &keys.external_id)]
        .into_iter()
        .filter_map(|(kind, key)| {
            let key = key.as_ref()?;
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (kind, key).hash(&mut hasher);
            Some(hasher.finish())
        })
        .collect()
}

/// Finds, while a scan reads a file, the identity keys that several of its rows share.
#[derive(Debug, Default)]
pub struct RepeatScan {
    /// Every key seen so far (keys only: half the memory of a large file's keys).
    seen: HashSet<IdentityKey>,
    /// The keys seen more than once, with the last row that has each.
    repeats: HashMap<IdentityKey, u64>,
}

impl RepeatScan {
    /// A scan of no rows yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a row to be imported; a commit of some rows records only those. Rows with errors
    /// are not imported and are not recorded.
    pub fn observe(&mut self, row: &PlannedRow) {
        if row.has_errors() {
            return;
        }
        for key in identity_keys(&row.keys) {
            if !self.seen.insert(key) {
                self.repeats.insert(key, row.row);
            }
        }
    }

    /// What the scan found; the keys seen once are forgotten.
    pub fn finish(self) -> Repeats {
        Repeats { last_rows: self.repeats }
    }
}

/// The identity keys that several rows of a file share, each with the last row that has it.
#[derive(Debug, Default)]
pub struct Repeats {
    last_rows: HashMap<IdentityKey, u64>,
}

impl Repeats {
    /// True when no person appears twice.
    pub fn is_empty(&self) -> bool {
        self.last_rows.is_empty()
    }

    /// The last row that has one of `keys`, when one of them is shared.
    fn last_row(&self, keys: &[IdentityKey]) -> Option<u64> {
        keys.iter().filter_map(|key| self.last_rows.get(key)).copied().max()
    }
}

/// What a row is once folded with the earlier rows of its person.
#[derive(Debug, PartialEq)]
pub enum Folded<'a> {
    /// The person appears again at the later row given: this row, merged with the person's
    /// earlier rows, is carried there instead of written.
    Superseded(PlannedRow, u64),
    /// The row to write: borrowed when its person has no earlier rows to merge, else merged.
    Apply(Cow<'a, PlannedRow>),
}

/// The rows of people who appear again later in the file, merged so far, by identity key.
#[derive(Debug, Default, Clone)]
pub struct PersonFolder {
    carried: HashMap<IdentityKey, PlannedRow>,
}

impl PersonFolder {
    /// A folder that carries nothing yet: the start of a pass.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges a row with the carried rows of its person, and carries it on when `repeats` says
    /// the person appears again later. Rows are folded in file order, each row the scan recorded
    /// exactly once; a row whose person the file names once is borrowed, not cloned.
    pub fn fold<'a>(&mut self, repeats: &Repeats, row: &'a PlannedRow) -> Folded<'a> {
        if row.has_errors() || repeats.is_empty() {
            return Folded::Apply(Cow::Borrowed(row));
        }
        let keys = identity_keys(&row.keys);
        if repeats.last_row(&keys).is_none() {
            // Not a person the file names twice (the scan knows them all): nothing to merge or carry.
            return Folded::Apply(Cow::Borrowed(row));
        }
        let mut merged = row.clone();
        for key in keys {
            if let Some(earlier) = self.carried.remove(&key) {
                for other in identity_keys(&earlier.keys) {
                    self.carried.remove(&other);
                }
                merged = merged.merged_over(&earlier);
            }
        }
        let keys = identity_keys(&merged.keys);
        match repeats.last_row(&keys) {
            Some(last) if last > merged.row => {
                for key in keys {
                    self.carried.insert(key, merged.clone());
                }
                Folded::Superseded(merged, last)
            }
            _ => Folded::Apply(Cow::Owned(merged)),
        }
    }
}

/// Which email each username of a file was first given to. A later row giving the same username
/// (compared case-insensitively, RFC 7643 §4.1.1) to a different email is another person claiming
/// it: a `conflict` naming the earlier row, never a merge. Rows without an email or a username
/// claim nothing. Memory grows with the number of distinct usernames, by about 30 bytes each:
/// usernames and emails are kept as 64-bit hashes, not as text (a 1,000,000-row file kept
/// ~150 MB of them as text, for the whole of each pass).
#[derive(Debug, Default)]
pub struct UserNameClaims {
    /// The username column's header, for the issues.
    column: Option<String>,
    /// Hash of the lower-cased username → the first row giving it with an email, and the hash of
    /// that email.
    holders: HashMap<u64, (u64, u64)>,
}

fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl UserNameClaims {
    /// An empty record for one file whose username column has the header `column`.
    pub fn new(column: Option<String>) -> Self {
        Self { column, holders: HashMap::new() }
    }

    /// Records a row's claim, or adds a `conflict` error to the row when another email holds
    /// its username. Rows with errors are not imported and claim nothing.
    pub fn observe(&mut self, row: &mut PlannedRow) {
        if row.has_errors() {
            return;
        }
        let (Some(user_name), Some(email)) = (&row.keys.user_name, &row.keys.email) else {
            return;
        };
        let email_hash = text_hash(email);
        match self.holders.get(&text_hash(user_name)) {
            None => {
                self.holders.insert(text_hash(user_name), (row.row, email_hash));
            }
            Some(&(first, holder)) if holder != email_hash => {
                let message = format!(
                    "row {first} gives the username \"{user_name}\" to another email, and this row gives it to \
                     {email}; two people cannot share one username, so give one of them a different username"
                );
                let written = row.attributes.get("userName").and_then(Value::as_str).unwrap_or(user_name).to_owned();
                let mut issue = RowIssue::error(row.row, IssueCode::Conflict, message).with_value(written);
                if let Some(column) = &self.column {
                    issue = issue.in_column(column.clone());
                }
                row.issues.push(issue);
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Planner, Profile, RawRow};

    fn rows(lines: &[&str]) -> Vec<PlannedRow> {
        let header = ["Email".to_owned(), "Username".to_owned()];
        let planner = Planner::new(&Profile::default_profile(), &header, 1).unwrap();
        let mut claims = UserNameClaims::new(Some("Username".to_owned()));
        (2..)
            .zip(lines)
            .map(|(row, line)| {
                let cells = line.split(',').map(str::to_owned).collect();
                let mut planned = planner.plan(RawRow { row, cells, malformed: None });
                claims.observe(&mut planned);
                planned
            })
            .collect()
    }

    fn codes(rows: &[PlannedRow]) -> Vec<Vec<IssueCode>> {
        rows.iter().map(|row| row.issues.iter().filter(|i| i.is_error()).map(|i| i.code).collect()).collect()
    }

    #[test]
    fn a_second_email_giving_a_taken_username_is_a_conflict_naming_the_first_row() {
        let planned = rows(&["ann@x.example,sam", "bo@x.example,SAM", "ANN@x.example,sam", ",sam"]);
        assert_eq!(codes(&planned), [vec![], vec![IssueCode::Conflict], vec![], vec![]]);
        let issue = &planned[1].issues[0];
        assert!(issue.message.contains("row 2") && issue.message.contains("\"sam\""), "{}", issue.message);
        assert_eq!((issue.column.as_deref(), issue.value.as_deref()), (Some("Username"), Some("SAM")));
    }
}
