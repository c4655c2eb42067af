//! What Roster writes as CSV: `errors.csv`, the users export and the per-profile template.
//!
//! Every cell goes through [`neutralise`] (formula injection); the importer reverses exactly that
//! (see [`super::formula`]), so an export imported again changes nothing. Files are written with
//! CRLF line ends (RFC 4180) and, by default, a UTF-8 BOM, without which Excel reads UTF-8 as
//! Windows-1252 and garbles every accented name.

use std::io::Write;

use serde_json::{Map, Value};

use super::decode::{Delimiter, SourceEncoding};
use super::error::ReportError;
use super::formula::neutralise;
use super::path::element_matches;
use super::profile::{header_key, ColumnSpec, Profile, Separator, Target, ERROR_COLUMN};
use super::row::{PlannedRow, TEMPLATE_EXAMPLE_EMAIL};

/// How a CSV file Roster writes is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    /// Cell separator.
    pub delimiter: Delimiter,
    /// Start with a UTF-8 byte order mark.
    pub bom: bool,
}

impl Default for CsvFormat {
    fn default() -> Self {
        Self { delimiter: Delimiter::Comma, bom: true }
    }
}

impl CsvFormat {
    /// The format of an `errors.csv` for an upload: its delimiter, and a BOM unless the upload was
    /// UTF-8 without one (a transcoded legacy file comes back as UTF-8 that Excel can open).
    pub fn like_upload(delimiter: Delimiter, encoding: SourceEncoding) -> Self {
        Self { delimiter, bom: encoding != SourceEncoding::Utf8 }
    }
}

fn csv_writer<W: Write>(mut out: W, format: CsvFormat) -> Result<csv::Writer<W>, ReportError> {
    if format.bom {
        out.write_all("\u{FEFF}".as_bytes())?;
    }
    Ok(csv::WriterBuilder::new()
        .delimiter(format.delimiter.as_byte())
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(out))
}

fn write_cells<'a, W: Write>(
    writer: &mut csv::Writer<W>,
    cells: impl IntoIterator<Item = &'a str>,
) -> Result<(), ReportError> {
    let cells: Vec<_> = cells.into_iter().map(neutralise).collect();
    writer.write_record(cells.iter().map(|cell| cell.as_bytes()))?;
    Ok(())
}

/// Writes `errors.csv`: the upload's header plus an `error` column, then each failed row with its
/// original cells and its issues, ready to fix and upload again.
pub struct ErrorsCsvWriter<W: Write> {
    writer: csv::Writer<W>,
    width: usize,
    skip: Option<usize>,
    rows: u64,
}

impl<W: Write> ErrorsCsvWriter<W> {
    /// Starts the report with the upload's header. An `error` column from an earlier report is
    /// dropped, so fixing and re-uploading a report never stacks error columns.
    pub fn new(out: W, header: &[String], format: CsvFormat) -> Result<Self, ReportError> {
        let mut writer = csv_writer(out, format)?;
        let skip = header.iter().position(|h| header_key(h) == ERROR_COLUMN);
        let kept = header.iter().enumerate().filter(|(i, _)| Some(*i) != skip).map(|(_, h)| h.as_str());
        write_cells(&mut writer, kept.chain([ERROR_COLUMN]))?;
        Ok(Self { writer, width: header.len(), skip, rows: 0 })
    }

    /// Writes the row if it has errors; returns whether it did. Issues are joined with `; `,
    /// errors before warnings, each with its code.
    pub fn write_row(&mut self, row: &PlannedRow) -> Result<bool, ReportError> {
        if !row.has_errors() {
            return Ok(false);
        }
        let mut issues: Vec<_> = row.issues.iter().collect();
        issues.sort_by_key(|issue| !issue.is_error());
        let text: Vec<String> = issues
            .iter()
            .map(|issue| {
                let kind = if issue.is_error() { "" } else { "warning: " };
                format!("{kind}{} [{}]", issue.message, issue.code)
            })
            .collect();
        let error = format!("row {}: {}", row.row, text.join("; "));
        let width = self.width.max(row.cells.len());
        let cells = (0..width).filter(|i| Some(*i) != self.skip).map(|i| row.cells.get(i).map_or("", String::as_str));
        write_cells(&mut self.writer, cells.chain([error.as_str()]))?;
        self.rows += 1;
        Ok(true)
    }

    /// Failed rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Flushes and returns the destination.
    pub fn finish(self) -> Result<W, ReportError> {
        self.writer.into_inner().map_err(|e| ReportError::Io(e.into_error()))
    }
}

/// A stored user to export: the resource in stored shape, its group names and its manager's
/// email (both resolved by the caller, which has the database).
#[derive(Debug, Clone, Copy)]
pub struct ExportUser<'a> {
    /// The user resource as stored.
    pub resource: &'a Map<String, Value>,
    /// Names of the groups the user is a member of.
    pub groups: &'a [String],
    /// The manager's email, if the user has a manager.
    pub manager_email: Option<&'a str>,
}

/// Writes users in a profile's columns (the default profile's for `users/export.csv`), so that the
/// export is also a ready-made import file (seed 004: "export as the template").
pub struct ExportWriter<W: Write> {
    writer: csv::Writer<W>,
    columns: Vec<ColumnSpec>,
}

impl<W: Write> ExportWriter<W> {
    /// Starts the export with the profile's template header.
    pub fn new(out: W, profile: &Profile, format: CsvFormat) -> Result<Self, ReportError> {
        let columns: Vec<ColumnSpec> =
            profile.template_columns().into_iter().filter(|c| c.target != Target::Ignore).collect();
        let mut writer = csv_writer(out, format)?;
        write_cells(&mut writer, columns.iter().map(|c| c.header.as_str()))?;
        Ok(Self { writer, columns })
    }

