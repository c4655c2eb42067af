//! Storage of CSV imports (docs/import.md): the import resources with their lease, the uploaded
//! file in chunks, what each row became, the issues found, the saved mapping profiles, and the
//! lookups the importer matches rows with (users by email, username or external id, groups by
//! name, a user's memberships with their source).
//!
//! Writes belong in the caller's transaction ([`super::Store::write`]): the rows and counts of a
//! batch are committed together with the users the batch wrote, so an import's progress never
//! claims more than the database holds.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde_json::Value;

use std::collections::{HashMap, HashSet};

use super::batches::distinct_chunks;
use super::repository::{bad_json, fold, format_timestamp, parse_timestamp, NamedText, SqlRepository, TextRow};
use super::sql::{Cell, ColumnType};
use super::{MembershipSource, PlannerStatistics, StoreError, StoreResult};
use crate::import::{IssueCode, RowIssue, Severity};
use crate::tenant::TenantId;

/// Where an import stands (the `status` of the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    /// Evaluated without writing; can be committed.
    Previewed,
    /// Being evaluated or written, in the request or by a background worker.
    Running,
    Completed,
    /// The file could not be imported (or, with `on_error=abort`, a row failed): nothing written.
    Failed,
}

/// What the job of a running import does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPhase {
    /// Evaluate every row in a transaction that is rolled back (a dry run).
    Preview,
    /// Write the rows.
    Commit,
    /// Nothing left to do.
    Done,
}

/// What one data row became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
    Failed,
    /// Not written: left out of a commit's selection, or held back by `on_error=abort`.
    Skipped,
}

macro_rules! text_enum {
    ($type:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> StoreResult<$type> {
                match text {
                    $($text => Ok($type::$variant),)+
                    other => Err(StoreError::Database(format!("bad {} {other:?} in database", stringify!($type)))),
                }
            }
        }
    };
}

text_enum!(ImportStatus { Previewed => "previewed", Running => "running", Completed => "completed", Failed => "failed" });
text_enum!(ImportPhase { Preview => "preview", Commit => "commit", Done => "done" });
text_enum!(RowAction {
    Create => "create",
    Update => "update",
    Unchanged => "unchanged",
    Failed => "failed",
    Skipped => "skipped",
});

/// How many rows came to each end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub skipped: u64,
    pub invitations_queued: u64,
}

impl ImportCounts {
    /// Counts one row's action.
    pub fn record(&mut self, action: RowAction) {
        match action {
            RowAction::Create => self.created += 1,
            RowAction::Update => self.updated += 1,
            RowAction::Unchanged => self.unchanged += 1,
            RowAction::Failed => self.failed += 1,
            RowAction::Skipped => self.skipped += 1,
        }
    }

    pub fn add(&mut self, other: &ImportCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.invitations_queued += other.invitations_queued;
    }
}

/// An import as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    pub id: String,
    pub tenant: TenantId,
    pub status: ImportStatus,
    pub phase: ImportPhase,
    pub dry_run: bool,
    /// The options it was started with (JSON of `provision::import::ImportOptions`).
    pub options: Value,
    /// The profile the file is read with (JSON of `import::Profile`).
    pub profile: Value,
    pub file_name: Option<String>,
    pub file_bytes: u64,
    /// The file's header, once read.
    pub header: Option<Vec<String>>,
    pub delimiter: Option<String>,
    pub encoding: Option<String>,
    pub total_rows: u64,
    /// Data rows whose outcome is committed (progress).
    pub processed_rows: u64,
    pub counts: ImportCounts,
    /// The rows a commit is limited to.
    pub selected_rows: Option<Vec<u64>>,
    /// What changed between the preview and a commit that was refused for it.
    pub changes: Option<Value>,
    /// The tenant's users and groups as the preview saw them ([`ImportRepository::tenant_fingerprint`]):
    /// when they are the same at the commit, the preview still holds and is not evaluated again.
    pub preview_fingerprint: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row's SCIM operations as JSON text: written once when the row is evaluated, then carried
/// through a preview's spool into the database as it is, never parsed again on the way (only the
/// operations endpoint and a commit's comparison read them).
pub type OperationsJson = Box<serde_json::value::RawValue>;

/// The JSON text of a row's operations.
pub fn operations_json(steps: Vec<Value>) -> OperationsJson {
    serde_json::value::to_raw_value(&Value::Array(steps)).expect("a JSON value serialises")
}

/// What one row became, as stored.
#[derive(Debug, Clone)]
pub struct ImportRowRecord {
    pub row: u64,
    pub action: RowAction,
    /// The user matched or created.
    pub user_id: Option<String>,
    /// The matched user's version when the row was evaluated.
    pub matched_version: Option<i64>,
    /// The SCIM operations the row became (bulk-operation shaped, RFC 7644 §3.7).
    pub operation: Option<OperationsJson>,
    /// The cells as read, kept for rows with errors (errors.csv).
    pub cells: Option<Vec<String>>,
    /// The row queued an invitation (a preview's row: would queue one).
    pub invited: bool,
}

/// The rows of an import that name one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRows {
    pub user_id: String,
    /// The first of them, and what it did.
    pub first_row: u64,
    pub action: RowAction,
    /// One of them queued an invitation for the user (in a preview: would queue one).
    pub invited: bool,
}

