//! CSV imports as a use case (docs/import.md): an uploaded file becomes an import resource whose
//! rows are matched to users and written through the same provisioning path as SCIM and `/Bulk`
//! ([`super::insert_resource`], [`super::patch_resource`]), in the request for small files or by a
//! background worker for large ones.
//!
//! The stages of a run: the stored file is *scanned* (decoded, read and planned without touching
//! the database), so a file-level problem fails the import before anything is written; then a
//! *pass* evaluates every row against the database. A preview (dry run) and an `on_error=abort`
//! import run the pass in one transaction, rolled back for a preview or when any row failed, so a
//! preview is exactly what a commit would do; `on_error=skip` commits batch by batch, each batch
//! with its rows' outcomes and the import's progress, so a restart resumes after the last
//! committed batch and never loses or repeats a row.

mod file;
mod invite;
mod runner;
mod worker;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use file::{FileReader, FileWriter, UploadError, CHUNK_BYTES};
pub use invite::PolicyInviter;
pub use worker::{start_worker, WorkerHandle};

use super::{ProvisionError, ProvisionResult, Provisioner};
use crate::config::ImportSettings;
use crate::import::{
    write_template, CsvFormat, ErrorsCsvWriter, ExportUser, ExportWriter, PlannedRow, Profile, ProfileError, RowIssue,
    Severity,
};
use crate::scim::error::ScimError;
use crate::scim::filter::AttrPath;
use crate::scim::schema::{ResourceKind, ResourceSchema};
use crate::store::{
    ImportCounts, ImportPhase, ImportRecord, ImportRowRecord, ImportStatus, PagePosition, PageQuery, Repository,
    RowSelection, StoredResource,
};
use crate::tenant::TenantId;

/// What to do with the good rows when some rows fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Import every good row; report the bad ones.
    #[default]
    Skip,
    /// Import nothing if any row fails.
    Abort,
}

/// The options of an import (query or form fields of `POST /api/v1/imports`, flags of
/// `roster import`); stored with the import so a resumed job runs with the same ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportOptions {
    /// Evaluate only; commit later with `POST /api/v1/imports/{id}/commit`.
    pub dry_run: bool,
    pub on_error: OnError,
    /// Update users that already exist; when false they are `duplicate_email` errors.
    pub update_existing: bool,
    /// Invite created users (`true`), nobody (`false`), or as the tenant's policy says (absent).
    pub send_invitations: Option<bool>,
    /// The saved profile to read the file with.
    pub profile: Option<String>,
    /// An inline profile or `{"header": "target"}` mapping.
    pub mapping: Option<Value>,
    /// Read Windows-1252 and UTF-16 files instead of rejecting them with `encoding_error`.
    pub transcode_legacy: bool,
    /// The tenant's row limit when the import started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            dry_run: false,
            on_error: OnError::Skip,
            update_existing: true,
            send_invitations: None,
            profile: None,
            mapping: None,
            transcode_legacy: false,
            max_rows: None,
        }
    }
}

/// A tenant's import limits (`tenant_settings`), with the server's defaults for those it did not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportLimits {
    /// Most data rows per import (`too_many_rows` beyond).
    pub max_rows: u64,
    /// Largest upload in bytes (413 beyond).
    pub max_file_bytes: u64,
}

const MAX_ROWS_KEY: &str = "import_max_rows";
const MAX_BYTES_KEY: &str = "import_max_bytes";

/// Where an import runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the calling request or process (small files, the CLI).
    Here,
    /// By a background worker of any instance.
    Background,
}

/// Creates users from rows: invites the users an import created, inside the transaction that wrote
/// them. Implemented over the invitations use case (`provision::invitations`).
pub trait Inviter: Send + Sync {
    /// Queues an invitation for `user` if `option` (the import's `send_invitations`) or else the
    /// tenant's policy says so and none is pending; true when one was queued. With `dry_run` (a
    /// preview) it decides alike but writes nothing: true when one would be queued.
    fn invite(
        &self,
        repo: &mut dyn Repository,
        tenant: &TenantId,
        user: &StoredResource,
        option: Option<bool>,
        dry_run: bool,
    ) -> ProvisionResult<bool>;