    /// Writes one user.
    pub fn write_user(&mut self, user: &ExportUser<'_>) -> Result<(), ReportError> {
        let cells: Vec<String> = self.columns.iter().map(|column| self.cell(column, user)).collect();
        write_cells(&mut self.writer, cells.iter().map(String::as_str))
    }

    /// Flushes and returns the destination.
    pub fn finish(self) -> Result<W, ReportError> {
        self.writer.into_inner().map_err(|e| ReportError::Io(e.into_error()))
    }

    fn cell(&self, column: &ColumnSpec, user: &ExportUser<'_>) -> String {
        match &column.target {
            Target::Ignore => String::new(),
            Target::Groups => user.groups.join(&separator_of(column)),
            target if target.is_manager_email() => user.manager_email.unwrap_or_default().to_owned(),
            Target::Attribute(_) => stored_text(&self.columns, column, user.resource),
        }
    }
}

/// The text an export writes for an attribute column of a stored user. A filtered column
/// (`emails[type eq "work"].value`) whose element is missing shows the primary element, else the
/// first, unless another of `columns` claims that element's type. The importer compares a row with
/// a stored user through the same function, so an exported file imported again changes nothing.
pub fn stored_text(columns: &[ColumnSpec], column: &ColumnSpec, resource: &Map<String, Value>) -> String {
    let Some(path) = column.target.path() else {
        return String::new();
    };
    let value = path.get(resource).or_else(|| fallback(columns, column, resource));
    value.map(|v| value_text(column, v)).unwrap_or_default()
}

/// A value of a column as a cell shows it: allowed values by their first spelling, multiple values
/// joined with the column's separator, complex values by their `value`.
pub fn value_text(column: &ColumnSpec, value: &Value) -> String {
    render(column, value, &separator_of(column))
}

fn separator_of(column: &ColumnSpec) -> String {
    column.effective_separator().unwrap_or(Separator::Semicolon).as_char().to_string()
}

fn fallback<'a>(columns: &[ColumnSpec], column: &ColumnSpec, resource: &'a Map<String, Value>) -> Option<&'a Value> {
    let path = column.target.path()?;
    path.filter.as_ref()?;
    let container = match &path.schema {
        Some(urn) => resource.get(urn)?.as_object()?,
        None => resource,
    };
    let elements = container.get(&path.attribute)?.as_array()?;
    let claimed = |element: &Value| {
        columns.iter().filter_map(|c| c.target.path()).any(|other| {
            other.attribute == path.attribute
                && other.schema == path.schema
                && other.filter.as_ref().is_some_and(|f| element_matches(element, f))
        })
    };
    let primary = elements.iter().find(|e| e.get("primary") == Some(&Value::Bool(true)));
    let element = primary.or(elements.first()).filter(|e| !claimed(e))?;
    element.get(path.sub_attribute.as_deref().unwrap_or("value"))
}

fn render(column: &ColumnSpec, value: &Value, separator: &str) -> String {
    if let Some(allowed) = column.allowed.iter().find(|a| &a.stored() == value) {
        return allowed.values.first().cloned().unwrap_or_default();
    }
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| render(column, item, separator))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(separator),
        Value::Object(object) => object.get("value").map(|v| render(column, v, separator)).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Writes a profile's import template: the header and, with `example`, one example row whose
/// email is [`TEMPLATE_EXAMPLE_EMAIL`], which the importer refuses, so a template uploaded with its
/// example row left in cannot create a fake user.
pub fn write_template<W: Write>(out: W, profile: &Profile, format: CsvFormat, example: bool) -> Result<W, ReportError> {
    let columns: Vec<ColumnSpec> =
        profile.template_columns().into_iter().filter(|c| c.target != Target::Ignore).collect();
    let mut writer = csv_writer(out, format)?;
    write_cells(&mut writer, columns.iter().map(|c| c.header.as_str()))?;
    if example {
        let cells: Vec<String> = columns.iter().map(example_value).collect();
        write_cells(&mut writer, cells.iter().map(String::as_str))?;
    }
    writer.into_inner().map_err(|e| ReportError::Io(e.into_error()))
}

fn example_value(column: &ColumnSpec) -> String {
    if let Some(default) = &column.default {
        return default.clone();
    }
    if let Some(first) = column.allowed.first().and_then(|a| a.values.first()) {
        return first.clone();
    }
    let separator = column.effective_separator().unwrap_or(Separator::Semicolon).as_char();
    let path = match &column.target {
        Target::Groups => return format!("Sales{separator}Support"),
        Target::Ignore => return String::new(),
        target if target.is_manager_email() => return "manager@example.com".to_owned(),
        Target::Attribute(path) => path,
    };
    if path.is_email() {
        return TEMPLATE_EXAMPLE_EMAIL.to_owned();
    }
    let example = match (path.attribute.as_str(), path.sub_attribute.as_deref()) {
        ("displayName", _) => "Jane Doe",
        ("name", Some("givenName")) => "Jane",
        ("name", Some("familyName")) => "Doe",
        ("userName", _) => "firstname.lastname",
        ("phoneNumbers", _) => "020 7946 0000",
        ("roles", _) => "User",
        ("title", _) => "Account Manager",
        ("department", _) => "Sales",
        ("employeeNumber", _) => "E1001",
        ("preferredLanguage", _) => "en-GB",
        ("timezone", _) => "Europe/London",
        ("upn", _) => "Jane.Doe@example.com",
        ("externalId", _) => "hr-1001",
        _ => "",
    };
    example.to_owned()
}
