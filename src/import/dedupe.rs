//! The same person twice in one file: one user, written once at the person's last row, the later
//! rows' non-empty cells winning (seed 000: "one user profile, using the details from the last
//! entry").
//!
//! Rows are the same person when they share an identity key: the email, the username or the
//! external id, compared as rows are matched to stored users (emails and usernames lower-cased,
//! external ids exactly). Two passes over the file find them:
//! - the scan feeds every row to a [`RepeatScan`], which sorts the keys of the whole file (in
//!   memory for an ordinary file, in sorted runs on disk past a fixed bound: [`ExternalSort`]) and
//!   keeps, for each key that several rows share, the last row that has it ([`Repeats`]);
//! - the pass folds each row with a [`PersonFolder`]: a row whose person appears again later is
//!   merged with the person's earlier rows and carried forward instead of written; the person's
//!   last row is written with all of them merged under it ([`PlannedRow::merged_over`]).
//!
//! A shared username alone does not make two rows one person: rows giving one username to two
//! different emails are two people, and the later one is a `conflict` ([`UserNameConflicts`], also
//! found by the scan). Keys are compared as text, never as hashes: two people are never merged
//! because their keys collide. Memory grows with the keys a file repeats and its conflicts, not
//! with the file.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io;

use serde_json::Value;

use super::error::{IssueCode, RowIssue};
use super::row::{MatchKeys, PlannedRow};
use super::spill::ExternalSort;

/// One identity key of a row: a byte saying its kind (an email and an external id with the same
/// text are different keys), then its text.
type IdentityKey = Vec<u8>;

/// The identity keys of a row: its email, username and external id, those it has.
fn identity_keys(keys: &MatchKeys) -> Vec<IdentityKey> {
    [(b'e', &keys.email), (b'u', &keys.user_name), (b'x', &keys.external_id)]
        .into_iter()
        .filter_map(|(kind, key)| {
            let key = key.as_ref()?;
            let mut identity = Vec::with_capacity(1 + key.len());
            identity.push(kind);
            identity.extend_from_slice(key.as_bytes());
            Some(identity)
        })
        .collect()
}

/// Memory a [`RepeatScan`] sorts in before it spills to disk, by default: enough for the keys of
/// ~150,000 rows, so an ordinary file never touches the disk.
pub const DEFAULT_SCAN_MEMORY: usize = 32 * 1024 * 1024;

/// Finds, while a scan reads a file, the identity keys that several of its rows share and the
/// rows that claim another email's username.
#[derive(Debug)]
pub struct RepeatScan {
    /// Lower-cased username → row, email: every row without errors that gives both.
    claims: ExternalSort,
    /// Identity key → row: every key of the rows to import.
    keys: ExternalSort,
}

impl Default for RepeatScan {
    fn default() -> Self {
        Self::new()
    }
}

impl RepeatScan {
    /// A scan of no rows yet, sorting in [`DEFAULT_SCAN_MEMORY`].
    pub fn new() -> Self {
        Self::with_memory(DEFAULT_SCAN_MEMORY)
    }

    /// A scan that holds about `memory` bytes of keys, then spills sorted runs to temporary files.
    /// A third goes to the username claims, whose records are about half the size of a row's keys.
    pub fn with_memory(memory: usize) -> Self {
        let claims = memory / 3;
        Self { claims: ExternalSort::new(claims), keys: ExternalSort::new(memory - claims) }
    }

    /// Records a row to be imported; a commit of some rows records only those, and notes the
    /// others with [`RepeatScan::observe_unselected`]. Rows with errors are not imported and are
    /// not recorded.
    pub fn observe(&mut self, row: &PlannedRow) -> io::Result<()> {
        self.observe_unselected(row)?;
        if row.has_errors() {
            return Ok(());
        }
        for key in identity_keys(&row.keys) {
            self.keys.push(&key, row.row, &[])?;
        }
        Ok(())
    }

    /// Records a row left out of a commit: its username claim still holds against other rows.
    pub fn observe_unselected(&mut self, row: &PlannedRow) -> io::Result<()> {
        if row.has_errors() {
            return Ok(());
        }
        if let (Some(user_name), Some(email)) = (&row.keys.user_name, &row.keys.email) {
            self.claims.push(user_name.as_bytes(), row.row, email.as_bytes())?;
        }
        Ok(())
    }

