//! Encodings and volume: a Windows-1252 file, and a million rows streamed with bounded read-ahead.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use crate::common::{fixture, plan_bytes};
use roster::import::{plan_rows, IssueCode, Profile, ReaderOptions, RepeatScan, SourceEncoding};
use serde_json::json;

#[test]
fn a_windows_1252_file_is_rejected_naming_the_first_bad_row() {
    let bytes = fixture("windows_1252.csv");
    let mut rows = plan_rows(bytes.as_slice(), &Profile::default_profile(), &ReaderOptions::default()).unwrap();
    let first = rows.next().unwrap().unwrap();
    assert_eq!(first.attributes["displayName"], json!("Ann Lee"));
    let Some(Err(error)) = rows.next() else { panic!("row 3 is not UTF-8") };
    let issue = &error.issues()[0];
    assert_eq!((issue.row, issue.code), (3, IssueCode::EncodingError));
    assert_eq!(issue.column.as_deref(), Some("Display Name"));
    assert_eq!(issue.value.as_deref(), Some("Jos\u{FFFD} Garc\u{FFFD}a"));
    assert!(
        issue.message.starts_with(
            "row 3 is not valid UTF-8 (byte 0xE9 in column \"Display Name\": \"Jos\u{FFFD} Garc\u{FFFD}a\"); the file \
             looks like Windows-1252 or Latin-1"
        ),
        "{}",
        issue.message
    );
    assert!(rows.next().is_none(), "nothing is read after a rejection");
}

#[test]
fn a_windows_1252_file_is_transcoded_when_the_option_says_so() {
    let options = ReaderOptions { transcode_legacy: true, ..ReaderOptions::default() };
    let bytes = fixture("windows_1252.csv");
    let planned = plan_rows(bytes.as_slice(), &Profile::default_profile(), &options).unwrap();
    assert!(planned.errors_csv_format().bom);
    let rows = plan_bytes(&bytes, &Profile::default_profile(), &options);
    let names: Vec<_> = rows.iter().map(|r| r.attributes["displayName"].clone()).collect();
    assert_eq!(names, vec![json!("Ann Lee"), json!("José García"), json!("François Müller")]);
    assert_eq!(
        rows[2].attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        json!("Réception – Empfang"),
        "0x96 is an en dash in Windows-1252, not a C1 control as in Latin-1"
    );
    let mut planned = plan_rows(bytes.as_slice(), &Profile::default_profile(), &options).unwrap();
    planned.by_ref().for_each(drop);
    assert_eq!(planned.encoding(), SourceEncoding::Windows1252);
}

const ROWS: u64 = 1_000_000;
const BLANK_EVERY: u64 = 250_000;
const HEADER: &str = "Email,Display Name,Status,Groups,Department\n";

fn line(i: u64) -> String {
    let blank = if i % BLANK_EVERY == 0 { "\n" } else { "" };
    format!("{blank}user{i}@example.com,\"User {i}, Jr\",Active,Staff;Team {},Dept {}\n", i % 50, i % 20)
}

/// Produces the file on the fly, counting the bytes handed out.
struct Generated {
    next: u64,
    buffer: Vec<u8>,
    pos: usize,
    produced: Rc<Cell<u64>>,
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buffer.len() {
            if self.next > ROWS {
                return Ok(0);
            }
            self.buffer = if self.next == 0 { HEADER.as_bytes().to_vec() } else { line(self.next).into_bytes() };
            self.pos = 0;
            self.next += 1;
        }
        let n = out.len().min(self.buffer.len() - self.pos);
        out[..n].copy_from_slice(&self.buffer[self.pos..self.pos + n]);
        self.pos += n;
        self.produced.set(self.produced.get() + n as u64);
        Ok(n)
    }
}

#[test]
fn a_million_rows_stream_through_with_bounded_read_ahead() {
    let produced = Rc::new(Cell::new(0));
    let input = Generated { next: 0, buffer: Vec::new(), pos: 0, produced: Rc::clone(&produced) };
    let rows = plan_rows(input, &Profile::default_profile(), &ReaderOptions::default()).unwrap();
    let mut people = RepeatScan::new();
    let mut consumed = HEADER.len() as u64;
    let mut count = 0u64;
    let mut max_ahead = 0u64;
    let mut last_row = 0;
    for (i, row) in (1..).zip(rows) {
        let row = row.unwrap();
        consumed += line(i).len() as u64;
        max_ahead = max_ahead.max(produced.get().saturating_sub(consumed));
        assert!(row.issues.is_empty(), "row {}: {:?}", row.row, row.issues);
        people.observe(&row).unwrap();
        count += 1;
        last_row = row.row;
        if i == 1 {
            assert_eq!(row.row, 2);
            assert_eq!(row.attributes["displayName"], json!("User 1, Jr"));
            assert_eq!(row.groups, Some(vec!["Staff".to_owned(), "Team 1".to_owned()]));
        }
    }
    assert_eq!(count, ROWS);
    assert_eq!(last_row, 1 + ROWS + ROWS / BLANK_EVERY, "blank lines count as spreadsheet rows");
    let found = people.finish().unwrap();
    assert!(found.repeats.is_empty(), "a million different people, none named twice");
    assert!(found.conflicts.is_empty(), "and no username claimed twice");
    assert!(max_ahead <= 256 * 1024, "the reader ran {max_ahead} bytes ahead of the rows it yielded");
}
