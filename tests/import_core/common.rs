//! Helpers shared by the integration tests.

use std::path::PathBuf;

use roster::import::{plan_rows, IssueCode, PlannedRow, Profile, ReaderOptions};
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

pub fn plan_bytes(bytes: &[u8], profile: &Profile, options: &ReaderOptions) -> Vec<PlannedRow> {
    plan_rows(bytes, profile, options)
        .unwrap_or_else(|e| panic!("the file was rejected: {e}"))
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