    /// What the scan found; the keys seen once are forgotten.
    pub fn finish(self) -> io::Result<FileRepeats> {
        let mut conflicts = HashMap::new();
        let mut holder: Option<(Vec<u8>, u64, Vec<u8>)> = None;
        for claim in self.claims.finish()? {
            let claim = claim?;
            match &holder {
                Some((user_name, first, email)) if *user_name == claim.key => {
                    if *email != claim.value {
                        conflicts.insert(claim.row, *first);
                    }
                }
                _ => holder = Some((claim.key, claim.row, claim.value)),
            }
        }
        let mut last_rows = HashMap::new();
        let mut current: Option<(Vec<u8>, u64, bool)> = None;
        let mut close = |current: Option<(Vec<u8>, u64, bool)>| {
            if let Some((key, last, true)) = current {
                last_rows.insert(key, last);
            }
        };
        for record in self.keys.finish()? {
            let record = record?;
            if conflicts.contains_key(&record.row) {
                // A conflicting row is not imported: it repeats nobody.
                continue;
            }
            match &mut current {
                Some((key, last, repeated)) if *key == record.key => {
                    *last = record.row;
                    *repeated = true;
                }
                _ => close(current.replace((record.key, record.row, false))),
            }
        }
        close(current);
        Ok(FileRepeats { repeats: Repeats { last_rows }, conflicts: UserNameConflicts { first_rows: conflicts } })
    }
}

/// What a [`RepeatScan`] found in a file.
#[derive(Debug, Default)]
pub struct FileRepeats {
    /// The people several rows to import name.
    pub repeats: Repeats,
    /// The rows giving a username that an earlier row gave to another email.
    pub conflicts: UserNameConflicts,
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
    /// The last rows of carried people that a row in between named as its manager
    /// ([`PersonFolder::carried_manager`]): one per person at most, like `carried`.
    named_as_manager: HashSet<u64>,
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

    /// The later row at which the manager a row names (by email) is written, when that person
    /// appeared in an earlier row and is carried to that later one: the row names the user that
    /// row will write. Asked right after the row is folded; the answer is remembered for
    /// [`PersonFolder::take_named_as_manager`].
    pub fn carried_manager(&mut self, repeats: &Repeats, row: &PlannedRow) -> Option<u64> {
        let email = row.manager_email.as_deref().filter(|_| !row.has_errors() && !self.carried.is_empty())?;
        let key = identity_keys(&MatchKeys { email: Some(email.to_lowercase()), ..MatchKeys::default() });
        let carried = self.carried.get(key.first()?)?;
        let last = repeats.last_row(&identity_keys(&carried.keys)).filter(|last| *last > row.row)?;
        self.named_as_manager.insert(last);
        Some(last)
    }

    /// Whether an earlier row named the person written at `row` as its manager, through
    /// [`PersonFolder::carried_manager`]; forgets it.
    pub fn take_named_as_manager(&mut self, row: u64) -> bool {
        self.named_as_manager.remove(&row)
    }
}

/// The rows of a file that give a username (compared case-insensitively, RFC 7643 §4.1.1) to
/// another email than the first row giving it: another person claiming it, a `conflict` naming the
/// earlier row, never a merge. Rows without an email or a username claim nothing. Found by the
/// scan ([`RepeatScan`]), applied to each row as a pass reads it ([`crate::import::PlannedRows`]).
#[derive(Debug, Default)]
pub struct UserNameConflicts {
    /// Conflicting row → the first row that gave its username to an email.
    first_rows: HashMap<u64, u64>,
}

impl UserNameConflicts {
    /// How many rows conflict.
    pub fn len(&self) -> usize {
        self.first_rows.len()
    }

    /// True when no row conflicts.
    pub fn is_empty(&self) -> bool {
        self.first_rows.is_empty()
    }

