//! Streaming CSV reading: header, rows with spreadsheet row numbers, file-level problems.
//!
//! The parser is RFC 4180 with the leniency of the tools admins use: `,` `;` or tab as delimiter,
//! `\n`, `\r\n` or `\r` as line break, quoted cells with delimiters, doubled quotes and line breaks.
//! It is written here rather than borrowed because row numbers must match what a spreadsheet
//! shows: the header is row 1, every line break outside quotes starts a row (a blank line is a
//! row, skipped but counted), a quoted cell spanning lines stays in its row.
//!
//! Memory is bounded by one row (at most `max_row_bytes`) plus the decoder's chunk, whatever the
//! file size; an unclosed quote that would swallow the rest of the file stops at that bound with a
//! message naming the row where the quote opened.

use std::io::{self, BufRead, Read};

use super::decode::{detect_delimiter, Decoder, Delimiter, Fault, FaultKind, SourceEncoding};
use super::error::{ImportError, IssueCode, RowIssue};
use super::formula;

/// How to read a file; the tenant's limits and the upload's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Read non-UTF-8 files as Windows-1252 (and accept UTF-16 with BOM) instead of rejecting them.
    pub transcode_legacy: bool,
    /// Force a delimiter instead of detecting it from the header.
    pub delimiter: Option<Delimiter>,
    /// Reject the file once it has more data rows than this (blank rows do not count).
    pub max_rows: Option<u64>,
    /// Longest row accepted, in bytes of UTF-8; bounds memory.
    pub max_row_bytes: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self { transcode_legacy: false, delimiter: None, max_rows: None, max_row_bytes: 1024 * 1024 }
    }
}

/// One data row as read: its spreadsheet row number and its cells, with the formula-neutralising
/// quote that Roster's own exports add already removed (see [`formula::restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// Spreadsheet row number (header = 1).
    pub row: u64,
    /// The cells as written, one per column.
    pub cells: Vec<String>,
    /// Set when the row's shape is broken (ragged, unclosed quote): its cells cannot be trusted to
    /// be in their columns.
    pub malformed: Option<RowIssue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartField,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

struct Record {
    row: u64,
    line: u64,
    end: u64,
    unclosed_quote: Option<usize>,
}

enum ParseError {
    TooLong { row: u64, line: u64, quote_field: Option<usize> },
    Io(io::Error),
}

/// The CSV state machine; counts rows and physical lines, holds one record.
struct RecordParser {
    delimiter: u8,
    max_bytes: usize,
    buf: Vec<u8>,
    ends: Vec<usize>,
    row: u64,
    newlines: u64,
    offset: u64,
    skip_lf: bool,
}

impl RecordParser {
    fn new(delimiter: u8, max_bytes: usize) -> Self {
        Self { delimiter, max_bytes, buf: Vec::new(), ends: Vec::new(), row: 0, newlines: 0, offset: 0, skip_lf: false }
    }

    fn field(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.buf[start..self.ends[index]]
    }

    fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).map(|i| self.field(i))
    }

    fn next<B: BufRead>(&mut self, input: &mut B) -> Result<Option<Record>, ParseError> {
        self.buf.clear();
        self.ends.clear();
        let mut state = State::StartField;
        let mut quote_field = None;
        let mut started = false;
        let line = self.newlines + 1;
        let delimiter = self.delimiter;
        loop {
            let chunk = input.fill_buf().map_err(ParseError::Io)?;
            if chunk.is_empty() {
                if !started {
                    return Ok(None);
                }
                self.ends.push(self.buf.len());
                self.row += 1;
                let unclosed_quote = if state == State::Quoted { quote_field } else { None };
                return Ok(Some(Record { row: self.row, line, end: self.offset, unclosed_quote }));
            }
            let mut i = 0;
            if std::mem::take(&mut self.skip_lf) && chunk[0] == b'\n' {
                i = 1;
            }
            let mut terminated = false;
            while i < chunk.len() {
                let b = chunk[i];
                match state {
                    State::StartField => {
                        started = true;
                        if b == b'"' {
                            state = State::Quoted;
                            quote_field = Some(self.ends.len());
                            i += 1;
                        } else if b == delimiter {
                            self.ends.push(self.buf.len());
                            i += 1;
                        } else if b == b'\r' || b == b'\n' {
                            terminated = true;
                        } else {
                            state = State::Unquoted;
                        }
                    }
                    State::Unquoted => {
                        let rest = &chunk[i..];
                        let stop = rest.iter().position(|&c| c == delimiter || c == b'\r' || c == b'\n');
                        let len = stop.unwrap_or(rest.len());
                        self.buf.extend_from_slice(&rest[..len]);
                        i += len;
                        if stop.is_some() {
                            if chunk[i] == delimiter {
                                self.ends.push(self.buf.len());
                                state = State::StartField;
                                i += 1;
                            } else {
                                terminated = true;
                            }
                        }
                    }
                    State::Quoted => {
                        let rest = &chunk[i..];
                        let stop = rest.iter().position(|&c| c == b'"');
                        let len = stop.unwrap_or(rest.len());
                        self.buf.extend_from_slice(&rest[..len]);
                        self.newlines += rest[..len].iter().filter(|&&c| c == b'\n').count() as u64;
                        i += len;
                        if stop.is_some() {
                            state = State::QuoteInQuoted;
                            i += 1;
                        }
                    }
                    State::QuoteInQuoted => {
                        if b == b'"' {
                            self.buf.push(b'"');
                            state = State::Quoted;
                            i += 1;
                        } else if b == delimiter {
                            self.ends.push(self.buf.len());
                            state = State::StartField;
                            i += 1;
                        } else if b == b'\r' || b == b'\n' {
                            terminated = true;
                        } else {
                            state = State::Unquoted;
                        }
                    }
                }
                if terminated {
                    self.ends.push(self.buf.len());
                    self.skip_lf = chunk[i] == b'\r';
                    self.newlines += 1;
                    i += 1;
                    break;
                }
            }
            input.consume(i);
            self.offset += i as u64;
            if terminated {
                self.row += 1;
                return Ok(Some(Record { row: self.row, line, end: self.offset, unclosed_quote: None }));
            }
            if self.buf.len() + self.ends.len() * 8 > self.max_bytes {
                let quote_field = if state == State::Quoted { quote_field } else { None };
                return Err(ParseError::TooLong { row: self.row + 1, line, quote_field });
            }
        }
    }
}

/// Reads a CSV upload row by row: [`CsvReader::open`] reads the header, iterating yields the data
/// rows. A file-level problem met while streaming (encoding, row limit, a runaway quote) ends the
/// iteration with [`ImportError::Rejected`].
pub struct CsvReader<R> {
    input: Decoder<R>,
    parser: RecordParser,
    header: Vec<String>,
    header_row: u64,
    delimiter: Delimiter,
    max_rows: Option<u64>,
    max_row_bytes: usize,
    transcode_legacy: bool,
    data_rows: u64,
    line_offset: u64,
    done: bool,
}

