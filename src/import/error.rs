//! Issue codes and the error types of the import engine.
//!
//! Which type to use where:
//! - [`RowIssue`] is *data*: everything an admin must be told about the file or a row (a bad email,
//!   an unknown column, an encoding problem) is a `RowIssue` with an [`IssueCode`]. Issues are
//!   collected, shown in the preview and written to `errors.csv`; they never abort the process.
//! - [`ImportError`] is what the pipeline returns when it cannot go on: the file is rejected as a
//!   whole (its issues say why) or the upload could not be read (I/O).
//! - [`ProfileError`] says why a mapping profile is unusable; the server returns it when a profile is
//!   saved, long before any file is read.
//! - [`ReportError`] is an I/O failure while writing `errors.csv`, an export or a template.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a row or the file was not imported as written; the `code` of the API's `errors` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    /// A required column is missing from the header, or a required cell is empty.
    MissingRequiredField,
    /// An email cell is not a usable email address.
    InvalidEmail,
    /// A value is outside the column's allowed values (role, status, ownership...) or malformed.
    InvalidValue,
    /// The user already exists and updates are switched off.
    DuplicateEmail,
    /// The same person appears again later in the file; the later row wins.
    DuplicateInFile,
    /// A group named in the row does not exist and the profile does not create groups.
    UnknownGroup,
    /// A header that the profile cannot place.
    UnknownColumn,
    /// The file is not UTF-8 (or is UTF-8 mixed with another encoding).
    EncodingError,
    /// The file has more data rows than the limit allows.
    TooManyRows,
    /// The CSV structure is broken: ragged row, unclosed quote, empty file, duplicate columns.
    MalformedCsv,
    /// The row contradicts another user or another row (e.g. a username taken by someone else).
    Conflict,
}

impl IssueCode {
    /// The code as it appears on the wire, e.g. `invalid_email`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingRequiredField => "missing_required_field",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidValue => "invalid_value",
            Self::DuplicateEmail => "duplicate_email",
            Self::DuplicateInFile => "duplicate_in_file",
            Self::UnknownGroup => "unknown_group",
            Self::UnknownColumn => "unknown_column",
            Self::EncodingError => "encoding_error",
            Self::TooManyRows => "too_many_rows",
            Self::MalformedCsv => "malformed_csv",
            Self::Conflict => "conflict",
        }
    }
}

impl fmt::Display for IssueCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an issue stops its row (error) or is only reported (warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row (or, for a file issue, the file) is not imported.
    Error,
    /// The row is imported; the admin should know something about it.
    Warning,
}

/// One problem found in the file or in a row, worded for the admin who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    /// Spreadsheet row number as a spreadsheet shows it: the header is row 1, every line break
    /// outside quotes (blank lines included) starts a new row, a quoted cell spanning several lines
    /// stays in one row. File-level issues carry the row they were found at (1 for the header).
    pub row: u64,
    /// The header of the column concerned, as written in the file.
    pub column: Option<String>,
    /// The offending cell, as written in the file.
    pub value: Option<String>,
    /// Machine-readable reason.
    pub code: IssueCode,
    /// What is wrong and how to fix it, for a person.
    pub message: String,
    /// Whether the row is still imported.
    pub severity: Severity,
}

impl RowIssue {
    /// An issue that stops the row (or the file).
    pub fn error(row: u64, code: IssueCode, message: impl Into<String>) -> Self {
        Self { row, column: None, value: None, code, message: message.into(), severity: Severity::Error }
    }

    /// An issue that is reported but lets the row through.
    pub fn warning(row: u64, code: IssueCode, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(row, code, message) }
    }

    /// Names the column (its header as written in the file).
    pub fn in_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Records the offending cell.
    pub fn with_value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// True when the issue stops the row.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        write!(f, ": {} [{}]", self.message, self.code)
    }
}

/// Why the pipeline stopped before the end of the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file as a whole cannot be imported; the issues say why and where.
    #[error("the file was rejected: {}", join_issues(.0))]
    Rejected(Vec<RowIssue>),
    /// The upload itself could not be read.
    #[error("reading the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ImportError {
    /// The file issues behind a rejection (empty for I/O failures).
    pub fn issues(&self) -> &[RowIssue] {
        match self {
            Self::Rejected(issues) => issues,
            Self::Io(_) => &[],
        }
    }
}

impl From<RowIssue> for ImportError {
    fn from(issue: RowIssue) -> Self {
        Self::Rejected(vec![issue])
    }
}

fn join_issues(issues: &[RowIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Why a mapping profile cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The profile is not valid JSON, or has unknown or mistyped fields.
    #[error("the profile is not valid: {0}")]
    Json(String),
    /// A column target is not a SCIM attribute path Roster understands.
    #[error("column \"{header}\": {reason}")]
    InvalidTarget {
        /// The column's header.
        header: String,
        /// What is wrong with the target.
        reason: String,
    },
    /// A column definition contradicts itself.
    #[error("column \"{header}\": {reason}")]
    InvalidColumn {
        /// The column's header.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two columns of the profile claim the same header.
    #[error("the header \"{0}\" is defined twice in the profile")]
    DuplicateHeader(String),
}

/// Writing a report (errors.csv, export, template) failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The CSV writer failed.
    #[error("writing CSV failed: {0}")]
    Csv(#[from] csv::Error),
    /// The destination failed.
    #[error("writing the report failed: {0}")]
    Io(#[from] std::io::Error),
}
