//! Running an import: the scan of its file, the passes over its rows, and what each row becomes.
//!
//! A row is matched to a stored user by email, then username (case-insensitive), then external
//! id; keys that point at two different users are a `conflict`. A matched user gets the PATCH
//! operations the row asks for ([`update_operations`]), written through
//! [`super::super::patch_resource`]; none means `unchanged` and no write. An unmatched row
//! becomes the POST of a new user through [`super::super::insert_resource`]. A row matching a
//! user an earlier row of the same import wrote is the same person again: it updates that user
//! (its non-empty cells win) and carries a `duplicate_in_file` warning. The import's own rows
//! (`import_rows`, written with each batch) say which users it wrote, so memory stays bounded
//! whatever the file's size.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::file::FileReader;
use super::{lease_delta, undefined_target, ImportOptions, Importer, LiveProgress, OnError};
use crate::import::profile::{ColumnLayout, Rules};
use crate::import::{
    plan_rows, CsvFormat, Delimiter, Folded, ImportError, IssueCode, PersonFolder, PlannedRow, PlannedRows, Profile,
    ReaderOptions, RepeatScan, Repeats, RowIssue, SourceEncoding, UserNameConflicts,
};
use crate::provision::{ProvisionError, ProvisionResult};
use crate::scim::error::ScimError;
use crate::scim::schema::{SchemaRegistry, ENTERPRISE_USER_SCHEMA};
use crate::store::{
    ImportCounts, ImportPhase, ImportRecord, ImportRowRecord, ImportStatus, OperationsJson, PlannerStatistics,
    Repository, RowAction, RowSelection, StoreError,
};
use crate::tenant::TenantId;

mod batch;

/// Most rows a commit's `changes` lists.
const LISTED_CHANGES: usize = 1000;

/// How a job failed.
#[derive(Debug)]
enum JobError {
    Provision(ProvisionError),
    /// Another worker took the import over (this one's lease expired).
    LeaseLost,
    /// The pass is to be rolled back; what it found is in the spool.
    RolledBack(ImportCounts),
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> JobError {
        JobError::Provision(error.into())
    }
}

impl From<ProvisionError> for JobError {
    fn from(error: ProvisionError) -> JobError {
        JobError::Provision(error)
    }
}

impl From<ScimError> for JobError {
    fn from(error: ScimError) -> JobError {
        JobError::Provision(error.into())
    }
}

/// What one row became, with its issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RowOutcome {
    row: u64,
    action: String,
    user_id: Option<String>,
    matched_version: Option<i64>,
    operation: Option<OperationsJson>,
    cells: Option<Vec<String>>,
    issues: Vec<RowIssue>,
    invited: bool,
}

impl RowOutcome {
    fn action(&self) -> RowAction {
        RowAction::parse(&self.action).unwrap_or(RowAction::Failed)
    }

    /// The row record and the issues to store.
    fn into_record(self) -> (ImportRowRecord, Vec<RowIssue>) {
        let record = ImportRowRecord {
            row: self.row,
            action: self.action(),
            user_id: self.user_id,
            matched_version: self.matched_version,
            operation: self.operation,
            cells: self.cells,
            invited: self.invited,
        };
        (record, self.issues)
    }

    fn failed(planned: &PlannedRow, issues: Vec<RowIssue>) -> RowOutcome {
        RowOutcome {
            row: planned.row,
            action: RowAction::Failed.as_str().to_string(),
            user_id: None,
            matched_version: None,
            operation: None,
            cells: Some(planned.cells.clone()),
            issues,
            invited: false,
        }
    }
}

/// What a scan learnt about the file.
struct Scan {
    header: Vec<String>,
    delimiter: Delimiter,
    encoding: SourceEncoding,
    rows: u64,
    warnings: Vec<RowIssue>,
    /// The people several selected rows without errors name, and the last row of each.
    repeats: Repeats,
    /// The rows giving a username that an earlier row gave to another email.
    conflicts: Arc<UserNameConflicts>,
}

/// What does not change during a pass.
struct PassContext<'a> {
    tenant: &'a TenantId,
    import_id: &'a str,
    schemas: &'a SchemaRegistry,
    layout: &'a ColumnLayout,
    rules: &'a Rules,
    options: &'a ImportOptions,
    selection: Option<&'a BTreeSet<u64>>,
    inviter: Option<&'a dyn super::Inviter>,
    headers: Headers,
    repeats: &'a Repeats,
    /// The pass is rolled back whatever happens (a preview, a commit's comparison): the rows it
    /// records in the transaction only serve to find earlier rows of a person, so they are
    /// recorded without their operations and cells (the spool keeps those).
    rolled_back: bool,
}

/// The file's headers of the columns issues point at.
#[derive(Default)]
struct Headers {
    email: Option<String>,
    user_name: Option<String>,
    external_id: Option<String>,
    groups: Option<String>,
    manager: Option<String>,
}