/// Which rows of an import to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowSelection {
    All,
    /// Rows that became SCIM operations.
    WithOperation,
    /// Rows with errors (errors.csv).
    Failed,
}

/// Storage of imports; see the module documentation.
pub trait ImportRepository {
    fn insert_import(&mut self, import: &ImportRecord) -> StoreResult<()>;
    fn import(&mut self, tenant: &TenantId, id: &str) -> StoreResult<Option<ImportRecord>>;
    /// A page of the tenant's imports, newest first, and their total.
    fn list_imports(&mut self, tenant: &TenantId, offset: u64, count: u64) -> StoreResult<(u64, Vec<ImportRecord>)>;
    /// Saves the mutable state of an import (status, phase, header, progress, counts, selection,
    /// changes, lease). With `owner`, only while that worker still holds the lease: false means
    /// another worker took the import over and nothing was saved.
    fn save_import(&mut self, import: &ImportRecord, owner: Option<&str>) -> StoreResult<bool>;
    /// Sets an import's status to `to` only if it is still `from`, in one guarded UPDATE: the
    /// compare-and-set that lets one of several simultaneous commits (of any instance) start;
    /// false when the import is absent or has another status.
    fn change_import_status(
        &mut self,
        tenant: &TenantId,
        id: &str,
        from: ImportStatus,
        to: ImportStatus,
    ) -> StoreResult<bool>;
    /// Leases the oldest running import whose lease has expired (or that has none) to `owner`
    /// until `until`.
    fn claim_import(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<ImportRecord>>;
    /// Extends the lease `owner` holds; false when it no longer holds it.
    fn renew_import_lease(
        &mut self,
        tenant: &TenantId,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Publishes how far a running preview that `owner` holds has got (its pass is one
    /// uncommitted transaction, so this comes from another connection); progress only grows.
    fn publish_preview_progress(
        &mut self,
        tenant: &TenantId,
        id: &str,
        owner: &str,
        processed: u64,
    ) -> StoreResult<bool>;

    fn put_import_file_chunk(&mut self, tenant: &TenantId, import_id: &str, seq: u64, data: &str) -> StoreResult<()>;
    fn import_file_chunk(&mut self, tenant: &TenantId, import_id: &str, seq: u64) -> StoreResult<Option<String>>;
    fn delete_import_file(&mut self, tenant: &TenantId, import_id: &str) -> StoreResult<()>;

    /// Keeps the database's statistics of the tables an import grows true to their size before
    /// its next batch is planned (PostgreSQL; nothing on SQLite). See [`PlannerStatistics`].
    fn refresh_planner_statistics(&mut self, measured: &mut PlannerStatistics) -> StoreResult<()>;

    /// Forgets what an earlier evaluation of the import recorded (rows and issues).
    fn delete_import_results(&mut self, tenant: &TenantId, import_id: &str) -> StoreResult<()>;
    fn insert_import_rows(&mut self, tenant: &TenantId, import_id: &str, rows: &[ImportRowRecord]) -> StoreResult<()>;
    /// Stores issues; each is numbered within its row by `seq` so that their order is kept.
    fn insert_import_issues(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        issues: &[(u64, RowIssue)],
    ) -> StoreResult<()>;
    /// Rows after `after_row`, in row order.
    fn import_rows(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        selection: RowSelection,
        after_row: u64,
        limit: u64,
    ) -> StoreResult<Vec<ImportRowRecord>>;
    /// Issues of rows `from_row..=to_row`, in order; `severity` narrows them.
    fn import_issues(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        severity: Option<Severity>,
        from_row: u64,
        to_row: u64,
        limit: u64,
    ) -> StoreResult<Vec<RowIssue>>;
    /// How many issues of a severity the import has.
    fn count_import_issues(&mut self, tenant: &TenantId, import_id: &str, severity: Severity) -> StoreResult<u64>;
    /// The first row of the import that wrote or matched this user, and what it did.
    fn import_row_of_user(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<(u64, RowAction)>> {
        Ok(self.import_rows_of_users(tenant, import_id, &[user_id])?.pop().map(|rows| (rows.first_row, rows.action)))
    }

    /// Saves a profile; true when it is new.
    fn put_import_profile(&mut self, tenant: &TenantId, name: &str, profile: &Value) -> StoreResult<bool>;
    fn import_profile(&mut self, tenant: &TenantId, name: &str) -> StoreResult<Option<Value>>;
    fn delete_import_profile(&mut self, tenant: &TenantId, name: &str) -> StoreResult<bool>;
    fn list_import_profiles(&mut self, tenant: &TenantId) -> StoreResult<Vec<(String, Value)>>;

    /// A value that changes whenever a user or group of the tenant is created, changed or
    /// deleted: their counts, the sums of their versions (every write adds one) and their latest
    /// modification times.
    fn tenant_fingerprint(&mut self, tenant: &TenantId) -> StoreResult<String>;
    /// Users with this email address among their emails (compared case-insensitively).
    fn users_with_email(&mut self, tenant: &TenantId, email: &str) -> StoreResult<Vec<String>> {
        Ok(self.users_with_emails(tenant, &[email])?.into_iter().map(|(_, id)| id).collect())
    }
    /// The user with this userName (compared case-insensitively, RFC 7643 §4.1.1).
    fn user_with_user_name(&mut self, tenant: &TenantId, user_name: &str) -> StoreResult<Option<String>> {
        Ok(self.users_with_user_names(tenant, &[user_name])?.pop().map(|(_, id)| id))
    }
    /// Users with this externalId (case-exact, RFC 7643 §3.1).
    fn users_with_external_id(&mut self, tenant: &TenantId, external_id: &str) -> StoreResult<Vec<String>> {
        Ok(self.users_with_external_ids(tenant, &[external_id])?.into_iter().map(|(_, id)| id).collect())
    }
    /// Groups whose displayName equals `name` case-insensitively: (id, displayName).
    fn groups_named(&mut self, tenant: &TenantId, name: &str) -> StoreResult<Vec<(String, String)>>;
    /// The groups `member_id` belongs to directly, with who made each membership.
    fn memberships_of(&mut self, tenant: &TenantId, member_id: &str) -> StoreResult<Vec<(String, MembershipSource)>> {
        Ok(self
            .memberships_of_many(tenant, &[member_id])?
            .into_iter()
            .map(|(_, group, source)| (group, source))
            .collect())
    }

    // Batch forms of the lookups above, for an import batch: one statement per batch (per chunk of
    // values), not per row; the single forms are their batches of one. Each answers in the order
    // of its input, a value given twice once, several matches of one value in id order.

    /// `(email as given, user id)` for every user having one of `emails` (case-insensitive).
    fn users_with_emails(&mut self, tenant: &TenantId, emails: &[&str]) -> StoreResult<Vec<(String, String)>>;
    /// `(userName as given, user id)` for every user whose userName is one of `user_names`
    /// (case-insensitive).
    fn users_with_user_names(&mut self, tenant: &TenantId, user_names: &[&str]) -> StoreResult<Vec<(String, String)>>;
    /// `(externalId, user id)` for every user whose externalId is one of `external_ids` (exact).
    fn users_with_external_ids(
        &mut self,
        tenant: &TenantId,
        external_ids: &[&str],
    ) -> StoreResult<Vec<(String, String)>>;
    /// `(member id, group id, source)` for every direct membership of `member_ids`.
    fn memberships_of_many(
        &mut self,
        tenant: &TenantId,
        member_ids: &[&str],
    ) -> StoreResult<Vec<(String, String, MembershipSource)>>;
    /// The first row of the import that wrote or matched each of `user_ids` that it did.
    fn import_rows_of_users(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<Vec<UserRows>>;
}

#[derive(QueryableByName)]
struct ImportRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    phase: String,
    #[diesel(sql_type = BigInt)]
    dry_run: i64,
    #[diesel(sql_type = Text)]
    options: String,
    #[diesel(sql_type = Text)]
    profile: String,
    #[diesel(sql_type = Nullable<Text>)]
    file_name: Option<String>,
    #[diesel(sql_type = BigInt)]
    file_bytes: i64,
    #[diesel(sql_type = Nullable<Text>)]
    header: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    delimiter: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    encoding: Option<String>,
    #[diesel(sql_type = BigInt)]
    total_rows: i64,
    #[diesel(sql_type = BigInt)]
    processed_rows: i64,
    #[diesel(sql_type = BigInt)]
    created_count: i64,
    #[diesel(sql_type = BigInt)]
    updated_count: i64,
    #[diesel(sql_type = BigInt)]
    unchanged_count: i64,
    #[diesel(sql_type = BigInt)]
    failed_count: i64,
    #[diesel(sql_type = BigInt)]
    skipped_count: i64,
    #[diesel(sql_type = BigInt)]
    invitations_queued: i64,
    #[diesel(sql_type = Nullable<Text>)]
    selected_rows: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    changes: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    preview_fingerprint: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    lease_owner: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    lease_until: Option<String>,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = Text)]
    updated_at: String,
}

const IMPORT_COLUMNS: &str = "id, tenant_id, status, phase, dry_run, options, profile, file_name, file_bytes, header, \
     delimiter, encoding, total_rows, processed_rows, created_count, updated_count, unchanged_count, failed_count, \
     skipped_count, invitations_queued, selected_rows, changes, preview_fingerprint, lease_owner, lease_until, created_at, \
     updated_at";

fn raw_json_of(text: String) -> StoreResult<OperationsJson> {
    serde_json::value::RawValue::from_string(text).map_err(bad_json)
}

fn json_of(text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(bad_json)
}

fn typed_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> StoreResult<Option<T>> {
    text.map(|text| serde_json::from_str(&text).map_err(bad_json)).transpose()
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl ImportRow {
    fn into_record(self) -> StoreResult<ImportRecord> {
        Ok(ImportRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(StoreError::Database)?,
            status: ImportStatus::parse(&self.status)?,
            phase: ImportPhase::parse(&self.phase)?,
            dry_run: self.dry_run != 0,
            options: json_of(&self.options)?,
            profile: json_of(&self.profile)?,
            header: typed_json(self.header)?,
            selected_rows: typed_json(self.selected_rows)?,
            changes: typed_json(self.changes)?,
            preview_fingerprint: self.preview_fingerprint,
            lease_until: self.lease_until.as_deref().map(parse_timestamp).transpose()?,
            created_at: parse_timestamp(&self.created_at)?,
            updated_at: parse_timestamp(&self.updated_at)?,
            id: self.id,
            file_name: self.file_name,
            file_bytes: to_u64(self.file_bytes),
            delimiter: self.delimiter,
            encoding: self.encoding,
            total_rows: to_u64(self.total_rows),
            processed_rows: to_u64(self.processed_rows),
            counts: ImportCounts {
                created: to_u64(self.created_count),
                updated: to_u64(self.updated_count),
                unchanged: to_u64(self.unchanged_count),
                failed: to_u64(self.failed_count),
                skipped: to_u64(self.skipped_count),
                invitations_queued: to_u64(self.invitations_queued),
            },
            lease_owner: self.lease_owner,
        })
    }
}

#[derive(QueryableByName)]
struct RowRow {
    #[diesel(sql_type = BigInt)]
    row_number: i64,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    matched_version: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    operation: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cells: Option<String>,
    #[diesel(sql_type = BigInt)]
    invited: i64,
}

#[derive(QueryableByName)]
struct IssueRow {
    #[diesel(sql_type = BigInt)]
    row_number: i64,
    #[diesel(sql_type = Nullable<Text>)]
    column_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    message: String,
    #[diesel(sql_type = Text)]
    severity: String,
}

#[derive(QueryableByName)]
struct CountValue {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[derive(QueryableByName)]
struct RowOfUser {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    value: i64,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = BigInt)]
    invited: i64,
}

#[derive(QueryableByName)]
struct MembershipRow {
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Text)]
    source: String,
}

