//! CSV import, pure part: bytes in, planned rows and reports out; no database, no HTTP.
//!
//! ```text
//! upload ─► decode (encoding, BOM, delimiter) ─► reader (rows, row numbers, limits)
//!        ─► profile (header → SCIM attribute paths) ─► row (one PlannedRow per data row)
//!        ─► dedupe (same person twice) ─► [runner: match, provision, invite] ─► report (errors.csv)
//! ```
//!
//! [`plan_rows`] is the entry point: it opens a file with a profile and yields one [`PlannedRow`]
//! per data row, streaming. A scan of the whole file ([`RepeatScan`]) finds the people it repeats
//! and the rows claiming another email's username; a pass reads the file again with those
//! conflicts applied to its rows ([`PlannedRows::with_user_name_conflicts`]). The runner (in the server) matches each valid row to a stored user,
//! turns it into SCIM operations through the same provisioning code as the SCIM API, and feeds
//! failed rows to [`ErrorsCsvWriter`].

pub mod changes;
pub mod decode;
pub mod dedupe;
pub mod email;
pub mod error;
pub mod formula;
pub mod names;
pub mod path;
pub mod profile;
pub mod reader;
pub mod report;
pub mod row;
pub mod spill;

use std::io::Read;
use std::sync::Arc;

pub use changes::{creation_body, patch_request, update_operations};
pub use decode::{Delimiter, SourceEncoding};
pub use dedupe::{FileRepeats, Folded, PersonFolder, RepeatScan, Repeats, UserNameConflicts, DEFAULT_SCAN_MEMORY};
pub use error::{ImportError, IssueCode, ProfileError, ReportError, RowIssue, Severity};
pub use profile::{ColumnSpec, Profile, Rules, Target};
pub use reader::{CsvReader, RawRow, ReaderOptions};
pub use report::{stored_text, value_text, write_template, CsvFormat, ErrorsCsvWriter, ExportUser, ExportWriter};
pub use row::{MatchKeys, PlannedRow, Planner};

/// A file being planned: the reader and the planner for its header.
pub struct PlannedRows<R> {
    reader: CsvReader<R>,
    planner: Planner,
    /// The username column's header, for conflicts.
    user_name_column: Option<String>,
    /// The rows claiming a taken username, when a scan found them.
    conflicts: Option<Arc<UserNameConflicts>>,
}

/// Opens a CSV upload with a profile: detects encoding and delimiter, reads and maps the header.
/// The file is rejected when its header cannot be mapped (unknown or duplicate columns, required
/// columns missing); the profile's `max_rows` applies on top of `options.max_rows`.
pub fn plan_rows<R: Read>(input: R, profile: &Profile, options: &ReaderOptions) -> Result<PlannedRows<R>, ImportError> {
    let max_rows = match (options.max_rows, profile.rules.max_rows) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let options = ReaderOptions { max_rows, ..options.clone() };
    let reader = CsvReader::open(input, &options)?;
    let planner = Planner::new(profile, reader.header(), reader.header_row()).map_err(ImportError::Rejected)?;
    let user_name_column = planner
        .layout()
        .bound
        .iter()
        .find(|bound| bound.spec.target.path().is_some_and(|path| path.is_core("userName")))
        .map(|bound| bound.header.clone());
    Ok(PlannedRows { reader, planner, user_name_column, conflicts: None })
}

impl<R: Read> PlannedRows<R> {
    /// These rows with the `conflict` errors a scan of the same file found ([`RepeatScan`]).
    pub fn with_user_name_conflicts(mut self, conflicts: Arc<UserNameConflicts>) -> Self {
        self.conflicts = Some(conflicts);
        self
    }

    /// The file's header.
    pub fn header(&self) -> &[String] {
        self.reader.header()
    }

    /// The planner, with the column layout.
    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    /// File-level warnings (ignored columns).
    pub fn warnings(&self) -> &[RowIssue] {
        self.planner.warnings()
    }

    /// Non-blank data rows read so far.
    pub fn data_rows(&self) -> u64 {
        self.reader.data_rows()
    }

    /// The delimiter in use.
    pub fn delimiter(&self) -> Delimiter {
        self.reader.delimiter()
    }

    /// The encoding detected so far.
    pub fn encoding(&self) -> SourceEncoding {
        self.reader.encoding()
    }

    /// The format `errors.csv` should have for this upload.
    pub fn errors_csv_format(&self) -> CsvFormat {
        CsvFormat::like_upload(self.reader.delimiter(), self.reader.encoding())
    }
}

impl<R: Read> Iterator for PlannedRows<R> {
    type Item = Result<PlannedRow, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.reader.next()?;
        Some(raw.map(|raw| {
            let mut planned = self.planner.plan(raw);
            if let Some(conflicts) = &self.conflicts {
                conflicts.check(&mut planned, self.user_name_column.as_deref());
            }
            planned
        }))
    }
}
