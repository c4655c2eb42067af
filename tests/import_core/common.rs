//! Helpers shared by the integration tests.

use std::path::PathBuf;

use std::borrow::Cow;
use std::sync::Arc;

use roster::import::{plan_rows, Folded, IssueCode, PersonFolder, PlannedRow, Profile, ReaderOptions, RepeatScan};
use serde_json::Value;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn profile_fixture(name: &str) -> Profile {
    let json = String::from_utf8(fixture(name)).unwrap();
    Profile::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Plans a file as the runner's passes do: a scan finds the rows claiming a taken username, then
/// every row is planned with those conflicts.
pub fn plan_bytes(bytes: &[u8], profile: &Profile, options: &ReaderOptions) -> Vec<PlannedRow> {
    let read = || {
        plan_rows(bytes, profile, options)
            .unwrap_or_else(|e| panic!("the file was rejected: {e}"))
            .map(|row| row.unwrap_or_else(|e| panic!("reading failed: {e}")))
    };
    let mut scan = RepeatScan::new();
    read().for_each(|row| scan.observe(&row).unwrap());
    let conflicts = Arc::new(scan.finish().unwrap().conflicts);
    plan_rows(bytes, profile, options)
        .unwrap()
        .with_user_name_conflicts(conflicts)
        .map(|row| row.unwrap_or_else(|e| panic!("reading failed: {e}")))
        .collect()
}

pub fn plan(text: &str, profile: &Profile) -> Vec<PlannedRow> {
    plan_bytes(text.as_bytes(), profile, &ReaderOptions::default())
}

pub fn codes(row: &PlannedRow) -> Vec<IssueCode> {
    row.issues.iter().map(|issue| issue.code).collect()
}

/// Compares a planned row with an expectation that lists only the fields it cares about. Listed
/// fields must be equal, except `issues`, whose entries list only the issue fields they care about
/// (and must be as many as the row's issues).
pub fn assert_row(row: &PlannedRow, expected: &Value, context: &str) {
    let actual = serde_json::to_value(row).unwrap();
    for (key, want) in expected.as_object().expect("expectations are objects") {
        let got = &actual[key.as_str()];
        if key == "issues" {
            let (got, want) = (got.as_array().unwrap(), want.as_array().unwrap());
            assert_eq!(got.len(), want.len(), "{context}: issues {got:#?}");
            for (got, want) in got.iter().zip(want) {
                for (field, value) in want.as_object().unwrap() {
                    assert_eq!(&got[field.as_str()], value, "{context}: issue field {field} in {got:#?}");
                }
            }
        } else {
            assert_eq!(got, want, "{context}: field {key}");
        }
    }
}

/// What the runner makes of a row once the same person's rows are folded together.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Written as planned (borrowed: its person has no earlier rows).
    AsPlanned,
    /// Written merged with the person's earlier rows.
    Merged(Box<PlannedRow>),
    /// Not written: the person appears again at this later row, which it is carried to.
    CarriedTo(u64),
}

/// Scans the rows to import (`selected`, all when `None`) as the runner's scan does, then folds
/// every one of them in file order as its pass does.
pub fn fold_selected(rows: &[PlannedRow], selected: Option<&[u64]>) -> Vec<Fate> {
    let chosen = |row: &PlannedRow| selected.is_none_or(|selected| selected.contains(&row.row));
    let mut scan = RepeatScan::new();
    rows.iter().filter(|row| chosen(row)).for_each(|row| scan.observe(row).unwrap());
    let repeats = scan.finish().unwrap().repeats;
    let mut folder = PersonFolder::new();
    rows.iter()
        .filter(|row| chosen(row))
        .map(|row| match folder.fold(&repeats, row) {
            Folded::Apply(Cow::Borrowed(_)) => Fate::AsPlanned,
            Folded::Apply(Cow::Owned(merged)) => Fate::Merged(Box::new(merged)),
            Folded::Superseded(_, last) => Fate::CarriedTo(last),
        })
        .collect()
}

/// [`fold_selected`] of all rows.
pub fn fold(rows: &[PlannedRow]) -> Vec<Fate> {
    fold_selected(rows, None)
}

/// The row each row is carried to, `None` for rows written.
pub fn carried_to(fates: &[Fate]) -> Vec<Option<u64>> {
    fates.iter().map(|fate| if let Fate::CarriedTo(row) = fate { Some(*row) } else { None }).collect()
}

/// The merged row written for a person, panicking when `fate` is not one.
pub fn merged(fate: &Fate) -> &PlannedRow {
    match fate {
        Fate::Merged(row) => row,
        other => panic!("expected a merged row, got {other:?}"),
    }
}