/// `answer` for each distinct value of `given`, in the order given: how the batch lookups answer.
fn in_input_order<'a, T>(given: &[&'a str], answer: impl FnMut(&'a str) -> Option<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    given.iter().copied().filter(|value| seen.insert(*value)).filter_map(answer).collect()
}

/// `(value as given, user id)` for each user that each distinct value of `given` matches.
fn matches_as_given<'m>(given: &[&str], users_of: impl Fn(&str) -> Option<&'m Vec<String>>) -> Vec<(String, String)> {
    in_input_order(given, |value| users_of(value).map(|ids| ids.iter().map(|id| (value.to_string(), id.clone()))))
        .into_iter()
        .flatten()
        .collect()
}

/// A key users are looked up by: the statement up to the tenant's value, the column compared,
/// and whether values are compared lower-cased.
struct UserKey {
    select: &'static str,
    column: &'static str,
    folded: bool,
}

const EMAIL_KEY: UserKey = UserKey {
    select: "SELECT DISTINCT value_lower AS name, user_id AS value FROM user_emails WHERE tenant_id = ",
    column: "value_lower",
    folded: true,
};
const USER_NAME_KEY: UserKey = UserKey {
    select: "SELECT user_name_lower AS name, id AS value FROM scim_users WHERE tenant_id = ",
    column: "user_name_lower",
    folded: true,
};
const EXTERNAL_ID_KEY: UserKey = UserKey {
    select: "SELECT external_id AS name, id AS value FROM scim_users WHERE tenant_id = ",
    column: "external_id",
    folded: false,
};