    /// [`Inviter::invite`] for the users an import batch created, in one go; one flag per user.
    fn invite_many(
        &self,
        repo: &mut dyn Repository,
        tenant: &TenantId,
        users: &[&StoredResource],
        option: Option<bool>,
        dry_run: bool,
    ) -> ProvisionResult<Vec<bool>> {
        users.iter().map(|user| self.invite(repo, tenant, user, option, dry_run)).collect()
    }
}

/// An import and the first of its issues, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportView {
    pub record: ImportRecord,
    pub errors: Vec<RowIssue>,
    pub warnings: Vec<RowIssue>,
    pub error_count: u64,
    pub warning_count: u64,
}

/// Issues listed in an import's response; all of them are in `errors.csv` and the database.
pub const LISTED_ISSUES: u64 = 1000;

/// The import use cases over one store.
#[derive(Clone)]
pub struct Importer {
    provisioner: Provisioner,
    settings: ImportSettings,
    inviter: Option<Arc<dyn Inviter>>,
    /// This process's name as a lease owner.
    instance: Arc<str>,
    worker: Option<WorkerHandle>,
    live: LiveRows,
}

/// Rows evaluated so far by the passes this process runs in one transaction, by import id.
type LiveRows = Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>;

/// The progress of a pass that runs in one transaction: nothing of it is committed until it
/// ends, so it is kept in memory, where [`Importer::view`] finds it, and forgotten on drop.
struct LiveProgress {
    /// Where it is published; `None` when it is not shown.
    rows: Option<LiveRows>,
    id: String,
    processed: u64,
}

impl LiveProgress {
    fn advance(&mut self, rows: u64) {
        self.processed += rows;
        if let Some(Ok(mut live)) = self.rows.as_ref().map(|rows| rows.lock()) {
            live.insert(self.id.clone(), self.processed);
        }
    }

    /// Raises the count to `rows` (a batched pass retrying a transaction evaluates rows again).
    fn reach(&mut self, rows: u64) {
        if rows > self.processed {
            self.advance(rows - self.processed);
        }
    }

    fn processed(&self) -> u64 {
        self.processed
    }
}

impl Drop for LiveProgress {
    fn drop(&mut self) {
        if let Some(Ok(mut live)) = self.rows.as_ref().map(|rows| rows.lock()) {
            live.remove(&self.id);
        }
    }
}

impl Importer {
    pub fn new(provisioner: Provisioner, settings: ImportSettings, inviter: Option<Arc<dyn Inviter>>) -> Importer {
        let instance: Arc<str> = format!("roster-{}", uuid::Uuid::new_v4().simple()).into();
        Importer { provisioner, settings, inviter, instance, worker: None, live: LiveRows::default() }
    }

    /// Lets new background imports wake `worker` at once.
    pub fn with_worker(mut self, worker: WorkerHandle) -> Importer {
        self.worker = Some(worker);
        self
    }

    pub fn settings(&self) -> &ImportSettings {
        &self.settings
    }

    fn user_schema(&self) -> &ResourceSchema {
        self.provisioner.schemas().resource(ResourceKind::User)
    }

    /// The tenant's limits.
    pub fn limits(&self, tenant: &TenantId) -> ProvisionResult<ImportLimits> {
        self.provisioner.store().read(|repo| {
            let number = |repo: &mut dyn Repository, key: &str, default: u64| -> ProvisionResult<u64> {
                Ok(repo.tenant_setting(tenant, key)?.and_then(|v| v.parse().ok()).unwrap_or(default))
            };
            Ok(ImportLimits {
                max_rows: number(repo, MAX_ROWS_KEY, self.settings.import_max_rows)?,
                max_file_bytes: number(repo, MAX_BYTES_KEY, self.settings.import_max_bytes)?,
            })
        })
    }