impl<R: Read> CsvReader<R> {
    /// Detects encoding and delimiter, reads the header (the first non-blank row).
    ///
    /// An Excel `sep=;` first line sets the delimiter and is not counted as a row, as Excel hides it.
    pub fn open(input: R, options: &ReaderOptions) -> Result<Self, ImportError> {
        let mut input = Decoder::new(input, options.transcode_legacy);
        let mut delimiter = options.delimiter;
        let mut line_offset = 0;
        let mut skipped = 0;
        if let Some((len, sep)) = sep_directive(input.peek_header()?) {
            let terminator = match input.fill_buf()?.get(len..) {
                Some([b'\r', b'\n', ..]) => 2,
                Some([b'\r' | b'\n', ..]) => 1,
                _ => 0,
            };
            skipped = len + terminator;
            input.consume(skipped);
            delimiter = delimiter.or(Some(sep));
            line_offset = 1;
        }
        let delimiter = match delimiter {
            Some(delimiter) => delimiter,
            None => detect_delimiter(input.peek_header()?),
        };
        let mut parser = RecordParser::new(delimiter.as_byte(), options.max_row_bytes);
        parser.offset = skipped as u64;
        let mut reader = Self {
            input,
            parser,
            header: Vec::new(),
            header_row: 1,
            delimiter,
            max_rows: options.max_rows,
            max_row_bytes: options.max_row_bytes,
            transcode_legacy: options.transcode_legacy,
            data_rows: 0,
            line_offset,
            done: false,
        };
        loop {
            let record = match reader.parser.next(&mut reader.input) {
                Ok(Some(record)) => record,
                Ok(None) => {
                    if let Some(fault) = reader.input.fault().cloned() {
                        return Err(reader.encoding_issue(&fault, 1, 1).into());
                    }
                    return Err(RowIssue::error(
                        1,
                        IssueCode::MalformedCsv,
                        "the file is empty: its first row must be a header naming the columns, e.g. \
                         \"Email,Display Name,Groups\"",
                    )
                    .into());
                }
                Err(error) => return Err(reader.parse_error(error)),
            };
            if let Some(fault) = reader.fault_in(&record) {
                return Err(reader.encoding_issue(&fault, record.row, record.line).into());
            }
            let cells = reader.cells();
            if is_blank(&cells) {
                continue;
            }
            if let Some(field) = record.unclosed_quote {
                return Err(RowIssue::error(
                    record.row,
                    IssueCode::MalformedCsv,
                    format!(
                        "the header row has a quote (\") in column {} that is never closed, so the whole \
                         file was read as its header; close the quote",
                        column_letter(field)
                    ),
                )
                .into());
            }
            reader.header = cells.into_iter().map(|cell| cell.trim().to_owned()).collect();
            reader.header_row = record.row;
            return Ok(reader);
        }
    }

    /// The header cells, trimmed, in file order.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The spreadsheet row of the header (1 unless blank rows precede it).
    pub fn header_row(&self) -> u64 {
        self.header_row
    }

    /// The delimiter in use.
    pub fn delimiter(&self) -> Delimiter {
        self.delimiter
    }

    /// The encoding detected so far.
    pub fn encoding(&self) -> SourceEncoding {
        self.input.encoding()
    }

    /// Non-blank data rows read so far.
    pub fn data_rows(&self) -> u64 {
        self.data_rows
    }

    fn cells(&self) -> Vec<String> {
        self.parser.fields().map(|field| formula::restore(&String::from_utf8_lossy(field)).to_owned()).collect()
    }

    fn fault_in(&self, record: &Record) -> Option<Fault> {
        self.input.fault().filter(|fault| fault.offset < record.end).cloned()
    }

    fn where_is(&self, row: u64, line: u64) -> String {
        let line = line + self.line_offset;
        if line == row {
            format!("row {row}")
        } else {
            format!("row {row} (line {line} of the file)")
        }
    }

    fn encoding_issue(&self, fault: &Fault, row: u64, line: u64) -> RowIssue {
        if fault.kind == FaultKind::Utf16 {
            return RowIssue::error(
                row,
                IssueCode::EncodingError,
                "the file is UTF-16 (Excel's \"Unicode Text\" format), not UTF-8; save it as \"CSV UTF-8 \
                 (Comma delimited)\" and upload it again, or import it with the option to transcode legacy \
                 encodings",
            );
        }
        let cells = self.cells();
        let bad = cells.iter().position(|cell| cell.contains(char::REPLACEMENT_CHARACTER));
        let bytes: Vec<String> = fault.bytes.iter().map(|b| format!("0x{b:02X}")).collect();
        let mut place = format!("byte {}", bytes.join(" "));
        if let Some(index) = bad {
            let header = if row == self.header_row || self.header.is_empty() {
                column_letter(index)
            } else {
                self.header.get(index).cloned().unwrap_or_else(|| column_letter(index))
            };
            place = format!("{place} in column \"{header}\": \"{}\"", cells[index]);
        }
        let utf8_seen = matches!(fault.kind, FaultKind::InvalidUtf8 { utf8_seen: true });
        let advice = if utf8_seen {
            "although earlier rows are UTF-8: the file mixes encodings, usually after pasting from another \
             file. Retype the characters shown as \u{FFFD} and save the file as \"CSV UTF-8\""
                .to_owned()
        } else if self.transcode_legacy {
            "the file mixes encodings; save it as \"CSV UTF-8 (Comma delimited)\"".to_owned()
        } else {
            "the file looks like Windows-1252 or Latin-1, the encoding of Excel's \"CSV (Comma delimited)\". \
             Save it as \"CSV UTF-8 (Comma delimited)\" and upload it again, or import it with the option \
             to transcode legacy encodings"
                .to_owned()
        };
        let mut issue = RowIssue::error(
            row,
            IssueCode::EncodingError,
            format!("{} is not valid UTF-8 ({place}); {advice}", self.where_is(row, line)),
        );
        if let Some(index) = bad {
            if let Some(header) = self.header.get(index).filter(|_| row != self.header_row) {
                issue = issue.in_column(header.clone());
            }
            issue = issue.with_value(cells[index].clone());
        }
        issue
    }