impl SqlRepository<'_> {
    /// `(value as given, user id)` for every user `key` matches among `given`: one statement per
    /// chunk of the distinct values, several users of one value in id order.
    fn users_with_key(
        &mut self,
        tenant: &TenantId,
        given: &[&str],
        key: &UserKey,
    ) -> StoreResult<Vec<(String, String)>> {
        let compared = |value: &str| if key.folded { fold(value) } else { value.to_string() };
        let values: Vec<String> = given.iter().map(|value| compared(value)).collect();
        let mut users: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in distinct_chunks(values.iter().map(String::as_str)) {
            let mut sql = self.sql();
            sql.push_matching(key.column, &chunk, |sql| {
                sql.push(key.select).bind_text(tenant.as_str());
            });
            for row in sql.load::<NamedText>(&mut self.conn)? {
                users.entry(row.name).or_default().push(row.value);
            }
        }
        users.values_mut().for_each(|ids| ids.sort_unstable());
        Ok(matches_as_given(given, |value| users.get(&compared(value))))
    }
}

fn severity_text(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn parse_code(code: &str) -> StoreResult<IssueCode> {
    serde_json::from_value(Value::String(code.to_string()))
        .map_err(|_| StoreError::Database(format!("bad issue code {code:?} in database")))
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind limits.
const INSERT_CHUNK: usize = 100;

impl ImportRepository for SqlRepository<'_> {
    fn insert_import(&mut self, import: &ImportRecord) -> StoreResult<()> {
        let mut sql = self.sql();
        sql.push("INSERT INTO imports (").push(IMPORT_COLUMNS).push(") VALUES (");
        sql.bind_text(import.id.as_str()).push(", ").bind_text(import.tenant.as_str()).push(", ");
        sql.bind_text(import.status.as_str()).push(", ").bind_text(import.phase.as_str()).push(", ");
        sql.bind_int(i64::from(import.dry_run)).push(", ").bind_text(import.options.to_string()).push(", ");
        sql.bind_text(import.profile.to_string()).push(", ").bind_opt(import.file_name.as_deref()).push(", ");
        sql.bind_int(to_i64(import.file_bytes)).push(", ");
        sql.bind_opt(import.header.as_ref().map(|h| Value::from(h.clone()).to_string())).push(", ");
        sql.bind_opt(import.delimiter.as_deref()).push(", ").bind_opt(import.encoding.as_deref()).push(", ");
        sql.bind_int(to_i64(import.total_rows)).push(", ").bind_int(to_i64(import.processed_rows)).push(", ");
        let counts = &import.counts;
        for value in [counts.created, counts.updated, counts.unchanged, counts.failed, counts.skipped] {
            sql.bind_int(to_i64(value)).push(", ");
        }
        sql.bind_int(to_i64(counts.invitations_queued)).push(", ");
        sql.bind_opt(import.selected_rows.as_ref().map(|rows| Value::from(rows.clone()).to_string())).push(", ");
        sql.bind_opt(import.changes.as_ref().map(Value::to_string)).push(", ");
        sql.bind_opt(import.preview_fingerprint.as_deref()).push(", ");
        sql.bind_opt(import.lease_owner.as_deref()).push(", ");
        sql.bind_opt(import.lease_until.map(format_timestamp)).push(", ");
        sql.bind_text(format_timestamp(import.created_at)).push(", ");
        sql.bind_text(format_timestamp(import.updated_at)).push(")");
        sql.execute(&mut self.conn)?;
        Ok(())
    }

    fn import(&mut self, tenant: &TenantId, id: &str) -> StoreResult<Option<ImportRecord>> {
        let mut sql = self.sql();
        sql.push("SELECT ").push(IMPORT_COLUMNS).push(" FROM imports WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id);
        sql.first::<ImportRow>(&mut self.conn)?.map(ImportRow::into_record).transpose()
    }

    fn list_imports(&mut self, tenant: &TenantId, offset: u64, count: u64) -> StoreResult<(u64, Vec<ImportRecord>)> {
        let mut total = self.sql();
        total.push("SELECT COUNT(*) AS value FROM imports WHERE tenant_id = ").bind_text(tenant.as_str());
        let total = total.first::<CountValue>(&mut self.conn)?.map_or(0, |c| c.value);
        let mut sql = self.sql();
        sql.push("SELECT ").push(IMPORT_COLUMNS).push(" FROM imports WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind_int(to_i64(count));
        sql.push(" OFFSET ").bind_int(to_i64(offset));
        let records: StoreResult<Vec<ImportRecord>> =
            sql.load::<ImportRow>(&mut self.conn)?.into_iter().map(ImportRow::into_record).collect();
        Ok((to_u64(total), records?))
    }

    fn save_import(&mut self, import: &ImportRecord, owner: Option<&str>) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE imports SET status = ").bind_text(import.status.as_str());
        sql.push(", phase = ").bind_text(import.phase.as_str());
        sql.push(", dry_run = ").bind_int(i64::from(import.dry_run));
        sql.push(", header = ").bind_opt(import.header.as_ref().map(|h| Value::from(h.clone()).to_string()));
        sql.push(", delimiter = ").bind_opt(import.delimiter.as_deref());
        sql.push(", encoding = ").bind_opt(import.encoding.as_deref());
        sql.push(", total_rows = ").bind_int(to_i64(import.total_rows));
        sql.push(", processed_rows = ").bind_int(to_i64(import.processed_rows));
        let counts = &import.counts;
        sql.push(", created_count = ").bind_int(to_i64(counts.created));
        sql.push(", updated_count = ").bind_int(to_i64(counts.updated));
        sql.push(", unchanged_count = ").bind_int(to_i64(counts.unchanged));
        sql.push(", failed_count = ").bind_int(to_i64(counts.failed));
        sql.push(", skipped_count = ").bind_int(to_i64(counts.skipped));
        sql.push(", invitations_queued = ").bind_int(to_i64(counts.invitations_queued));
        sql.push(", selected_rows = ")
            .bind_opt(import.selected_rows.as_ref().map(|rows| Value::from(rows.clone()).to_string()));
        sql.push(", changes = ").bind_opt(import.changes.as_ref().map(Value::to_string));
        sql.push(", preview_fingerprint = ").bind_opt(import.preview_fingerprint.as_deref());
        sql.push(", lease_owner = ").bind_opt(import.lease_owner.as_deref());
        sql.push(", lease_until = ").bind_opt(import.lease_until.map(format_timestamp));
        sql.push(", updated_at = ").bind_text(format_timestamp(import.updated_at));
        sql.push(" WHERE tenant_id = ")
            .bind_text(import.tenant.as_str())
            .push(" AND id = ")
            .bind_text(import.id.as_str());
        if let Some(owner) = owner {
            sql.push(" AND lease_owner = ").bind_text(owner);
        }
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn change_import_status(
        &mut self,
        tenant: &TenantId,
        id: &str,
        from: ImportStatus,
        to: ImportStatus,
    ) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE imports SET status = ").bind_text(to.as_str());
        sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str()).push(" AND id = ").bind_text(id);
        sql.push(" AND status = ").bind_text(from.as_str());
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn claim_import(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<ImportRecord>> {
        let now = format_timestamp(now);
        let mut candidates = self.sql();
        candidates.push("SELECT id AS value FROM imports WHERE status = 'running' AND phase <> 'done'");
        candidates.push(" AND (lease_until IS NULL OR lease_until < ").bind_text(now.as_str());
        candidates.push(") ORDER BY created_at, id LIMIT 5");
        for candidate in candidates.load::<TextRow>(&mut self.conn)? {
            let mut claim = self.sql();
            claim.push("UPDATE imports SET lease_owner = ").bind_text(owner);
            claim.push(", lease_until = ").bind_text(format_timestamp(until));
            claim.push(" WHERE id = ").bind_text(candidate.value.as_str());
            claim.push(" AND status = 'running' AND (lease_until IS NULL OR lease_until < ").bind_text(now.as_str());
            claim.push(")");
            if claim.execute(&mut self.conn)? == 1 {
                let mut sql = self.sql();
                sql.push("SELECT ").push(IMPORT_COLUMNS).push(" FROM imports WHERE id = ").bind_text(candidate.value);
                return sql.first::<ImportRow>(&mut self.conn)?.map(ImportRow::into_record).transpose();
            }
        }
        Ok(None)
    }

    fn renew_import_lease(
        &mut self,
        tenant: &TenantId,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE imports SET lease_until = ").bind_text(format_timestamp(until));
        sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str()).push(" AND id = ").bind_text(id);
        sql.push(" AND lease_owner = ").bind_text(owner);
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn publish_preview_progress(
        &mut self,
        tenant: &TenantId,
        id: &str,
        owner: &str,
        processed: u64,
    ) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE imports SET processed_rows = ").bind_int(to_i64(processed));
        sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str()).push(" AND id = ").bind_text(id);
        sql.push(" AND lease_owner = ").bind_text(owner).push(" AND status = 'running' AND phase = 'preview'");
        sql.push(" AND processed_rows < ").bind_int(to_i64(processed));
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn put_import_file_chunk(&mut self, tenant: &TenantId, import_id: &str, seq: u64, data: &str) -> StoreResult<()> {
        let mut sql = self.sql();
        sql.push("INSERT INTO import_files (tenant_id, import_id, seq, data) VALUES (").bind_text(tenant.as_str());
        sql.push(", ").bind_text(import_id).push(", ").bind_int(to_i64(seq)).push(", ").bind_text(data).push(")");
        sql.execute(&mut self.conn)?;
        Ok(())
    }

    fn import_file_chunk(&mut self, tenant: &TenantId, import_id: &str, seq: u64) -> StoreResult<Option<String>> {
        let mut sql = self.sql();
        sql.push("SELECT data AS value FROM import_files WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND import_id = ").bind_text(import_id).push(" AND seq = ").bind_int(to_i64(seq));
        Ok(sql.first::<TextRow>(&mut self.conn)?.map(|row| row.value))
    }

    fn delete_import_file(&mut self, tenant: &TenantId, import_id: &str) -> StoreResult<()> {
        self.delete_rows_naming(tenant, "import_files", "import_id", import_id)?;
        Ok(())
    }

    fn refresh_planner_statistics(&mut self, measured: &mut PlannerStatistics) -> StoreResult<()> {
        super::statistics::refresh(&mut self.conn, measured)
    }

    fn delete_import_results(&mut self, tenant: &TenantId, import_id: &str) -> StoreResult<()> {
        for table in ["import_rows", "import_errors"] {
            self.delete_rows_naming(tenant, table, "import_id", import_id)?;
        }
        Ok(())
    }

    fn insert_import_rows(&mut self, tenant: &TenantId, import_id: &str, rows: &[ImportRowRecord]) -> StoreResult<()> {
        const COLUMNS: [(&str, ColumnType); 9] = [
            ("tenant_id", ColumnType::Text),
            ("import_id", ColumnType::Text),
            ("row_number", ColumnType::BigInt),
            ("action", ColumnType::Text),
            ("user_id", ColumnType::Text),
            ("matched_version", ColumnType::BigInt),
            ("operation", ColumnType::Text),
            ("cells", ColumnType::Text),
            ("invited", ColumnType::SmallInt),
        ];
        for chunk in rows.chunks(INSERT_CHUNK) {
            // A JSON array of the cells' texts, without copying them into a `Value` first.
            let cells_json: Vec<Option<String>> = chunk
                .iter()
                .map(|row| row.cells.as_ref().map(|cells| serde_json::to_string(cells).expect("strings serialise")))
                .collect();
            let mut sql = self.sql();
            let rows = chunk.iter().zip(&cells_json).map(|(row, cells)| {
                [
                    Cell::Text(tenant.as_str()),
                    Cell::Text(import_id),
                    Cell::Int(to_i64(row.row)),
                    Cell::Text(row.action.as_str()),
                    Cell::OptText(row.user_id.as_deref()),
                    Cell::OptInt(row.matched_version),
                    Cell::OptText(row.operation.as_deref().map(serde_json::value::RawValue::get)),
                    Cell::OptText(cells.as_deref()),
                    Cell::Int(i64::from(row.invited)),
                ]
            });
            sql.insert_rows("import_rows", &COLUMNS, rows).execute(&mut self.conn)?;
        }
        Ok(())
    }

    fn insert_import_issues(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        issues: &[(u64, RowIssue)],
    ) -> StoreResult<()> {
        const COLUMNS: [(&str, ColumnType); 9] = [
            ("tenant_id", ColumnType::Text),
            ("import_id", ColumnType::Text),
            ("row_number", ColumnType::BigInt),
            ("seq", ColumnType::BigInt),
            ("column_name", ColumnType::Text),
            ("value", ColumnType::Text),
            ("code", ColumnType::Text),
            ("message", ColumnType::Text),
            ("severity", ColumnType::Text),
        ];
        for chunk in issues.chunks(INSERT_CHUNK) {
            let mut sql = self.sql();
            let rows = chunk.iter().map(|(seq, issue)| {
                [
                    Cell::Text(tenant.as_str()),
                    Cell::Text(import_id),
                    Cell::Int(to_i64(issue.row)),
                    Cell::Int(to_i64(*seq)),
                    Cell::OptText(issue.column.as_deref()),
                    Cell::OptText(issue.value.as_deref()),
                    Cell::Text(issue.code.as_str()),
                    Cell::Text(issue.message.as_str()),
                    Cell::Text(severity_text(issue.severity)),
                ]
            });
            sql.insert_rows("import_errors", &COLUMNS, rows).execute(&mut self.conn)?;
        }
        Ok(())
    }

    fn import_rows(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        selection: RowSelection,
        after_row: u64,
        limit: u64,
    ) -> StoreResult<Vec<ImportRowRecord>> {
        let mut sql = self.sql();
        sql.push(
            "SELECT row_number, action, user_id, matched_version, operation, cells, CAST(invited AS BIGINT) AS invited \
             FROM import_rows WHERE tenant_id = ",
        );
        sql.bind_text(tenant.as_str()).push(" AND import_id = ").bind_text(import_id);
        sql.push(" AND row_number > ").bind_int(to_i64(after_row));
        match selection {
            RowSelection::All => {}
            RowSelection::WithOperation => {
                sql.push(" AND operation IS NOT NULL");
            }
            RowSelection::Failed => {
                sql.push(" AND cells IS NOT NULL");
            }
        }
        sql.push(" ORDER BY row_number LIMIT ").bind_int(to_i64(limit));
        sql.load::<RowRow>(&mut self.conn)?
            .into_iter()
            .map(|row| {
                Ok(ImportRowRecord {
                    row: to_u64(row.row_number),
                    action: RowAction::parse(&row.action)?,
                    user_id: row.user_id,
                    matched_version: row.matched_version,
                    operation: row.operation.map(raw_json_of).transpose()?,
                    cells: typed_json(row.cells)?,
                    invited: row.invited != 0,
                })
            })
            .collect()
    }

    fn import_issues(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        severity: Option<Severity>,
        from_row: u64,
        to_row: u64,
        limit: u64,
    ) -> StoreResult<Vec<RowIssue>> {
        let mut sql = self.sql();
        sql.push(
            "SELECT row_number, column_name, value, code, message, severity FROM import_errors WHERE tenant_id = ",
        );
        sql.bind_text(tenant.as_str()).push(" AND import_id = ").bind_text(import_id);
        sql.push(" AND row_number >= ").bind_int(to_i64(from_row)).push(" AND row_number <= ").bind_int(to_i64(to_row));
        if let Some(severity) = severity {
            sql.push(" AND severity = ").bind_text(severity_text(severity));
        }
        sql.push(" ORDER BY row_number, seq LIMIT ").bind_int(to_i64(limit));
        sql.load::<IssueRow>(&mut self.conn)?
            .into_iter()
            .map(|issue| {
                Ok(RowIssue {
                    row: to_u64(issue.row_number),
                    column: issue.column_name,
                    value: issue.value,
                    code: parse_code(&issue.code)?,
                    message: issue.message,
                    severity: if issue.severity == "warning" { Severity::Warning } else { Severity::Error },
                })
            })
            .collect()
    }

    fn count_import_issues(&mut self, tenant: &TenantId, import_id: &str, severity: Severity) -> StoreResult<u64> {
        let mut sql = self.sql();
        sql.push("SELECT COUNT(*) AS value FROM import_errors WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND import_id = ").bind_text(import_id).push(" AND severity = ").bind_text(severity_text(severity));
        Ok(sql.first::<CountValue>(&mut self.conn)?.map_or(0, |c| to_u64(c.value)))
    }

    fn import_rows_of_users(
        &mut self,
        tenant: &TenantId,
        import_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<Vec<UserRows>> {
        let mut firsts = HashMap::new();
        for chunk in distinct_chunks(user_ids.iter().copied()) {
            // Each user's first row by the (import_id, user_id) index, then its action by the key.
            let mut sql = self.sql();
            sql.push(
                "SELECT f.user_id AS name, f.first_row AS value, r.action, f.invited FROM (SELECT user_id, \
                 MIN(row_number) AS first_row, CAST(MAX(invited) AS BIGINT) AS invited FROM import_rows \
                 WHERE tenant_id = ",
            );
            sql.bind_text(tenant.as_str()).push(" AND import_id = ").bind_text(import_id);
            sql.push(" AND user_id IN (").bind_padded_list(&chunk).push(") GROUP BY user_id) f");
            sql.push(" JOIN import_rows r ON r.import_id = ").bind_text(import_id);
            sql.push(" AND r.row_number = f.first_row");
            for first in sql.load::<RowOfUser>(&mut self.conn)? {
                let rows = UserRows {
                    user_id: first.name.clone(),
                    first_row: to_u64(first.value),
                    action: RowAction::parse(&first.action)?,
                    invited: first.invited != 0,
                };
                firsts.insert(first.name, rows);
            }
        }
        Ok(in_input_order(user_ids, |user| firsts.get(user).cloned()))
    }

    fn put_import_profile(&mut self, tenant: &TenantId, name: &str, profile: &Value) -> StoreResult<bool> {
        let existed = self.import_profile(tenant, name)?.is_some();
        let now = format_timestamp(Utc::now());
        let mut sql = self.sql();
        sql.push("INSERT INTO import_profiles (tenant_id, name, profile, created_at, updated_at) VALUES (");
        sql.bind_text(tenant.as_str()).push(", ").bind_text(name).push(", ").bind_text(profile.to_string());
        sql.push(", ").bind_text(now.as_str()).push(", ").bind_text(now.as_str());
        sql.push(") ON CONFLICT (tenant_id, name) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at");
        sql.execute(&mut self.conn)?;
        Ok(!existed)
    }

    fn import_profile(&mut self, tenant: &TenantId, name: &str) -> StoreResult<Option<Value>> {
        let mut sql = self.sql();
        sql.push("SELECT profile AS value FROM import_profiles WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND name = ").bind_text(name);
        sql.first::<TextRow>(&mut self.conn)?.map(|row| json_of(&row.value)).transpose()
    }

    fn delete_import_profile(&mut self, tenant: &TenantId, name: &str) -> StoreResult<bool> {
        Ok(self.delete_rows_naming(tenant, "import_profiles", "name", name)? == 1)
    }

    fn list_import_profiles(&mut self, tenant: &TenantId) -> StoreResult<Vec<(String, Value)>> {
        let mut sql = self.sql();
        sql.push("SELECT name, profile AS value FROM import_profiles WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" ORDER BY name");
        sql.load::<NamedText>(&mut self.conn)?.into_iter().map(|row| Ok((row.name, json_of(&row.value)?))).collect()
    }

    fn tenant_fingerprint(&mut self, tenant: &TenantId) -> StoreResult<String> {
        let mut parts = Vec::with_capacity(2);
        for table in ["scim_users", "scim_groups"] {
            let mut sql = self.sql();
            sql.push(
                "SELECT CAST(COUNT(*) AS TEXT) || '/' || CAST(COALESCE(SUM(version), 0) AS TEXT) AS name, \
                 COALESCE(MAX(last_modified), '') AS value FROM ",
            );
            sql.push(table).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
            let row = sql.first::<NamedText>(&mut self.conn)?;
            parts.push(row.map(|row| format!("{}@{}", row.name, row.value)).unwrap_or_default());
        }
        Ok(parts.join(";"))
    }

    fn users_with_emails(&mut self, tenant: &TenantId, emails: &[&str]) -> StoreResult<Vec<(String, String)>> {
        self.users_with_key(tenant, emails, &EMAIL_KEY)
    }

    fn users_with_user_names(&mut self, tenant: &TenantId, user_names: &[&str]) -> StoreResult<Vec<(String, String)>> {
        self.users_with_key(tenant, user_names, &USER_NAME_KEY)
    }

    fn users_with_external_ids(
        &mut self,
        tenant: &TenantId,
        external_ids: &[&str],
    ) -> StoreResult<Vec<(String, String)>> {
        self.users_with_key(tenant, external_ids, &EXTERNAL_ID_KEY)
    }

    fn groups_named(&mut self, tenant: &TenantId, name: &str) -> StoreResult<Vec<(String, String)>> {
        let mut sql = self.sql();
        sql.push("SELECT id AS name, display_name AS value FROM scim_groups WHERE tenant_id = ");
        sql.bind_text(tenant.as_str()).push(" AND display_name_lower = ").bind_text(fold(name));
        sql.push(" ORDER BY created, id");
        Ok(sql
            .reuse_prepared()
            .load::<NamedText>(&mut self.conn)?
            .into_iter()
            .map(|row| (row.name, row.value))
            .collect())
    }

    fn memberships_of_many(
        &mut self,
        tenant: &TenantId,
        member_ids: &[&str],
    ) -> StoreResult<Vec<(String, String, MembershipSource)>> {
        let mut groups: HashMap<String, Vec<(String, MembershipSource)>> = HashMap::new();
        for chunk in distinct_chunks(member_ids.iter().copied()) {
            let mut sql = self.sql();
            sql.push_matching("member_id", &chunk, |sql| {
                sql.push("SELECT member_id, group_id, source FROM memberships WHERE tenant_id = ")
                    .bind_text(tenant.as_str());
            });
            sql.push(" ORDER BY member_id, group_id");
            for row in sql.load::<MembershipRow>(&mut self.conn)? {
                let source = if row.source == MembershipSource::Import.as_str() {
                    MembershipSource::Import
                } else {
                    MembershipSource::Scim
                };
                groups.entry(row.member_id).or_default().push((row.group_id, source));
            }
        }
        Ok(in_input_order(member_ids, |member| groups.remove(member).map(|found| (member, found)))
            .into_iter()
            .flat_map(|(member, found)| {
                found.into_iter().map(move |(group, source)| (member.to_string(), group, source))
            })
            .collect())
    }
}