    pub fn set_limits(&self, tenant: &TenantId, limits: ImportLimits) -> ProvisionResult<()> {
        if limits.max_rows == 0 || limits.max_file_bytes == 0 {
            return Err(ScimError::invalid_value("import limits must be at least 1").into());
        }
        self.provisioner.store().write(|repo| {
            repo.put_tenant_setting(tenant, MAX_ROWS_KEY, &limits.max_rows.to_string())?;
            Ok(repo.put_tenant_setting(tenant, MAX_BYTES_KEY, &limits.max_file_bytes.to_string())?)
        })
    }

    /// The profile an import reads its file with: the saved one named by `profile`, the inline
    /// `mapping`, or the default profile.
    pub fn resolve_profile(&self, tenant: &TenantId, options: &ImportOptions) -> ProvisionResult<Profile> {
        match (&options.profile, &options.mapping) {
            (Some(_), Some(_)) => {
                Err(ScimError::invalid_value("give either \"profile\" or \"mapping\", not both").into())
            }
            (Some(name), None) => self.saved_profile(tenant, name),
            (None, Some(mapping)) => Ok(self.checked_profile(&mapping.to_string())?),
            (None, None) => Ok(Profile::default_profile()),
        }
    }

    fn saved_profile(&self, tenant: &TenantId, name: &str) -> ProvisionResult<Profile> {
        let stored = self.provisioner.store().read(|repo| repo.import_profile(tenant, name))?;
        let stored =
            stored.ok_or_else(|| ScimError::invalid_value(format!("there is no import profile named \"{name}\"")))?;
        Profile::from_json(&stored.to_string()).map_err(|e| profile_error(&e).into())
    }

    /// Parses a profile and checks that the server stores every attribute its own columns set.
    fn checked_profile(&self, json: &str) -> Result<Profile, ScimError> {
        let profile = Profile::from_json(json).map_err(|e| profile_error(&e))?;
        let undefined: Vec<String> = profile
            .columns
            .iter()
            .filter_map(|column| {
                undefined_target(self.user_schema(), column).map(|m| format!("\"{}\": {m}", column.header))
            })
            .collect();
        if !undefined.is_empty() {
            return Err(ScimError::invalid_value(format!("the profile is not valid: {}", undefined.join("; "))));
        }
        Ok(profile)
    }

    /// Saves a profile under `name`; true when it is new.
    pub fn put_profile(&self, tenant: &TenantId, name: &str, body: &Value) -> ProvisionResult<(bool, Profile)> {
        let name = profile_name(name)?;
        let mut profile = self.checked_profile(&body.to_string())?;
        profile.name = name.to_string();
        let json = serde_json::to_value(&profile).map_err(|e| ScimError::invalid_value(e.to_string()))?;
        let created = self.provisioner.store().write(|repo| repo.put_import_profile(tenant, name, &json))?;
        Ok((created, profile))
    }

    pub fn profile(&self, tenant: &TenantId, name: &str) -> ProvisionResult<Profile> {
        match self.provisioner.store().read(|repo| repo.import_profile(tenant, name))? {
            Some(json) => Profile::from_json(&json.to_string()).map_err(|e| profile_error(&e).into()),
            None => Err(ScimError::not_found(format!("there is no import profile named \"{name}\"")).into()),
        }
    }

    pub fn delete_profile(&self, tenant: &TenantId, name: &str) -> ProvisionResult<()> {
        if self.provisioner.store().write(|repo| repo.delete_import_profile(tenant, name))? {
            Ok(())
        } else {
            Err(ScimError::not_found(format!("there is no import profile named \"{name}\"")).into())
        }
    }

    pub fn profiles(&self, tenant: &TenantId) -> ProvisionResult<Vec<Profile>> {
        let stored = self.provisioner.store().read(|repo| repo.list_import_profiles(tenant))?;
        stored
            .into_iter()
            .map(|(_, json)| Profile::from_json(&json.to_string()).map_err(|e| profile_error(&e).into()))
            .collect()
    }