impl Headers {
    fn of(layout: &ColumnLayout) -> Headers {
        let find = |test: &dyn Fn(&crate::import::Target) -> bool| {
            layout.bound.iter().find(|b| test(&b.spec.target)).map(|b| b.header.clone())
        };
        Headers {
            email: find(&|t| t.path().is_some_and(|p| p.is_email())),
            user_name: find(&|t| t.path().is_some_and(|p| p.is_core("userName"))),
            external_id: find(&|t| t.path().is_some_and(|p| p.is_core("externalId"))),
            groups: find(&|t| *t == crate::import::Target::Groups),
            manager: find(&|t| t.is_manager_email()),
        }
    }
}

/// What changes during a pass: groups looked up so far (by lower-cased name) and the people the
/// current batch wrote (their first row, and whether that row created them).
#[derive(Default)]
struct PassState {
    groups: HashMap<String, Vec<(String, String)>>,
    batch_people: HashMap<String, (u64, bool)>,
    /// Rows of people who appear again later in the file, merged so far.
    carried: PersonFolder,
    /// Groups whose members the current transaction changed ([`batch::touch_groups`]).
    touched_groups: BTreeSet<String>,
    statistics: PlannerStatistics,
}

/// A group a row names.
enum GroupRef {
    Existing(String),
    New(String),
}

fn issue(row: u64, code: IssueCode, column: Option<&str>, value: Option<&str>, message: String) -> RowIssue {
    let mut issue = RowIssue::error(row, code, message);
    issue.column = column.map(str::to_string);
    issue.value = value.map(str::to_string);
    issue
}

/// The format errors.csv of an import is written in: the upload's delimiter and encoding.
pub(super) fn csv_format_of(record: &ImportRecord) -> CsvFormat {
    let delimiter = match record.delimiter.as_deref() {
        Some(";") => Delimiter::Semicolon,
        Some("\t") => Delimiter::Tab,
        _ => Delimiter::Comma,
    };
    let encoding = record
        .encoding
        .as_deref()
        .and_then(|e| serde_json::from_value(Value::String(e.to_string())).ok())
        .unwrap_or(SourceEncoding::Utf8WithBom);
    CsvFormat::like_upload(delimiter, encoding)
}

/// The enterprise manager's id of a user (RFC 7643 §4.3).
pub(super) fn manager_id(user: &Value) -> Option<&str> {
    user.get(ENTERPRISE_USER_SCHEMA).and_then(|e| e.pointer("/manager/value")).and_then(Value::as_str)
}

/// A user's primary email, else the first (RFC 7643 §4.1.2).
pub(super) fn primary_email(user: &Value) -> Option<String> {
    let emails = user.get("emails")?.as_array()?;
    let primary = emails.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))).or(emails.first())?;
    primary.get("value")?.as_str().map(str::to_string)
}

/// Spools row outcomes to a temporary file while a pass runs in a transaction that may be rolled
/// back, so memory does not grow with the file.
struct Spool {
    path: std::path::PathBuf,
    writer: Option<BufWriter<std::fs::File>>,
}

