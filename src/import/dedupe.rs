//! The same person twice in one file: one user, the last row's values, a warning per extra row.
//!
//! Rows are matched to each other the way the runner matches them to stored users (by email,
//! then username, then external id), so a row that would update the user an earlier row created is
//! recognised as the same person. Memory grows with the number of distinct keys, not with the
//! rows' contents.
//!
//! The deduper cannot know, while streaming, that a row will be superseded later; it tells the
//! runner at the later row instead ([`Supersession`]). The runner merges by applying rows in file
//! order: the later row updates the user the earlier one resolved to, its non-empty cells win, and
//! the person gets one invitation.
//!
//! A shared username alone does not make two rows one person: rows giving one username to two
//! different emails are two people, and the later one is a `conflict` ([`UserNameClaims`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{IssueCode, RowIssue};
use super::row::PlannedRow;

/// Which key made two rows the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The primary email.
    Email,
    /// The username.
    UserName,
    /// The external id.
    ExternalId,
}

impl KeyKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::UserName => "username",
            Self::ExternalId => "external id",
        }
    }
}

/// "Row `row` supersedes row `supersedes`": both are the person first seen at `first_row`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supersession {
    /// The later row, whose values win.
    pub row: u64,
    /// The previous row of the same person.
    pub supersedes: u64,
    /// The first row of the person in the file.
    pub first_row: u64,
    /// Which key matched.
    pub matched_by: KeyKind,
    /// The key's value.
    pub key: String,
}

#[derive(Debug, Clone, Copy)]
struct Person {
    first_row: u64,
    last_row: u64,
}

/// Tracks the people seen so far in a file.
#[derive(Debug, Default)]
pub struct FileDeduper {
    emails: HashMap<Box<str>, usize>,
    user_names: HashMap<Box<str>, usize>,
    external_ids: HashMap<Box<str>, usize>,
    people: Vec<Person>,
}

impl FileDeduper {
    /// An empty tracker for one file (or one selection of rows to commit).
    pub fn new() -> Self {
        Self::default()
    }

    /// Distinct people seen so far.
    pub fn people(&self) -> usize {
        self.people.len()
    }

    /// Records a row. Rows with errors are not imported and are not recorded. A row that repeats an
    /// earlier person gets a `duplicate_in_file` warning and `supersedes` set; a row whose keys
    /// point at two different earlier people gets a `conflict` error.
    pub fn observe(&mut self, row: &mut PlannedRow) -> Option<Supersession> {
        if row.has_errors() {
            return None;
        }
        let keys: Vec<(KeyKind, String)> = [
            (KeyKind::Email, row.keys.email.clone()),
            (KeyKind::UserName, row.keys.user_name.clone()),
            (KeyKind::ExternalId, row.keys.external_id.clone()),
        ]
        .into_iter()
        .filter_map(|(kind, key)| key.map(|key| (kind, key)))
        .collect();
        let found: Vec<(KeyKind, &str, usize)> = keys
            .iter()
            .filter_map(|(kind, key)| self.map(*kind).get(key.as_str()).map(|&person| (*kind, key.as_str(), person)))
            .collect();
        if let Some((first_kind, first_key, person)) = found.first().copied() {
            if let Some((kind, key, other)) = found.iter().copied().find(|(_, _, other)| *other != person) {
                let message = format!(
                    "{} \"{first_key}\" is the person of row {} but {} \"{key}\" is another person's, in row {}; \
                     correct one of them",
                    first_kind.describe(),
                    self.people[person].last_row,
                    kind.describe(),
                    self.people[other].last_row,
                );
                row.issues.push(RowIssue::error(row.row, IssueCode::Conflict, message).with_value(key.to_owned()));
                return None;
            }
            let previous = self.people[person];
            let supersession = Supersession {
                row: row.row,
                supersedes: previous.last_row,
                first_row: previous.first_row,
                matched_by: first_kind,
                key: first_key.to_owned(),
            };
            self.people[person].last_row = row.row;
            self.register(&keys, person);
            row.supersedes = Some(previous.last_row);
            row.issues.push(
                RowIssue::warning(
                    row.row,
                    IssueCode::DuplicateInFile,
                    format!(
                        "same person as row {} ({} \"{}\"); one user is imported with the values of the last row, so \
                         this row's values replace row {}'s",
                        previous.last_row,
                        first_kind.describe(),
                        supersession.key,
                        previous.last_row,
                    ),
                )
                .with_value(supersession.key.clone()),
            );
            return Some(supersession);
        }
        let person = self.people.len();
        self.people.push(Person { first_row: row.row, last_row: row.row });
        self.register(&keys, person);
        None
    }

    fn map(&self, kind: KeyKind) -> &HashMap<Box<str>, usize> {
        match kind {
            KeyKind::Email => &self.emails,
            KeyKind::UserName => &self.user_names,
            KeyKind::ExternalId => &self.external_ids,
        }
    }

    fn register(&mut self, keys: &[(KeyKind, String)], person: usize) {
        for (kind, key) in keys {
            let map = match kind {
                KeyKind::Email => &mut self.emails,
                KeyKind::UserName => &mut self.user_names,
                KeyKind::ExternalId => &mut self.external_ids,
            };
            map.entry(key.as_str().into()).or_insert(person);
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