    fn parse_error(&self, error: ParseError) -> ImportError {
        match error {
            ParseError::Io(error) => ImportError::Io(error),
            ParseError::TooLong { row, line, quote_field } => {
                let limit = self.max_row_bytes / 1024;
                let cause = match quote_field {
                    Some(field) => format!(
                        "most likely the quote (\") that opens column \"{}\" is never closed, so the rest of the \
                         file was read into one cell; close the quote, and write a quote inside a quoted cell \
                         twice (\"\")",
                        self.header.get(field).cloned().unwrap_or_else(|| column_letter(field))
                    ),
                    None => "shorten it".to_owned(),
                };
                RowIssue::error(
                    row,
                    IssueCode::MalformedCsv,
                    format!(
                        "{} is longer than {limit} KiB, more than any user needs; {cause}",
                        self.where_is(row, line)
                    ),
                )
                .into()
            }
        }
    }

    fn malformed(&self, row: u64, cells: &mut Vec<String>, unclosed_quote: Option<usize>) -> Option<RowIssue> {
        let width = self.header.len();
        if let Some(field) = unclosed_quote {
            let column = self.header.get(field).cloned().unwrap_or_else(|| column_letter(field));
            return Some(
                RowIssue::error(
                    row,
                    IssueCode::MalformedCsv,
                    format!(
                        "the quote (\") that opens this row's \"{column}\" cell is never closed, so the rest of the \
                         file was read into it; close the quote, and write a quote inside a quoted cell twice (\"\")"
                    ),
                )
                .in_column(column),
            );
        }
        if cells.len() > width && cells[width..].iter().all(|cell| cell.trim().is_empty()) {
            cells.truncate(width);
        }
        let count = cells.len();
        let sep = self.delimiter.describe();
        let message = if count < width {
            format!(
                "this row has {count} cells but the header has {width} columns; a cell or a delimiter ({sep}) is \
                 missing, so values may be in the wrong columns. Keep one delimiter per column, even for empty cells"
            )
        } else if count > width {
            format!(
                "this row has {count} cells but the header has {width} columns; a value probably contains the \
                 delimiter {sep} without double quotes around it (write \"Doe, John\"), so the values after it \
                 moved to the wrong columns"
            )
        } else {
            return None;
        };
        Some(RowIssue::error(row, IssueCode::MalformedCsv, message))
    }
}

impl<R: Read> Iterator for CsvReader<R> {
    type Item = Result<RawRow, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let record = match self.parser.next(&mut self.input) {
                Ok(Some(record)) => record,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(self.parse_error(error)));
                }
            };
            if let Some(fault) = self.fault_in(&record) {
                self.done = true;
                return Some(Err(self.encoding_issue(&fault, record.row, record.line).into()));
            }
            let mut cells = self.cells();
            if is_blank(&cells) {
                continue;
            }
            self.data_rows += 1;
            if let Some(max) = self.max_rows.filter(|&max| self.data_rows > max) {
                self.done = true;
                return Some(Err(RowIssue::error(
                    record.row,
                    IssueCode::TooManyRows,
                    format!(
                        "the file has more than {max} data rows, the limit for one import (row {} is data row {}); \
                         split it into files of at most {max} rows",
                        record.row, self.data_rows
                    ),
                )
                .into()));
            }
            let malformed = self.malformed(record.row, &mut cells, record.unclosed_quote);
            return Some(Ok(RawRow { row: record.row, cells, malformed }));
        }
    }
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|cell| cell.trim().is_empty())
}