    /// A writer that stores an upload for a new import (its id is the writer's).
    pub fn upload(&self, tenant: &TenantId, max_bytes: u64) -> (String, FileWriter) {
        // Time-ordered: the ids of the users it creates borrow its timestamp (runner/batch.rs).
        let id = crate::provision::new_resource_id();
        let writer = FileWriter::new(self.provisioner.store().clone(), tenant.clone(), id.clone(), max_bytes);
        (id, writer)
    }

    /// Forgets an upload that will not become an import (refused, or its options were bad).
    pub fn discard_upload(&self, tenant: &TenantId, id: &str) {
        if let Err(error) = self.provisioner.store().write(|repo| repo.delete_import_file(tenant, id)) {
            tracing::warn!(import = %id, error = %error, "cannot delete a discarded upload");
        }
    }

    /// Creates the import of a stored upload. It runs `Here` (the caller then calls
    /// [`Importer::run`]) when `placement` says so or the file is small, else in the background.
    #[expect(clippy::too_many_arguments, reason = "the parts of a new import, each needed once")]
    pub fn start(
        &self,
        tenant: &TenantId,
        id: String,
        mut options: ImportOptions,
        profile: &Profile,
        file_name: Option<String>,
        file_bytes: u64,
        lines: u64,
        placement: Option<Placement>,
    ) -> ProvisionResult<(ImportRecord, Placement)> {
        let limits = self.limits(tenant)?;
        options.max_rows = Some(limits.max_rows);
        let small = lines <= self.settings.import_sync_max_rows && file_bytes <= self.settings.import_sync_max_bytes;
        let placement = placement.unwrap_or(if small { Placement::Here } else { Placement::Background });
        let now = Utc::now();
        let record = ImportRecord {
            id,
            tenant: tenant.clone(),
            status: ImportStatus::Running,
            phase: if options.dry_run { ImportPhase::Preview } else { ImportPhase::Commit },
            dry_run: options.dry_run,
            options: serde_json::to_value(&options).map_err(|e| ScimError::invalid_value(e.to_string()))?,
            profile: serde_json::to_value(profile).map_err(|e| ScimError::invalid_value(e.to_string()))?,
            file_name,
            file_bytes,
            header: None,
            delimiter: None,
            encoding: None,
            total_rows: 0,
            processed_rows: 0,
            counts: ImportCounts::default(),
            selected_rows: None,
            changes: None,
            preview_fingerprint: None,
            lease_owner: None,
            lease_until: None,
            created_at: now,
            updated_at: now,
        };
        let record = self.place(record, placement);
        self.provisioner.store().write(|repo| repo.insert_import(&record))?;
        if placement == Placement::Background {
            self.wake_worker();
        }
        Ok((record, placement))
    }

    /// Leases a running import to this process when it runs here; leaves it for the worker otherwise.
    fn place(&self, mut record: ImportRecord, placement: Placement) -> ImportRecord {
        if placement == Placement::Here {
            record.lease_owner = Some(self.instance.to_string());
            record.lease_until = Some(Utc::now() + lease_delta(self.settings.import_lease));
        } else {
            record.lease_owner = None;
            record.lease_until = None;
        }
        record
    }

    fn wake_worker(&self) {
        if let Some(worker) = &self.worker {
            worker.wake();
        }
    }