impl Spool {
    fn create() -> ProvisionResult<Spool> {
        let path = std::env::temp_dir().join(format!("roster-import-{}.jsonl", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&path).map_err(io_error)?;
        Ok(Spool { path, writer: Some(BufWriter::new(file)) })
    }

    fn push(&mut self, outcome: &RowOutcome) -> ProvisionResult<()> {
        let writer = self.writer.as_mut().expect("the spool is open while a pass runs");
        serde_json::to_writer(&mut *writer, outcome).map_err(|e| io_error(e.into()))?;
        writer.write_all(b"\n").map_err(io_error)
    }

    /// The outcomes, in row order.
    fn read(&mut self) -> ProvisionResult<impl Iterator<Item = ProvisionResult<RowOutcome>>> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(io_error)?;
        }
        let file = std::fs::File::open(&self.path).map_err(io_error)?;
        Ok(BufReader::new(file).lines().map(|line| {
            let line = line.map_err(io_error)?;
            serde_json::from_str(&line).map_err(|e| io_error(e.into()))
        }))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn io_error(error: std::io::Error) -> ProvisionError {
    ProvisionError::Store(StoreError::Database(format!("import spool: {error}")))
}

/// Renews a lease from another connection while a long transaction runs. On PostgreSQL it also
/// publishes a preview's progress (about once a second) from there, so `GET /api/v1/imports/{id}`
/// shows it on every instance; on SQLite the pass holds the only write lock, so the progress stays
/// in this process's memory ([`LiveProgress`]), where [`Importer::view`] finds it.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often a preview's progress is published at most.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Heartbeat {
    fn start(importer: &Importer, record: &ImportRecord, owner: &str) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let (store, tenant, id, owner) =
            (importer.provisioner.store().clone(), record.tenant.clone(), record.id.clone(), owner.to_string());
        let publishes = record.phase == ImportPhase::Preview && store.backend() == crate::store::Backend::Postgres;
        let live = publishes.then(|| importer.live.clone());
        let lease = importer.settings.import_lease;
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let every = if live.is_some() { (lease / 3).min(PROGRESS_INTERVAL) } else { lease / 3 };
            let tick = every.max(std::time::Duration::from_millis(100));
            let mut published = 0;
            while !flag.load(Ordering::Relaxed) {
                std::thread::park_timeout(tick);
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let until = Utc::now() + lease_delta(lease);
                let _ = store.write(|repo| repo.renew_import_lease(&tenant, &id, &owner, until));
                let processed = live.as_ref().and_then(|live| live.lock().ok()?.get(&id).copied()).unwrap_or(0);
                if processed > published
                    && store.write(|repo| repo.publish_preview_progress(&tenant, &id, &owner, processed)).is_ok()
                {
                    published = processed;
                }
            }
        });
        Heartbeat { stop, thread: Some(thread) }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Importer {
    /// Runs a leased import to its end and returns it; `progress` hears of each batch
    /// (processed rows, total rows). The import ends `previewed`, `completed` or `failed`, or is
    /// left `running` for another worker when the database became unavailable or the lease was
    /// lost.
    pub fn run(&self, record: ImportRecord, progress: &mut dyn FnMut(u64, u64)) -> ProvisionResult<ImportRecord> {
        let owner = record.lease_owner.clone().unwrap_or_else(|| self.instance.to_string());
        let id = record.id.clone();
        let tenant = record.tenant.clone();
        match self.run_job(record, &owner, progress) {
            Ok(record) => Ok(record),
            Err(JobError::LeaseLost) => self.view(&tenant, &id).map(|view| view.record),
            Err(JobError::RolledBack(_)) => unreachable!("a rolled-back pass is handled where it happens"),
            Err(JobError::Provision(ProvisionError::Store(error))) if is_transient(&error) => {
                Err(ProvisionError::Store(error))
            }
            Err(JobError::Provision(error)) => {
                tracing::error!(import = %id, error = %error, "import failed");
                let message = match &error {
                    ProvisionError::Scim(e) => e.detail.clone(),
                    ProvisionError::Store(_) => "the import stopped on a database error; upload the file again".into(),
                };
                self.fail(&tenant, &id, &owner, vec![RowIssue::error(1, IssueCode::MalformedCsv, message)])?;
                Err(error)
            }
        }
    }

    fn run_job(
        &self,
        mut record: ImportRecord,
        owner: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportRecord, JobError> {
        let profile = Profile::from_json(&record.profile.to_string())
            .map_err(|e| ScimError::invalid_value(format!("the import's profile: {e}")))?;
        let options: ImportOptions = serde_json::from_value(record.options.clone())
            .map_err(|e| ScimError::invalid_value(format!("the import's options: {e}")))?;
        let reader_options = ReaderOptions {
            transcode_legacy: options.transcode_legacy,
            max_rows: options.max_rows,
            ..ReaderOptions::default()
        };
        let heartbeat = Heartbeat::start(self, &record, owner);
        let scan = match self.scan(&record, &profile, &reader_options)? {
            Ok(scan) => scan,
            Err(issues) => return Ok(self.fail(&record.tenant, &record.id, owner, issues)?),
        };
        drop(heartbeat);
        record.header = Some(scan.header.clone());
        record.delimiter = Some((scan.delimiter.as_byte() as char).to_string());
        record.encoding = serde_json::to_value(scan.encoding).ok().and_then(|v| v.as_str().map(str::to_string));
        record.total_rows = scan.rows;
        record.lease_until = Some(Utc::now() + lease_delta(self.settings.import_lease));
        // The total is known from here on: progress polls show it while the rows are evaluated.
        if !self.provisioner.store().write(|repo| repo.save_import(&record, Some(owner)))? {
            return Err(JobError::LeaseLost);
        }
        progress(record.processed_rows, record.total_rows);
        match record.phase {
            ImportPhase::Done => Ok(record),
            ImportPhase::Preview => {
                // Shown until the import is saved `previewed`, so progress never goes back.
                let mut live = self.live_progress(&record.id, true);
                record.preview_fingerprint = Some(self.tenant_fingerprint(&record.tenant)?);
                let counts = self.rolled_back_pass(
                    &record,
                    owner,
                    &profile,
                    &options,
                    &reader_options,
                    &scan,
                    None,
                    &mut live,
                    progress,
                )?;
                self.finish(record, owner, ImportStatus::Previewed, counts, None)
            }
            ImportPhase::Commit => {
                if record.processed_rows == 0 {
                    // A commit counts its own rows, not the preview's.
                    record.counts = ImportCounts::default();
                }
                if record.dry_run && record.processed_rows == 0 && !self.preview_holds(&record)? {
                    let fingerprint = self.tenant_fingerprint(&record.tenant)?;
                    let mut compare = Compare::default();
                    let counts = self.rolled_back_pass(
                        &record,
                        owner,
                        &profile,
                        &options,
                        &reader_options,
                        &scan,
                        Some(&mut compare),
                        // Not shown: the commit's own pass then counts from 0 again.
                        &mut self.live_progress(&record.id, false),
                        progress,
                    )?;
                    if !compare.changes.is_empty() {
                        record.preview_fingerprint = Some(fingerprint);
                        let changes = json!({"rows": compare.changes, "total": compare.total});
                        return self.finish(record, owner, ImportStatus::Previewed, counts, Some(changes));
                    }
                }
                // From here on this is the commit itself, no longer a preview.
                record.dry_run = false;
                if options.on_error == OnError::Abort && record.processed_rows == 0 {
                    self.atomic_pass(record, owner, &profile, &options, &reader_options, &scan, progress)
                } else {
                    self.batched_pass(record, owner, &profile, &options, &reader_options, &scan, progress)
                }
            }
        }
    }

    fn tenant_fingerprint(&self, tenant: &TenantId) -> Result<String, JobError> {
        Ok(self.provisioner.store().read(|repo| repo.tenant_fingerprint(tenant))?)
    }

    /// Whether a commit of all rows may skip evaluating them again: no user or group of the
    /// tenant changed since the preview, which was taken (conservatively) just before its pass.
    /// A commit of some rows is always compared, since a row may depend on one left out (its
    /// manager, say).
    fn preview_holds(&self, record: &ImportRecord) -> Result<bool, JobError> {
        match (&record.preview_fingerprint, &record.selected_rows) {
            (Some(previewed), None) => Ok(*previewed == self.tenant_fingerprint(&record.tenant)?),
            _ => Ok(false),
        }
    }

    /// Reads the whole file without the database: its header, delimiter, encoding and number of
    /// rows, or the issues that reject it (the file cannot be read, or sets attributes the server
    /// does not store).
    fn scan(
        &self,
        record: &ImportRecord,
        profile: &Profile,
        options: &ReaderOptions,
    ) -> ProvisionResult<Result<Scan, Vec<RowIssue>>> {
        let mut rows = match self.open_rows(record, profile, options)? {
            Ok(rows) => rows,
            Err(issues) => return Ok(Err(issues)),
        };
        let header_row = rows.warnings().first().map_or(1, |w| w.row);
        let undefined: Vec<RowIssue> = rows
            .planner()
            .layout()
            .bound
            .iter()
            .filter_map(|bound| {
                let reason = undefined_target(self.user_schema(), &bound.spec)?;
                Some(issue(
                    header_row,
                    IssueCode::UnknownColumn,
                    Some(&bound.header),
                    None,
                    format!("column \"{}\" cannot be imported: {reason}", bound.header),
                ))
            })
            .collect();
        if !undefined.is_empty() {
            return Ok(Err(undefined));
        }
        let mut count = 0;
        let mut repeats = RepeatScan::with_memory(self.settings.import_scan_memory as usize);
        for row in &mut rows {
            match row {
                Ok(row) => {
                    count += 1;
                    let selected =
                        record.selected_rows.as_ref().is_none_or(|rows| rows.binary_search(&row.row).is_ok());
                    if selected {
                        repeats.observe(&row).map_err(io_error)?;
                    } else {
                        repeats.observe_unselected(&row).map_err(io_error)?;
                    }
                }
                Err(ImportError::Rejected(issues)) => return Ok(Err(issues)),
                Err(ImportError::Io(error)) => return Err(io_error(error)),
            }
        }
        let found = repeats.finish().map_err(io_error)?;
        Ok(Ok(Scan {
            header: rows.header().to_vec(),
            delimiter: rows.delimiter(),
            encoding: rows.encoding(),
            rows: count,
            warnings: rows.warnings().to_vec(),
            repeats: found.repeats,
            conflicts: Arc::new(found.conflicts),
        }))
    }

    fn open_rows(
        &self,
        record: &ImportRecord,
        profile: &Profile,
        options: &ReaderOptions,
    ) -> ProvisionResult<Result<PlannedRows<FileReader>, Vec<RowIssue>>> {
        let reader = FileReader::new(self.provisioner.store().clone(), record.tenant.clone(), record.id.clone());
        match plan_rows(reader, profile, options) {
            Ok(rows) => Ok(Ok(rows)),
            Err(ImportError::Rejected(issues)) => Ok(Err(issues)),
            Err(ImportError::Io(error)) => Err(io_error(error)),
        }
    }

    /// Marks an import failed with file-level issues; nothing of it was written.
    fn fail(&self, tenant: &TenantId, id: &str, owner: &str, issues: Vec<RowIssue>) -> ProvisionResult<ImportRecord> {
        self.provisioner.store().write(|repo| {
            let mut record = repo.import(tenant, id)?.ok_or_else(|| super::not_found(id))?;
            repo.delete_import_results(tenant, id)?;
            let numbered: Vec<(u64, RowIssue)> = issues.into_iter().enumerate().map(|(i, x)| (i as u64, x)).collect();
            repo.insert_import_issues(tenant, id, &numbered)?;
            record.status = ImportStatus::Failed;
            record.phase = ImportPhase::Done;
            record.counts = ImportCounts::default();
            record.processed_rows = 0;
            record.lease_owner = None;
            record.lease_until = None;
            record.updated_at = Utc::now();
            repo.save_import(&record, Some(owner))?;
            Ok(record)
        })
    }

    fn finish(
        &self,
        mut record: ImportRecord,
        owner: &str,
        status: ImportStatus,
        counts: ImportCounts,
        changes: Option<Value>,
    ) -> Result<ImportRecord, JobError> {
        record.status = status;
        record.phase = ImportPhase::Done;
        record.counts = counts;
        record.processed_rows = record.total_rows;
        record.changes = changes;
        record.lease_owner = None;
        record.lease_until = None;
        record.updated_at = Utc::now();
        if !self.provisioner.store().write(|repo| repo.save_import(&record, Some(owner)))? {
            return Err(JobError::LeaseLost);
        }
        Ok(record)
    }

    fn context<'a>(
        &'a self,
        record: &'a ImportRecord,
        layout: &'a ColumnLayout,
        profile: &'a Profile,
        options: &'a ImportOptions,
        selection: Option<&'a BTreeSet<u64>>,
        repeats: &'a Repeats,
    ) -> PassContext<'a> {
        PassContext {
            tenant: &record.tenant,
            import_id: &record.id,
            schemas: self.provisioner.schemas(),
            layout,
            rules: &profile.rules,
            options,
            selection,
            inviter: self.inviter.as_deref(),
            headers: Headers::of(layout),
            repeats,
            rolled_back: false,
        }
    }

    /// Evaluates every row in one transaction and rolls it back; records the outcomes as the
    /// import's rows. With `compare`, first notes where they differ from the stored ones.
    #[expect(clippy::too_many_arguments, reason = "one pass needs the import's whole setup")]
    fn rolled_back_pass(
        &self,
        record: &ImportRecord,
        owner: &str,
        profile: &Profile,
        options: &ImportOptions,
        reader_options: &ReaderOptions,
        scan: &Scan,
        compare: Option<&mut Compare>,
        live: &mut LiveProgress,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportCounts, JobError> {
        let mut spool = Spool::create()?;
        let pass = Pass { owner, profile, options, reader_options, scan, preview: true };
        let counts = match self.single_transaction(record, &pass, &mut spool, live, progress)? {
            Ok(counts) | Err(counts) => counts,
        };
        if let Some(compare) = compare {
            self.compare_with_stored(record, &mut spool, compare)?;
            if compare.changes.is_empty() {
                return Ok(counts);
            }
        }
        self.store_spool(record, owner, scan, &mut spool, false)?;
        Ok(counts)
    }

    /// `on_error=abort`: every row in one transaction, committed only when no row failed.
    #[expect(clippy::too_many_arguments, reason = "one pass needs the import's whole setup")]
    fn atomic_pass(
        &self,
        record: ImportRecord,
        owner: &str,
        profile: &Profile,
        options: &ImportOptions,
        reader_options: &ReaderOptions,
        scan: &Scan,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportRecord, JobError> {
        let mut spool = Spool::create()?;
        let pass = Pass { owner, profile, options, reader_options, scan, preview: false };
        let mut live = self.live_progress(&record.id, true);
        match self.single_transaction(&record, &pass, &mut spool, &mut live, progress)? {
            Ok(counts) => self.finish(record, owner, ImportStatus::Completed, counts, None),
            Err(counts) => {
                self.store_spool(&record, owner, scan, &mut spool, true)?;
                let held = ImportCounts {
                    failed: counts.failed,
                    skipped: counts.skipped + counts.created + counts.updated + counts.unchanged,
                    ..ImportCounts::default()
                };
                self.finish(record, owner, ImportStatus::Failed, held, None)
            }
        }
    }

    /// Runs every row in one transaction; `Ok` when it was committed, `Err` when rolled back (a
    /// preview, or a failed row with `on_error=abort`). Outcomes go to `spool`.
    /// The rows it evaluates are not committed, so its progress is kept in memory
    /// ([`Importer::view`] shows it) and, on PostgreSQL, published from the heartbeat's own
    /// connection for the other instances; a restarted job still resumes from the committed
    /// `processed_rows` of a batched pass, which a preview's published count never moves.
    fn single_transaction(
        &self,
        record: &ImportRecord,
        pass: &Pass<'_>,
        spool: &mut Spool,
        live: &mut LiveProgress,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Result<ImportCounts, ImportCounts>, JobError> {
        let Pass { owner, profile, options, reader_options, scan, preview } = *pass;
        let mut rows = match self.open_rows(record, profile, reader_options)? {
            Ok(rows) => rows.with_user_name_conflicts(scan.conflicts.clone()),
            Err(issues) => return Err(ScimError::invalid_value(issues_text(&issues)).into()),
        };
        let layout = rows.planner().layout().clone();
        let selection: Option<BTreeSet<u64>> = record.selected_rows.as_ref().map(|rows| rows.iter().copied().collect());
        let context = PassContext {
            rolled_back: preview,
            ..self.context(record, &layout, profile, options, selection.as_ref(), &scan.repeats)
        };
        let batch_rows = self.settings.import_batch_rows as usize;
        let _heartbeat = Heartbeat::start(self, record, owner);
        let outcome = self.provisioner.store().write_bulk(|repo| -> Result<ImportCounts, JobError> {
            repo.delete_import_results(context.tenant, context.import_id)?;
            insert_file_warnings(repo, &context, &scan.warnings)?;
            let mut state = PassState::default();
            let mut counts = ImportCounts::default();
            loop {
                let batch = next_batch(&mut rows, batch_rows)?;
                if batch.is_empty() {
                    break;
                }
                run_batch(repo, &context, &mut state, &batch, &mut |outcome| {
                    count(&mut counts, outcome);
                    spool.push(outcome)
                })?;
                live.advance(batch.len() as u64);
                progress(live.processed(), scan.rows);
                drop(batch);
                crate::allocator::release_free_memory();
            }
            batch::touch_groups(repo, &context, &mut state)?;
            if preview || counts.failed > 0 {
                Err(JobError::RolledBack(counts))
            } else {
                Ok(counts)
            }
        });
        match outcome {
            Ok(counts) => Ok(Ok(counts)),
            Err(JobError::RolledBack(counts)) => Ok(Err(counts)),
            Err(error) => Err(error),
        }
    }

    /// `on_error=skip`: a transaction per few batches ([`ImportSettings::import_transaction_batches`]),
    /// each committing its rows' outcomes and the import's progress; resumes after the last
    /// committed transaction. Fewer, larger transactions write each randomly keyed index page
    /// fewer times; the batches still bound memory, as only their outcomes' counts are kept.
    ///
    /// [`ImportSettings::import_transaction_batches`]: crate::config::ImportSettings::import_transaction_batches
    #[expect(clippy::too_many_arguments, reason = "one pass needs the import's whole setup")]
    fn batched_pass(
        &self,
        mut record: ImportRecord,
        owner: &str,
        profile: &Profile,
        options: &ImportOptions,
        reader_options: &ReaderOptions,
        scan: &Scan,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportRecord, JobError> {
        let mut state = PassState::default();
        let mut rows = self.rows_after(&record, profile, reader_options, scan, Some(&mut state))?;
        let layout = rows.planner().layout().clone();
        let base = record.clone();
        let selection: Option<BTreeSet<u64>> = base.selected_rows.as_ref().map(|rows| rows.iter().copied().collect());
        let context = self.context(&base, &layout, profile, options, selection.as_ref(), &scan.repeats);
        let batch_rows = self.settings.import_batch_rows as usize;
        let batches = self.settings.import_transaction_batches;
        // A transaction of several batches may outlast the lease its commit renews.
        let _heartbeat = Heartbeat::start(self, &record, owner);
        let mut live = self.live_progress(&record.id, true);
        live.reach(record.processed_rows);
        let mut attempt = 0;
        loop {
            let checkpoint = state.carried.clone();
            // A plain `write`: a bulk page cache grown and dropped per transaction made a
            // 1,000,000-row import peak at 281 MiB (glibc kept the churned pages).
            let written = self.provisioner.store().write(|repo| -> Result<Option<ImportRecord>, JobError> {
                let mut next = record.clone();
                for _ in 0..batches {
                    let batch = next_batch(&mut rows, batch_rows)?;
                    if batch.is_empty() {
                        break;
                    }
                    if next.processed_rows == 0 {
                        repo.delete_import_results(context.tenant, context.import_id)?;
                        insert_file_warnings(repo, &context, &scan.warnings)?;
                    }
                    run_batch(repo, &context, &mut state, &batch, &mut |outcome| {
                        count(&mut next.counts, outcome);
                        Ok(())
                    })?;
                    next.processed_rows += batch.len() as u64;
                    live.reach(next.processed_rows);
                    progress(next.processed_rows, next.total_rows);
                    drop(batch);
                    crate::allocator::release_free_memory();
                }
                if next.processed_rows == record.processed_rows {
                    return Ok(None);
                }
                batch::touch_groups(repo, &context, &mut state)?;
                next.updated_at = Utc::now();
                next.lease_until = Some(next.updated_at + lease_delta(self.settings.import_lease));
                if !repo.save_import(&next, Some(owner))? {
                    return Err(JobError::LeaseLost);
                }
                Ok(Some(next))
            });
            match written {
                Ok(Some(next)) => {
                    record = next;
                    attempt = 0;
                }
                Ok(None) => break,
                Err(JobError::Provision(ProvisionError::Store(error))) if is_retryable(&error) && attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(import = %record.id, attempt, error = %error, after_row = record.processed_rows,
                        "an import transaction failed; evaluating its rows again");
                    state = PassState { carried: checkpoint, ..PassState::default() };
                    rows = self.rows_after(&record, profile, reader_options, scan, None)?;
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                Err(error) => return Err(error),
            }
        }
        let counts = record.counts;
        self.finish(record, owner, ImportStatus::Completed, counts, None)
    }

    /// The file's rows after those `record` has processed. With `state`, the selected ones among
    /// those are folded into it, as the rows they carry forward (a resumed pass); without, the
    /// caller restores what it carried itself.
    fn rows_after(
        &self,
        record: &ImportRecord,
        profile: &Profile,
        reader_options: &ReaderOptions,
        scan: &Scan,
        mut state: Option<&mut PassState>,
    ) -> Result<PlannedRows<FileReader>, JobError> {
        let mut rows = match self.open_rows(record, profile, reader_options)? {
            Ok(rows) => rows.with_user_name_conflicts(scan.conflicts.clone()),
            Err(issues) => return Err(ScimError::invalid_value(issues_text(&issues)).into()),
        };
        let selection = record.selected_rows.as_deref();
        for done in (&mut rows).take(record.processed_rows as usize) {
            let done = done.map_err(|e| ScimError::invalid_value(e.to_string()))?;
            let Some(state) = state.as_deref_mut() else { continue };
            if selection.is_none_or(|selected| selected.binary_search(&done.row).is_ok()) {
                if let Folded::Apply(done) = state.carried.fold(&scan.repeats, &done) {
                    state.carried.carried_manager(&scan.repeats, &done);
                }
            }
        }
        Ok(rows)
    }

    /// Replaces the import's stored rows with the spooled outcomes (`held`: none was written, as
    /// `on_error=abort` held every good row back).
    fn store_spool(
        &self,
        record: &ImportRecord,
        owner: &str,
        scan: &Scan,
        spool: &mut Spool,
        held: bool,
    ) -> Result<(), JobError> {
        let store = self.provisioner.store();
        let (tenant, id) = (&record.tenant, record.id.as_str());
        store.write(|repo| -> Result<(), JobError> {
            repo.delete_import_results(tenant, id)?;
            let warnings: Vec<(u64, RowIssue)> =
                scan.warnings.iter().cloned().enumerate().map(|(i, w)| (i as u64, w)).collect();
            repo.insert_import_issues(tenant, id, &warnings)?;
            Ok(())
        })?;
        let mut outcomes = spool.read()?;
        loop {
            let mut batch = Vec::new();
            for outcome in outcomes.by_ref().take(self.settings.import_batch_rows as usize) {
                let mut outcome = outcome?;
                if held && outcome.action() != RowAction::Failed {
                    outcome.action = RowAction::Skipped.as_str().to_string();
                    outcome.operation = None;
                }
                batch.push(outcome);
            }
            if batch.is_empty() {
                return Ok(());
            }
            store.write(|repo| -> Result<(), JobError> {
                if !repo.renew_import_lease(tenant, id, owner, Utc::now() + lease_delta(self.settings.import_lease))? {
                    return Err(JobError::LeaseLost);
                }
                record_outcomes(repo, tenant, id, batch)
            })?;
        }
    }

    /// Notes the rows whose outcome differs from the stored preview (selected rows only).
    fn compare_with_stored(
        &self,
        record: &ImportRecord,
        spool: &mut Spool,
        compare: &mut Compare,
    ) -> Result<(), JobError> {
        let store = self.provisioner.store();
        let mut stored: Vec<ImportRowRecord> = Vec::new();
        let mut position = 0;
        let mut after = 0;
        for outcome in spool.read()? {
            let outcome = outcome?;
            if outcome.action() == RowAction::Skipped {
                continue;
            }
            while position >= stored.len() || stored[position].row < outcome.row {
                if position >= stored.len() {
                    stored = store
                        .read(|repo| repo.import_rows(&record.tenant, &record.id, RowSelection::All, after, 1000))?;
                    position = 0;
                    match stored.last() {
                        Some(last) => after = last.row,
                        None => break,
                    }
                } else {
                    position += 1;
                }
            }
            let before = stored.get(position).filter(|row| row.row == outcome.row);
            compare.note(before, &outcome);
        }
        Ok(())
    }
}

/// The setup of a pass run in one transaction.
#[derive(Clone, Copy)]
struct Pass<'a> {
    owner: &'a str,
    profile: &'a Profile,
    options: &'a ImportOptions,
    reader_options: &'a ReaderOptions,
    scan: &'a Scan,
    /// Rolled back whatever happens.
    preview: bool,
}

/// Differences between a preview and the same rows evaluated again.
#[derive(Default)]
struct Compare {
    changes: Vec<Value>,
    total: u64,
}

impl Compare {
    fn note(&mut self, before: Option<&ImportRowRecord>, after: &RowOutcome) {
        let describe_after = || {
            let codes: Vec<&str> = after.issues.iter().filter(|i| i.is_error()).map(|i| i.code.as_str()).collect();
            json!({"action": after.action, "user_id": after.user_id, "version": after.matched_version, "errors": codes})
        };
        let detail = match before {
            None => Some("the row was not in the preview".to_string()),
            Some(before) if before.action.as_str() != after.action => {
                Some(format!("the preview said {}, now it would be {}", before.action.as_str(), after.action))
            }
            Some(before)
                if matches!(before.action, RowAction::Update | RowAction::Unchanged)
                    && (before.user_id != after.user_id || before.matched_version != after.matched_version) =>
            {
                Some("the user the row updates was changed since the preview".to_string())
            }
            Some(before) if before.action == RowAction::Create && after.action() == RowAction::Create => {
                let (a, b) = (before.operation.as_ref(), after.operation.as_ref());
                let body = |op: Option<&OperationsJson>| {
                    let steps: Value = serde_json::from_str(op?.get()).ok()?;
                    steps.pointer("/0/data").cloned()
                };
                (body(a) != body(b)).then(|| "the user the row creates would differ from the preview".to_string())
            }
            _ => None,
        };
        if let Some(detail) = detail {
            self.total += 1;
            if self.changes.len() < LISTED_CHANGES {
                let before = before
                    .map(|b| json!({"action": b.action.as_str(), "user_id": b.user_id, "version": b.matched_version}));
                self.changes
                    .push(json!({"row": after.row, "detail": detail, "before": before, "after": describe_after()}));
            }
        }
    }
}

fn issues_text(issues: &[RowIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn is_transient(error: &StoreError) -> bool {
    matches!(error, StoreError::Unavailable(_))
}

fn is_retryable(error: &StoreError) -> bool {
    matches!(error, StoreError::Unavailable(_) | StoreError::VersionMismatch | StoreError::UniqueViolation(_))
}

fn next_batch(rows: &mut PlannedRows<FileReader>, size: usize) -> Result<Vec<PlannedRow>, JobError> {
    let mut batch = Vec::with_capacity(size);
    for row in rows.by_ref().take(size) {
        match row {
            Ok(row) => batch.push(row),
            Err(error) => {
                return Err(ScimError::invalid_value(format!("the file changed while importing: {error}")).into())
            }
        }
    }
    Ok(batch)
}

fn count(counts: &mut ImportCounts, outcome: &RowOutcome) {
    counts.record(outcome.action());
    if outcome.invited {
        counts.invitations_queued += 1;
    }
}

fn insert_file_warnings(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    warnings: &[RowIssue],
) -> Result<(), JobError> {
    let numbered: Vec<(u64, RowIssue)> = warnings.iter().cloned().enumerate().map(|(i, w)| (i as u64, w)).collect();
    repo.insert_import_issues(context.tenant, context.import_id, &numbered)?;
    Ok(())
}

fn record_outcomes(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    id: &str,
    outcomes: Vec<RowOutcome>,
) -> Result<(), JobError> {
    let mut records = Vec::with_capacity(outcomes.len());
    let mut issues: Vec<(u64, RowIssue)> = Vec::new();
    for outcome in outcomes {
        let (record, row_issues) = outcome.into_record();
        records.push(record);
        issues.extend(row_issues.into_iter().enumerate().map(|(i, issue)| (i as u64, issue)));
    }
    repo.insert_import_rows(tenant, id, &records)?;
    repo.insert_import_issues(tenant, id, &issues)?;
    Ok(())
}

/// Runs one batch of rows, shows each outcome to `note`, then records them in `import_rows` (in
/// the same transaction).
fn run_batch(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    batch: &[PlannedRow],
    note: &mut dyn FnMut(&RowOutcome) -> ProvisionResult<()>,
) -> Result<(), JobError> {
    repo.refresh_planner_statistics(&mut state.statistics)?;
    let outcomes = batch::evaluate_batch(repo, context, state, batch)?;
    for outcome in &outcomes {
        note(outcome)?;
    }
    if context.rolled_back {
        let slim: Vec<ImportRowRecord> = outcomes
            .iter()
            .map(|outcome| ImportRowRecord {
                row: outcome.row,
                action: outcome.action(),
                user_id: outcome.user_id.clone(),
                matched_version: outcome.matched_version,
                operation: None,
                cells: None,
                invited: outcome.invited,
            })
            .collect();
        repo.insert_import_rows(context.tenant, context.import_id, &slim)?;
    } else {
        record_outcomes(repo, context.tenant, context.import_id, outcomes)?;
    }
    Ok(())
}