/// Excel's `sep=X` first line: its length and delimiter.
fn sep_directive(first_line: &str) -> Option<(usize, Delimiter)> {
    let prefix = first_line.get(..4)?;
    if !prefix.eq_ignore_ascii_case("sep=") {
        return None;
    }
    let mut rest = first_line[4..].chars();
    let delimiter = Delimiter::from_char(rest.next()?)?;
    rest.all(|c| c == ' ').then_some((first_line.len(), delimiter))
}

/// The spreadsheet letter of a zero-based column index: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<String>, Vec<(u64, Vec<String>)>) {
        let reader = CsvReader::open(text.as_bytes(), &ReaderOptions::default()).unwrap();
        let header = reader.header().to_vec();
        let rows = reader.map(|row| row.unwrap()).map(|row| (row.row, row.cells)).collect();
        (header, rows)
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn row_numbers_are_the_rows_a_spreadsheet_shows() {
        type Case<'a> = (&'a str, &'a str, Vec<(u64, Vec<&'a str>)>);
        let cases: Vec<Case> = vec![
            ("plain", "a,b\n1,2\n3,4\n", vec![(2, vec!["1", "2"]), (3, vec!["3", "4"])]),
            ("no final newline", "a,b\n1,2", vec![(2, vec!["1", "2"])]),
            ("crlf", "a,b\r\n1,2\r\n3,4\r\n", vec![(2, vec!["1", "2"]), (3, vec!["3", "4"])]),
            ("cr only", "a,b\r1,2\r\r3,4", vec![(2, vec!["1", "2"]), (4, vec!["3", "4"])]),
            ("blank lines count", "a,b\n\n1,2\n\n\n3,4\n", vec![(3, vec!["1", "2"]), (6, vec!["3", "4"])]),
            ("blank crlf lines count", "a,b\r\n\r\n1,2\r\n", vec![(3, vec!["1", "2"])]),
            ("quoted newline is one row", "a,b\n\"x\ny\",2\n3,4\n", vec![(2, vec!["x\ny", "2"]), (3, vec!["3", "4"])]),
            ("quoted crlf", "a,b\r\n\"x\r\ny\",2\r\n3,4\r\n", vec![(2, vec!["x\r\ny", "2"]), (3, vec!["3", "4"])]),
            ("empty delimiter rows are blank", "a,b\n,\n  ,\t\n1,2\n", vec![(4, vec!["1", "2"])]),
            ("blank lines before header", "\n\na,b\n1,2\n", vec![(4, vec!["1", "2"])]),
        ];
        for (name, text, expected) in cases {
            let (header, rows) = read(text);
            assert_eq!(header, strings(&["a", "b"]), "{name}");
            let expected: Vec<(u64, Vec<String>)> = expected.into_iter().map(|(r, c)| (r, strings(&c))).collect();
            assert_eq!(rows, expected, "{name}");
        }
    }

    #[test]
    fn parses_quoting_the_way_spreadsheets_write_it() {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("\"Doe, John\",x", vec!["Doe, John", "x"]),
            ("\"say \"\"hi\"\"\",x", vec!["say \"hi\"", "x"]),
            ("\"\",x", vec!["", "x"]),
            ("a\"b,x", vec!["a\"b", "x"]),
            ("\"ab\"c,x", vec!["abc", "x"]),
            ("\"a;b\",x", vec!["a;b", "x"]),
            ("x,\"\"", vec!["x", ""]),
            ("x,", vec!["x", ""]),
        ];
        for (line, expected) in cases {
            let (_, rows) = read(&format!("h1,h2\n{line}\n"));
            assert_eq!(rows, vec![(2, strings(&expected))], "{line}");
        }
    }

    #[test]
    fn the_delimiter_is_detected_from_the_header_or_forced() {
        let reader = CsvReader::open("Email;Name\na@b.io;\"x;y\"\n".as_bytes(), &ReaderOptions::default()).unwrap();
        assert_eq!(reader.delimiter(), Delimiter::Semicolon);
        let rows: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(rows[0].cells, strings(&["a@b.io", "x;y"]));

        let reader = CsvReader::open("Email\tName\na\tb\n".as_bytes(), &ReaderOptions::default()).unwrap();
        assert_eq!(reader.delimiter(), Delimiter::Tab);

        let options = ReaderOptions { delimiter: Some(Delimiter::Semicolon), ..ReaderOptions::default() };
        let reader = CsvReader::open("Doe, John;x\n".as_bytes(), &options).unwrap();
        assert_eq!(reader.header(), strings(&["Doe, John", "x"]));
    }

    #[test]
    fn an_excel_sep_line_sets_the_delimiter_and_is_not_a_row() {
        let (header, rows) = read("sep=;\r\nEmail;Name\r\na@b.io;Ann\r\n");
        assert_eq!(header, strings(&["Email", "Name"]));
        assert_eq!(rows, vec![(2, strings(&["a@b.io", "Ann"]))]);
    }

    #[test]
    fn header_cells_are_trimmed_and_neutralised_cells_restored() {
        let (header, rows) = read(" Email , Name \n'=1+1,'+44\n");
        assert_eq!(header, strings(&["Email", "Name"]));
        assert_eq!(rows, vec![(2, strings(&["=1+1", "+44"]))]);
    }

    #[test]
    fn ragged_rows_are_malformed_with_expected_and_actual_counts() {
        let text = "a,b,c\n1,2\n1,2,3,4\n1,2,3,,\n1,2,3\n";
        let reader = CsvReader::open(text.as_bytes(), &ReaderOptions::default()).unwrap();
        let rows: Vec<RawRow> = reader.map(Result::unwrap).collect();
        let short = rows[0].malformed.as_ref().unwrap();
        assert_eq!((short.row, short.code), (2, IssueCode::MalformedCsv));
        assert!(short.message.contains("2 cells but the header has 3 columns"), "{}", short.message);
        let long = rows[1].malformed.as_ref().unwrap();
        assert!(long.message.contains("4 cells but the header has 3 columns"), "{}", long.message);
        assert!(long.message.contains("\"Doe, John\""), "{}", long.message);
        assert_eq!(rows[2].malformed, None, "trailing empty cells are tolerated");
        assert_eq!(rows[2].cells, strings(&["1", "2", "3"]));
        assert_eq!(rows[3].malformed, None);
    }

    #[test]
    fn an_empty_file_or_a_blank_one_is_rejected_with_a_clear_message() {
        for text in ["", "\n\n", ",,\n", "\u{FEFF}"] {
            let Err(error) = CsvReader::open(text.as_bytes(), &ReaderOptions::default()) else {
                panic!("{text:?} should be rejected");
            };
            let issue = &error.issues()[0];
            assert_eq!((issue.row, issue.code), (1, IssueCode::MalformedCsv), "{text:?}");
            assert!(issue.message.contains("the file is empty"), "{}", issue.message);
        }
    }

    #[test]
    fn an_unclosed_quote_at_the_end_is_a_malformed_row() {
        let reader = CsvReader::open("a,b\n1,\"2\n3,4\n".as_bytes(), &ReaderOptions::default()).unwrap();
        let rows: Vec<RawRow> = reader.map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        let issue = rows[0].malformed.as_ref().unwrap();
        assert_eq!((issue.row, issue.column.as_deref()), (2, Some("b")));
        assert!(issue.message.contains("never closed"), "{}", issue.message);
    }

    #[test]
    fn a_runaway_quote_stops_at_the_row_size_limit_naming_the_row() {
        let mut text = String::from("email,name\na@b.io,\"Ann\n");
        for i in 0..200 {
            text.push_str(&format!("user{i}@example.com,User {i}\n"));
        }
        let options = ReaderOptions { max_row_bytes: 1024, ..ReaderOptions::default() };
        let mut reader = CsvReader::open(text.as_bytes(), &options).unwrap();
        let Some(Err(error)) = reader.next() else { panic!("expected a rejection") };
        let issue = &error.issues()[0];
        assert_eq!((issue.row, issue.code), (2, IssueCode::MalformedCsv));
        assert!(issue.message.contains("\"name\" is never closed"), "{}", issue.message);
        assert!(reader.next().is_none());
    }

    #[test]
    fn too_many_rows_is_reported_at_the_first_row_over_the_limit() {
        let text = "email\na@x.io\n\nb@x.io\nc@x.io\n";
        let options = ReaderOptions { max_rows: Some(2), ..ReaderOptions::default() };
        let results: Vec<_> = CsvReader::open(text.as_bytes(), &options).unwrap().collect();
        assert_eq!(results.len(), 3);
        let Err(error) = &results[2] else { panic!("third item should be the rejection") };
        let issue = &error.issues()[0];
        assert_eq!((issue.row, issue.code), (5, IssueCode::TooManyRows));
        assert!(issue.message.contains("more than 2 data rows"), "{}", issue.message);

        let options = ReaderOptions { max_rows: Some(3), ..ReaderOptions::default() };
        assert!(CsvReader::open(text.as_bytes(), &options).unwrap().all(|row| row.is_ok()));
    }

    #[test]
    fn invalid_utf8_is_an_encoding_error_naming_the_row_and_cell() {
        let text = b"Email,Last Name\nann@x.io,Smith\n\"bob@x.io\",\"Garc\xEDa\nJr\"\ncid@x.io,L\xF3pez\n";
        let mut reader = CsvReader::open(&text[..], &ReaderOptions::default()).unwrap();
        assert!(reader.next().unwrap().is_ok());
        let Some(Err(error)) = reader.next() else { panic!("expected the encoding error") };
        let issue = &error.issues()[0];
        assert_eq!((issue.row, issue.code), (3, IssueCode::EncodingError));
        assert_eq!(issue.column.as_deref(), Some("Last Name"));
        assert!(
            issue.message.starts_with("row 3 is not valid UTF-8 (byte 0xED in column \"Last Name\""),
            "{}",
            issue.message
        );
        assert!(issue.message.contains("Windows-1252"), "{}", issue.message);
        assert!(reader.next().is_none());
    }

    #[test]
    fn an_encoding_error_after_a_multi_line_cell_names_both_row_and_line() {
        let text = b"Email,Note\na@x.io,\"two\nlines\"\nb@x.io,Caf\xE9\n";
        let mut reader = CsvReader::open(&text[..], &ReaderOptions::default()).unwrap();
        assert!(reader.next().unwrap().is_ok());
        let Some(Err(error)) = reader.next() else { panic!("expected the encoding error") };
        let issue = &error.issues()[0];
        assert_eq!(issue.row, 3);
        assert!(issue.message.starts_with("row 3 (line 4 of the file) is not valid UTF-8"), "{}", issue.message);
    }

    #[test]
    fn invalid_utf8_in_the_header_is_rejected_at_open() {
        let Err(error) = CsvReader::open(&b"Pr\xE9nom,Email\n"[..], &ReaderOptions::default()) else {
            panic!("expected a rejection");
        };
        let issue = &error.issues()[0];
        assert_eq!((issue.row, issue.code), (1, IssueCode::EncodingError));
        assert!(issue.message.contains("column \"A\""), "{}", issue.message);
    }

    #[test]
    fn a_utf16_file_is_named_as_such() {
        let bytes: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("Email\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let Err(error) = CsvReader::open(bytes.as_slice(), &ReaderOptions::default()) else { panic!("rejected") };
        assert!(error.issues()[0].message.contains("UTF-16"));
        let options = ReaderOptions { transcode_legacy: true, ..ReaderOptions::default() };
        let reader = CsvReader::open(bytes.as_slice(), &options).unwrap();
        assert_eq!(reader.header(), strings(&["Email"]));
    }

    #[test]
    fn column_letters_follow_spreadsheet_naming() {
        let cases =
            [(0, "A"), (1, "B"), (25, "Z"), (26, "AA"), (27, "AB"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA")];
        for (index, expected) in cases {
            assert_eq!(column_letter(index), expected);
        }
    }
}