    /// Commits a previewed import, all its rows or the `rows` listed (spreadsheet row numbers).
    /// When what a row would do has changed since the preview, nothing is written: the import is
    /// previewed again and its `changes` say which rows and how (see [`Importer::run`]).
    pub fn commit(
        &self,
        tenant: &TenantId,
        id: &str,
        rows: Option<Vec<u64>>,
        placement: Option<Placement>,
    ) -> ProvisionResult<(ImportRecord, Placement)> {
        let record = self.provisioner.store().write(|repo| -> ProvisionResult<ImportRecord> {
            // A guarded UPDATE, not a read then a write: of simultaneous commits, on any instance
            // and any backend, exactly one finds the import still previewed.
            let started = repo.change_import_status(tenant, id, ImportStatus::Previewed, ImportStatus::Running)?;
            let mut record = repo.import(tenant, id)?.ok_or_else(|| not_found(id))?;
            if !started {
                let status = record.status.as_str();
                let started_elsewhere = if record.status == ImportStatus::Running && record.phase == ImportPhase::Commit
                {
                    " (another commit of it has started)"
                } else {
                    ""
                };
                return Err(ScimError::new(
                    409,
                    None,
                    format!("import {id} is {status}{started_elsewhere}; only a previewed import can be committed"),
                )
                .into());
            }
            if let Some(rows) = &rows {
                check_selection(repo, &record, rows)?;
            }
            record.status = ImportStatus::Running;
            record.phase = ImportPhase::Commit;
            record.selected_rows = rows.map(|rows| rows.into_iter().collect::<BTreeSet<u64>>().into_iter().collect());
            record.changes = None;
            record.processed_rows = 0;
            record.updated_at = Utc::now();
            let small = record.total_rows <= self.settings.import_sync_max_rows;
            let placement = placement.unwrap_or(if small { Placement::Here } else { Placement::Background });
            let record = self.place(record, placement);
            repo.save_import(&record, None)?;
            Ok(record)
        })?;
        let placement = if record.lease_owner.is_some() { Placement::Here } else { Placement::Background };
        if placement == Placement::Background {
            self.wake_worker();
        }
        Ok((record, placement))
    }

    /// An import with its first issues; a running one with the progress of a pass this process
    /// runs in one transaction, if any.
    pub fn view(&self, tenant: &TenantId, id: &str) -> ProvisionResult<ImportView> {
        // The live progress is read before the record: a pass drops it only after saving its
        // end, so a record read afterwards that still says `running` is older than that end and
        // the live count is a floor for it. Read the other way round, a pass ending in between
        // showed a stale `running` record without its progress, which went back to 0.
        let live = self.live.lock().ok().as_ref().and_then(|live| live.get(id).copied());
        let mut view = self.provisioner.store().read(|repo| {
            let record = repo.import(tenant, id)?.ok_or_else(|| not_found(id))?;
            view_of(repo, record)
        })?;
        if let (ImportStatus::Running, Some(processed)) = (view.record.status, live) {
            view.record.processed_rows = view.record.processed_rows.max(processed);
        }
        Ok(view)
    }

    /// The progress of a pass over `id` run in one transaction, shown by [`Importer::view`] when
    /// `shown`, until it is dropped.
    fn live_progress(&self, id: &str, shown: bool) -> LiveProgress {
        LiveProgress { rows: shown.then(|| self.live.clone()), id: id.to_string(), processed: 0 }
    }

    /// A page of the tenant's imports, newest first, and their total; each with its numbers of
    /// errors and warnings but without the issues themselves.
    pub fn list(&self, tenant: &TenantId, offset: u64, count: u64) -> ProvisionResult<(u64, Vec<ImportView>)> {
        self.provisioner.store().read(|repo| {
            let (total, records) = repo.list_imports(tenant, offset, count)?;
            let mut views = Vec::with_capacity(records.len());
            for record in records {
                let error_count = repo.count_import_issues(tenant, &record.id, Severity::Error)?;
                let warning_count = repo.count_import_issues(tenant, &record.id, Severity::Warning)?;
                views.push(ImportView { record, errors: Vec::new(), warnings: Vec::new(), error_count, warning_count });
            }
            Ok((total, views))
        })
    }

    /// The rows of an import that became SCIM operations, after `after_row`.
    pub fn operations(
        &self,
        tenant: &TenantId,
        id: &str,
        after_row: u64,
        count: u64,
    ) -> ProvisionResult<(ImportRecord, Vec<ImportRowRecord>)> {
        self.provisioner.store().read(|repo| {
            let record = repo.import(tenant, id)?.ok_or_else(|| not_found(id))?;
            let rows = repo.import_rows(tenant, id, RowSelection::WithOperation, after_row, count)?;
            Ok((record, rows))
        })
    }