    /// Adds the `conflict` error to a row that the scan found claiming a taken username;
    /// `column` is the username column's header, for the issue.
    pub fn check(&self, row: &mut PlannedRow, column: Option<&str>) {
        if row.has_errors() {
            return;
        }
        let (Some(first), Some(user_name), Some(email)) =
            (self.first_rows.get(&row.row), &row.keys.user_name, &row.keys.email)
        else {
            return;
        };
        let message = format!(
            "row {first} gives the username \"{user_name}\" to another email, and this row gives it to \
             {email}; two people cannot share one username, so give one of them a different username"
        );
        let written = row.attributes.get("userName").and_then(Value::as_str).unwrap_or(user_name).to_owned();
        let mut issue = RowIssue::error(row.row, IssueCode::Conflict, message).with_value(written);
        if let Some(column) = column {
            issue = issue.in_column(column.to_owned());
        }
        row.issues.push(issue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Planner, Profile, RawRow};

    /// Plans `lines` (email, username, external id), scans them within `memory` bytes and applies
    /// the conflicts found, as the runner does.
    fn scanned(lines: &[&str], memory: usize) -> (Vec<PlannedRow>, Repeats) {
        let header = ["Email".to_owned(), "Username".to_owned(), "External ID".to_owned()];
        let planner = Planner::new(&Profile::default_profile(), &header, 1).unwrap();
        let mut rows: Vec<PlannedRow> = (2..)
            .zip(lines)
            .map(|(row, line)| {
                let cells = line.split(',').map(str::to_owned).collect();
                planner.plan(RawRow { row, cells, malformed: None })
            })
            .collect();
        let mut scan = RepeatScan::with_memory(memory);
        rows.iter().for_each(|row| scan.observe(row).unwrap());
        let found = scan.finish().unwrap();
        rows.iter_mut().for_each(|row| found.conflicts.check(row, Some("Username")));
        (rows, found.repeats)
    }

    fn codes(rows: &[PlannedRow]) -> Vec<Vec<IssueCode>> {
        rows.iter().map(|row| row.issues.iter().filter(|i| i.is_error()).map(|i| i.code).collect()).collect()
    }

    #[test]
    fn a_second_email_giving_a_taken_username_is_a_conflict_naming_the_first_row() {
        for memory in [DEFAULT_SCAN_MEMORY, 1] {
            let (planned, _) =
                scanned(&["ann@x.example,sam,", "bo@x.example,SAM,", "ANN@x.example,sam,", ",sam,"], memory);
            assert_eq!(codes(&planned), [vec![], vec![IssueCode::Conflict], vec![], vec![]], "memory {memory}");
            let issue = &planned[1].issues[0];
            assert!(issue.message.contains("row 2") && issue.message.contains("\"sam\""), "{}", issue.message);
            assert_eq!((issue.column.as_deref(), issue.value.as_deref()), (Some("Username"), Some("SAM")));
        }
    }

    #[test]
    fn the_scan_finds_the_same_repeats_in_memory_and_spilled_to_disk() {
        let lines: Vec<String> = (0..300)
            .map(|i| match (i % 10, i % 20) {
                // one email every 10 rows, each time with its own username: the same person
                (0, _) => format!("p{}@x.example,u{i},", i % 40),
                // the username of the row 3 above under another email: a conflict, imported never
                (_, 3) => format!("q{i}@x.example,u{},X-{}", i - 3, i % 7),
                (_, 13) => format!("q{i}@x.example,,X-{}", i % 7),
                _ => format!("r{i}@x.example,,"),
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (in_memory, repeats) = scanned(&lines, DEFAULT_SCAN_MEMORY);
        let (spilled, spilled_repeats) = scanned(&lines, 256);
        assert_eq!(in_memory, spilled);
        assert_eq!(repeats.last_rows, spilled_repeats.last_rows);
        assert!(codes(&in_memory).iter().any(|c| c.contains(&IssueCode::Conflict)), "the file has conflicts");
        assert!(repeats.last_rows.contains_key(b"ep0@x.example".as_slice()), "p0 is repeated");
        assert_eq!(repeats.last_rows.get(b"xX-0".as_slice()), Some(&(2 + 273)), "X-0's last row is data row 273");
    }

    #[test]
    fn a_row_naming_as_manager_a_person_carried_past_it_learns_the_row_that_person_is_written_at() {
        let header = ["Email".to_owned(), "Manager Email".to_owned()];
        let planner = Planner::new(&Profile::default_profile(), &header, 1).unwrap();
        let lines = [
            "ann@x.example,",
            "bo@x.example,",
            "dee@x.example,ANN@x.example",
            "cy@x.example,bo@x.example",
            "eve@x.example,cy@x.example",
            "ann@x.example,",
            "fay@x.example,ann@x.example",
        ];
        let rows: Vec<PlannedRow> = (2..)
            .zip(lines)
            .map(|(row, line)| {
                planner.plan(RawRow { row, cells: line.split(',').map(str::to_owned).collect(), malformed: None })
            })
            .collect();
        let mut scan = RepeatScan::new();
        rows.iter().for_each(|row| scan.observe(row).unwrap());
        let repeats = scan.finish().unwrap().repeats;
        let mut folder = PersonFolder::new();
        let mut later = Vec::new();
        for row in &rows {
            if let Folded::Apply(row) = folder.fold(&repeats, row) {
                later.push((row.row, folder.carried_manager(&repeats, &row)));
            }
        }
        // Ann (rows 2 and 7) is named at row 4, before her last row, and at row 8, after it; bo and
        // cy are listed once, so written at their own rows.
        assert_eq!(later, [(3, None), (4, Some(7)), (5, None), (6, None), (7, None), (8, None)]);
        assert!(folder.take_named_as_manager(7), "row 7 is told that an earlier row named its person");
        assert!(!folder.take_named_as_manager(7) && !folder.take_named_as_manager(4));
    }

    #[test]
    fn keys_are_compared_as_text_not_by_kind_alone() {
        let (_, repeats) = scanned(&["a@x.example,a,a@x.example", "b@x.example,b,"], 1);
        assert!(repeats.is_empty(), "an email and an external id with the same text are different keys");
    }
}