    /// Writes `errors.csv`: the failed rows with their original cells and an `error` column, in
    /// the upload's delimiter, ready to fix and upload again.
    pub fn write_errors_csv(&self, tenant: &TenantId, id: &str, out: impl Write) -> ProvisionResult<()> {
        let store = self.provisioner.store();
        let record = store.read(|repo| repo.import(tenant, id))?.ok_or_else(|| not_found(id))?;
        let header = record.header.clone().unwrap_or_default();
        let format = runner::csv_format_of(&record);
        let mut writer = ErrorsCsvWriter::new(out, &header, format).map_err(report_error)?;
        let mut after = 0;
        loop {
            let (rows, issues) = store.read(|repo| -> ProvisionResult<_> {
                let rows = repo.import_rows(tenant, id, RowSelection::Failed, after, 500)?;
                let issues = match (rows.first(), rows.last()) {
                    (Some(first), Some(last)) => {
                        repo.import_issues(tenant, id, None, first.row, last.row, u64::MAX / 2)?
                    }
                    _ => Vec::new(),
                };
                Ok((rows, issues))
            })?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.row;
            for row in rows {
                let planned = failed_row(row.row, row.cells.unwrap_or_default(), &issues);
                writer.write_row(&planned).map_err(report_error)?;
            }
        }
        writer.finish().map_err(report_error)?;
        Ok(())
    }

    /// Writes a profile's template (the default profile's without a name).
    pub fn write_template(&self, tenant: &TenantId, profile: Option<&str>, out: impl Write) -> ProvisionResult<()> {
        let profile = match profile {
            Some(name) => self.profile(tenant, name)?,
            None => Profile::default_profile(),
        };
        write_template(out, &profile, CsvFormat::default(), true).map_err(report_error)?;
        Ok(())
    }

    /// Writes every user of the tenant in a profile's columns (the default profile's without a
    /// name): an import file that, imported again unedited, changes nothing. Reads a page at a time.
    pub fn export_users(&self, tenant: &TenantId, profile: Option<&str>, out: impl Write) -> ProvisionResult<()> {
        let profile = match profile {
            Some(name) => self.profile(tenant, name)?,
            None => Profile::default_profile(),
        };
        let mut writer = ExportWriter::new(out, &profile, CsvFormat::default()).map_err(report_error)?;
        let mut position = PagePosition::Start;
        loop {
            let query = PageQuery { position: position.clone(), ..PageQuery::first(None, None, 500) };
            let page = self.provisioner.store().read(|repo| -> ProvisionResult<_> {
                let page = repo.list_page(tenant, ResourceKind::User, &query)?;
                let ids: Vec<&str> = page.rows.iter().map(|row| row.resource.id.as_str()).collect();
                let groups = repo.groups_of(tenant, &ids)?;
                let mut managers = std::collections::HashMap::new();
                for row in &page.rows {
                    if let Some(manager) = runner::manager_id(&row.resource.data) {
                        if !managers.contains_key(manager) {
                            let email = repo
                                .get(tenant, ResourceKind::User, manager)?
                                .and_then(|m| runner::primary_email(&m.data));
                            managers.insert(manager.to_string(), email);
                        }
                    }
                }
                Ok((page, groups, managers))
            })?;
            let (page, groups, managers) = page;
            for row in &page.rows {
                let data = row.resource.data.as_object().cloned().unwrap_or_default();
                let names: Vec<String> =
                    groups.iter().filter(|g| g.user_id == row.resource.id).map(|g| g.display.clone()).collect();
                let manager_email =
                    runner::manager_id(&row.resource.data).and_then(|id| managers.get(id).cloned().flatten());
                let user = ExportUser { resource: &data, groups: &names, manager_email: manager_email.as_deref() };
                writer.write_user(&user).map_err(report_error)?;
            }
            match page.rows.last() {
                Some(last) if page.rows.len() == 500 => position = PagePosition::After(last.key.clone()),
                _ => break,
            }
        }
        writer.finish().map_err(report_error)?;
        Ok(())
    }

    /// Leases the next import waiting for a worker, or one whose worker stopped renewing its lease.
    pub fn claim_next(&self) -> ProvisionResult<Option<ImportRecord>> {
        let now = Utc::now();
        let until = now + lease_delta(self.settings.import_lease);
        Ok(self.provisioner.store().write(|repo| repo.claim_import(&self.instance, now, until))?)
    }
}

/// Refuses a commit selection that names no row or a row the preview does not have, rather than
/// committing less than the admin meant.
fn check_selection(repo: &mut dyn Repository, record: &ImportRecord, rows: &[u64]) -> ProvisionResult<()> {
    if rows.is_empty() {
        return Err(ScimError::invalid_value("\"rows\" is empty; leave it out to commit every row").into());
    }
    let mut wanted: BTreeSet<u64> = rows.iter().copied().collect();
    let mut absent = None;
    while let Some(&first) = wanted.first() {
        let page = repo.import_rows(&record.tenant, &record.id, RowSelection::All, first.saturating_sub(1), 1000)?;
        let Some(last) = page.last().map(|row| row.row) else {
            absent = Some(first);
            break;
        };
        for row in &page {
            wanted.remove(&row.row);
        }
        if let Some(&next) = wanted.first().filter(|next| **next <= last) {
            absent = Some(next);
            break;
        }
    }
    match absent {
        None => Ok(()),
        Some(row) => Err(ScimError::invalid_value(format!(
            "row {row} is not a data row of import {}; list spreadsheet rows of the preview (the header is row 1)",
            record.id
        ))
        .into()),
    }
}

/// The first issues of an import, errors and warnings apart.
fn view_of(repo: &mut dyn Repository, record: ImportRecord) -> ProvisionResult<ImportView> {
    let (tenant, id) = (&record.tenant, record.id.as_str());
    let errors = repo.import_issues(tenant, id, Some(Severity::Error), 0, u64::MAX / 2, LISTED_ISSUES)?;
    let warnings = repo.import_issues(tenant, id, Some(Severity::Warning), 0, u64::MAX / 2, LISTED_ISSUES)?;
    let error_count = repo.count_import_issues(tenant, id, Severity::Error)?;
    let warning_count = repo.count_import_issues(tenant, id, Severity::Warning)?;
    Ok(ImportView { record, errors, warnings, error_count, warning_count })
}

fn failed_row(row: u64, cells: Vec<String>, issues: &[RowIssue]) -> PlannedRow {
    PlannedRow {
        row,
        cells,
        attributes: Default::default(),
        create_defaults: Default::default(),
        cleared: Vec::new(),
        groups: None,
        manager_email: None,
        keys: Default::default(),
        issues: issues.iter().filter(|issue| issue.row == row).cloned().collect(),
    }
}

/// Why the server cannot store what a column sets, if it cannot: an attribute of an extension
/// schema the server does not have (RFC 7643 §3.3) would otherwise be dropped silently.
pub(crate) fn undefined_target(schema: &ResourceSchema, column: &crate::import::ColumnSpec) -> Option<String> {
    let path = column.target.path()?;
    let scim_path =
        AttrPath { urn: path.schema.clone(), name: path.attribute.clone(), sub_attr: path.sub_attribute.clone() };
    if schema.resolve(&scim_path).is_some() {
        return None;
    }
    Some(match &path.schema {
        Some(urn) if schema.extension(urn).is_none() => format!(
            "it sets {path}, but this server has no schema extension {urn}; register it \
             (docs/custom-schemas.md) or map the column elsewhere"
        ),
        _ => format!("it sets {path}, which the User schema does not define"),
    })
}

fn profile_error(error: &ProfileError) -> ScimError {
    ScimError::invalid_value(error.to_string())
}

fn profile_name(name: &str) -> Result<&str, ScimError> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if valid {
        Ok(name)
    } else {
        Err(ScimError::invalid_value(format!(
            "\"{name}\" is not a usable profile name: 1-100 letters, digits, spaces, '-', '_' or '.'"
        )))
    }
}

fn report_error(error: crate::import::ReportError) -> ProvisionError {
    ProvisionError::Store(crate::store::StoreError::Database(error.to_string()))
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("import {id} not found"))
}

fn lease_delta(lease: Duration) -> chrono::Duration {
    chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30))
}
