//! `/api/v1/imports` (CSV imports: upload, preview, commit, errors.csv, operations, template),
//! `/api/v1/users/export.csv`, `/api/v1/import-profiles` and `/api/v1/tenant/import-limits`
//! (docs/import.md). Thin: extract, call `provision::import`, respond.
//!
//! A request that cannot make an import (too large: 413; not CSV: 415; no file, bad options or
//! profile: 400) is a SCIM error. A file that was received but cannot be imported (encoding, a
//! broken structure, unknown columns, too many rows) is an import with status `failed` whose
//! `errors` say why: the HTTP status says whether an import was created, its `status` how it went.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

use super::error::{ApiError, ErrorResponse};
use super::extract::ScimBody;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::import::RowIssue;
use crate::provision::import::{
    FileWriter, ImportLimits, ImportOptions, ImportView, Importer, OnError, Placement, UploadError, CHUNK_BYTES,
};
use crate::scim::error::ScimError;
use crate::store::{ImportRecord, ImportRowRecord, ImportStatus};
use crate::tenant::TenantId;

/// Options of an upload: query parameters, or form fields of a `multipart/form-data` upload.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the options, which are read one by one by apply_option")]
pub struct ImportParams {
    /// Evaluate the file without writing (preview); commit later.
    pub dry_run: Option<bool>,
    /// `skip` (default): import the good rows; `abort`: import nothing if any row fails.
    pub on_error: Option<String>,
    /// Update users that already exist (default `true`); `false` reports them as `duplicate_email`.
    pub update_existing: Option<bool>,
    /// Invite the created users (`true`), nobody (`false`); default: the tenant's invitation policy.
    pub send_invitations: Option<bool>,
    /// Name of a saved import profile.
    pub profile: Option<String>,
    /// An inline profile, or a `{"header": "SCIM attribute path"}` mapping, as JSON.
    pub mapping: Option<String>,
    /// Read Windows-1252 / Latin-1 (and UTF-16 with BOM) files instead of rejecting them.
    pub transcode_legacy: Option<bool>,
}

/// A `multipart/form-data` upload: the file and, optionally, the options as fields.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents the multipart body")]
pub struct ImportUpload {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub dry_run: Option<bool>,
    /// `skip` or `abort`.
    pub on_error: Option<String>,
    pub update_existing: Option<bool>,
    pub send_invitations: Option<bool>,
    pub profile: Option<String>,
    /// JSON.
    pub mapping: Option<String>,
    pub transcode_legacy: Option<bool>,
}

/// One problem of the file or a row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportIssue {
    /// Spreadsheet row number: the header is row 1.
    #[schema(example = 12)]
    pub row: u64,
    /// The column's header as written in the file.
    pub column: Option<String>,
    /// The offending cell.
    pub value: Option<String>,
    /// `missing_required_field`, `invalid_email`, `invalid_value`, `duplicate_email`,
    /// `duplicate_in_file`, `unknown_group`, `unknown_column`, `encoding_error`, `too_many_rows`,
    /// `malformed_csv` or `conflict`.
    #[schema(example = "invalid_email")]
    pub code: String,
    pub message: String,
}

impl From<RowIssue> for ImportIssue {
    fn from(issue: RowIssue) -> ImportIssue {
        ImportIssue {
            row: issue.row,
            column: issue.column,
            value: issue.value,
            code: issue.code.as_str().to_string(),
            message: issue.message,
        }
    }
}

/// How far a running import is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProgress {
    /// Data rows whose outcome is committed.
    pub processed_rows: u64,
    pub total_rows: u64,
    /// 0 to 100.
    pub percent: u64,
}

/// Links to an import's sub-resources.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub errors_csv: String,
    pub operations: String,
    pub commit: String,
}

/// An import: its status, counts, progress and issues.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    pub id: String,
    /// `previewed`, `running`, `completed` or `failed`.
    #[schema(example = "completed")]
    pub status: String,
    /// True while the import is a preview (uploaded with `dry_run=true`, not committed yet).
    pub dry_run: bool,
    pub file_name: Option<String>,
    /// Data rows in the file (blank lines excluded).
    pub total_rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Rows not written: outside a commit's selection, or held back by `on_error=abort`.
    pub skipped: u64,
    pub invitations_queued: u64,
    pub progress: ImportProgress,
    /// Errors (the first 1,000; all are in errors.csv).
    pub errors: Vec<ImportIssue>,
    /// Warnings, e.g. `duplicate_in_file` (the first 1,000).
    pub warnings: Vec<ImportIssue>,
    pub error_count: u64,
    pub warning_count: u64,
    /// After a refused commit: the rows whose outcome changed since the preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
    pub options: ImportOptionsView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub links: ImportLinks,
}

/// The options an import runs with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOptionsView {
    pub on_error: String,
    pub update_existing: bool,
    pub send_invitations: Option<bool>,
    pub profile: Option<String>,
    pub transcode_legacy: bool,
}

/// A page of past imports, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportListResponse {
    pub total_results: u64,
    pub start_index: u64,
    pub items: Vec<ImportResponse>,
}

/// Paging of `GET /api/v1/imports`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportListParams {
    /// 1-based index of the first import (default 1).
    pub start_index: Option<u64>,
    /// Page size (default 50, at most 500).
    pub count: Option<u64>,
}

/// Body of a commit: the rows to commit (spreadsheet row numbers); all rows when absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    #[schema(example = json!([2, 3, 7]))]
    pub rows: Option<Vec<u64>>,
}

/// The SCIM operations one row became.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOperation {
    pub row: u64,
    /// `create` or `update`.
    pub action: String,
    pub user_id: Option<String>,
    /// The user's version when the row was evaluated.
    pub matched_version: Option<i64>,
    /// Bulk-operation shaped (RFC 7644 §3.7): `method`, `path`, `data`.
    #[schema(value_type = Vec<Object>)]
    pub operations: Value,
}

/// A page of an import's operations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOperationsResponse {
    pub status: String,
    pub items: Vec<ImportOperation>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// Paging of `GET /api/v1/imports/{id}/operations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationsParams {
    /// Rows after this row number (default 0).
    pub after: Option<u64>,
    /// Page size (default 100, at most 1000).
    pub count: Option<u64>,
}

/// Which profile a template or export uses.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfileParams {
    /// A saved profile's name; the default profile when absent.
    pub profile: Option<String>,
}

/// A mapping profile (docs/import.md): `columns` (header, aliases, target, required, default,
/// allowed, separator, transforms, max_length), `rules`, `ignore_unknown_columns`,
/// `use_default_columns`, `header_match`; or an inline `{"header": "target"}` mapping.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(value_type = Object, example = json!({"columns": [{"header": "Correo", "target": "emails[type eq \"work\"].value", "required": true}], "rules": {"group_mode": "replace_imported"}}))]
pub struct ImportProfileDocument(pub Value);

/// The tenant's saved profiles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProfileList {
    pub profiles: Vec<ImportProfileDocument>,
}

/// A tenant's import limits.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportLimitsBody {
    /// Most data rows per import.
    #[schema(example = 2000)]
    pub max_rows: u64,
    /// Largest upload in bytes.
    #[schema(example = 10485760)]
    pub max_file_bytes: u64,
}

fn response_of(view: ImportView) -> ImportResponse {
    let record = view.record;
    let options: ImportOptions = serde_json::from_value(record.options.clone()).unwrap_or_default();
    let processed = if record.status == ImportStatus::Running { record.processed_rows } else { record.total_rows };
    let percent = (processed.min(record.total_rows) * 100).checked_div(record.total_rows).unwrap_or(100);
    let base = format!("/api/v1/imports/{}", record.id);
    ImportResponse {
        status: record.status.as_str().to_string(),
        dry_run: record.dry_run,
        file_name: record.file_name,
        total_rows: record.total_rows,
        created: record.counts.created,
        updated: record.counts.updated,
        unchanged: record.counts.unchanged,
        failed: record.counts.failed,
        skipped: record.counts.skipped,
        invitations_queued: record.counts.invitations_queued,
        progress: ImportProgress { processed_rows: processed, total_rows: record.total_rows, percent },
        errors: view.errors.into_iter().map(ImportIssue::from).collect(),
        warnings: view.warnings.into_iter().map(ImportIssue::from).collect(),
        error_count: view.error_count,
        warning_count: view.warning_count,
        changes: record.changes,
        options: ImportOptionsView {
            on_error: match options.on_error {
                OnError::Skip => "skip".into(),
                OnError::Abort => "abort".into(),
            },
            update_existing: options.update_existing,
            send_invitations: options.send_invitations,
            profile: options.profile,
            transcode_legacy: options.transcode_legacy,
        },
        created_at: record.created_at,
        updated_at: record.updated_at,
        links: ImportLinks {
            errors_csv: format!("{base}/errors.csv"),
            operations: format!("{base}/operations"),
            commit: format!("{base}/commit"),
            self_: base,
        },
        id: record.id,
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ScimError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ScimError::invalid_value(format!("option {name}: \"{other}\" is not true or false"))),
    }
}

/// Applies one option (query parameter or form field) to `options`.
fn apply_option(options: &mut ImportOptions, name: &str, value: &str) -> Result<(), ScimError> {
    match name {
        "dry_run" => options.dry_run = parse_bool(name, value)?,
        "update_existing" => options.update_existing = parse_bool(name, value)?,
        "send_invitations" => options.send_invitations = Some(parse_bool(name, value)?),
        "transcode_legacy" => options.transcode_legacy = parse_bool(name, value)?,
        "on_error" => {
            options.on_error = match value.trim().to_ascii_lowercase().as_str() {
                "skip" => OnError::Skip,
                "abort" => OnError::Abort,
                other => {
                    return Err(ScimError::invalid_value(format!("option on_error: \"{other}\" is not skip or abort")))
                }
            }
        }
        "profile" => options.profile = Some(value.trim().to_string()).filter(|p| !p.is_empty()),
        "mapping" if value.trim().is_empty() => options.mapping = None,
        "mapping" => {
            options.mapping = Some(
                serde_json::from_str(value)
                    .map_err(|e| ScimError::invalid_value(format!("option mapping is not valid JSON: {e}")))?,
            )
        }
        other => {
            return Err(ScimError::invalid_value(format!(
                "unknown option \"{other}\"; options are dry_run, on_error, update_existing, send_invitations, \
                 profile, mapping, transcode_legacy"
            )))
        }
    }
    Ok(())
}

fn too_large(limit: u64) -> ApiError {
    ScimError::new(413, None, format!("the file is larger than this tenant's import limit of {limit} bytes")).into()
}

/// Streams a request body into the import's stored file.
struct Upload {
    writer: Option<FileWriter>,
    buffer: Vec<u8>,
    limit: u64,
}

impl Upload {
    async fn push(&mut self, data: &[u8]) -> Result<(), ApiError> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ApiError> {
        let mut writer = self.writer.take().expect("the upload is open");
        let data = std::mem::take(&mut self.buffer);
        let limit = self.limit;
        let result = web::block(move || {
            let pushed = writer.push(&data);
            (writer, pushed)
        })
        .await?;
        self.writer = Some(result.0);
        match result.1 {
            Ok(()) => Ok(()),
            Err(UploadError::TooLarge { .. }) => Err(too_large(limit)),
            Err(UploadError::Store(error)) => Err(error.into()),
        }
    }

    async fn finish(mut self) -> Result<(u64, u64), ApiError> {
        self.flush().await?;
        let writer = self.writer.take().expect("the upload is open");
        match web::block(move || writer.finish()).await? {
            Ok(sizes) => Ok(sizes),
            Err(UploadError::TooLarge { limit }) => Err(too_large(limit)),
            Err(UploadError::Store(error)) => Err(error.into()),
        }
    }
}

async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    upload: &mut Upload,
    options: &mut ImportOptions,
) -> Result<Option<String>, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let mut file_name = None;
    match essence.as_str() {
        "multipart/form-data" => {
            let mut multipart = actix_multipart::Multipart::new(req.headers(), payload);
            let mut has_file = false;
            while let Some(field) = multipart.next().await {
                let mut field = field.map_err(|e| ScimError::invalid_syntax(format!("bad multipart body: {e}")))?;
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    if has_file {
                        return Err(ScimError::invalid_value("send one \"file\" field per import").into());
                    }
                    has_file = true;
                    file_name = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_string);
                    while let Some(chunk) = field.next().await {
                        let chunk = chunk.map_err(|e| ScimError::invalid_syntax(format!("bad multipart body: {e}")))?;
                        upload.push(&chunk).await?;
                    }
                } else {
                    let mut value = Vec::new();
                    while let Some(chunk) = field.next().await {
                        let chunk = chunk.map_err(|e| ScimError::invalid_syntax(format!("bad multipart body: {e}")))?;
                        if value.len() + chunk.len() > 1 << 20 {
                            return Err(ScimError::invalid_value(format!("form field \"{name}\" is too long")).into());
                        }
                        value.extend_from_slice(&chunk);
                    }
                    let value = String::from_utf8(value)
                        .map_err(|_| ScimError::invalid_value(format!("form field \"{name}\" is not UTF-8")))?;
                    apply_option(options, &name, &value)?;
                }
            }
            if !has_file {
                return Err(ScimError::invalid_value("the multipart body has no \"file\" field with the CSV").into());
            }
        }
        "text/csv" | "application/csv" | "text/plain" | "text/tab-separated-values" | "application/octet-stream" => {
            let mut payload = payload;
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ScimError::invalid_syntax(format!("could not read the upload: {e}")))?;
                upload.push(&chunk).await?;
            }
        }
        _ => {
            return Err(ScimError::new(
                415,
                None,
                format!(
                    "unsupported media type \"{content_type}\": send the CSV as multipart/form-data (field \"file\") \
                     or as a text/csv body"
                ),
            )
            .into())
        }
    }
    Ok(file_name)
}

/// Import users from a CSV file.
///
/// The file comes as `multipart/form-data` (field `file`, options as further fields) or as a
/// `text/csv` body (options as query parameters). A small file is imported in the request
/// (201); a large one by a background job (202) whose progress `GET /api/v1/imports/{id}`
/// reports. With `dry_run=true` nothing is written: the response is the preview of exactly what a
/// commit would do.
#[utoipa::path(
    tag = "Imports",
    summary = "Import users from CSV",
    params(ImportParams),
    request_body(
        content(
            (ImportUpload = "multipart/form-data"),
            (String = "text/csv"),
        ),
        description = "The CSV file: UTF-8 with or without BOM (or Windows-1252 with transcode_legacy), \
            delimiter , ; or tab detected from the header, the header on the first row."
    ),
    responses(
        (status = 201, description = "Imported or previewed in the request (see `status`; a file that cannot be \
            imported is an import with status `failed` and its errors)", body = ImportResponse),
        (status = 202, description = "Accepted: a background job imports the file", body = ImportResponse),
        (status = 400, description = "Bad option, mapping or profile, or no file", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
        (status = 413, description = "The file is larger than the tenant's limit", body = crate::api::error::ErrorResponse),
        (status = 415, description = "Neither multipart/form-data nor text/csv", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/imports")]
pub async fn create_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    query: web::Query<HashMap<String, String>>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let tenant = principal.tenant.clone();
    let mut options = ImportOptions::default();
    for (name, value) in query.iter() {
        apply_option(&mut options, name, value)?;
    }
    let importer = state.importer.clone();
    let limits = {
        let (importer, tenant) = (importer.clone(), tenant.clone());
        web::block(move || importer.limits(&tenant)).await??
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_file_bytes + 64 * 1024) {
        return Err(too_large(limits.max_file_bytes));
    }
    let (id, writer) = importer.upload(&tenant, limits.max_file_bytes);
    let mut upload = Upload { writer: Some(writer), buffer: Vec::new(), limit: limits.max_file_bytes };
    let received = match receive(&req, payload, &mut upload, &mut options).await {
        Ok(file_name) => upload.finish().await.map(|(bytes, lines)| (file_name, bytes, lines)),
        Err(error) => Err(error),
    };
    let (file_name, bytes, lines) = match received {
        Ok(received) => received,
        Err(error) => {
            let (importer, tenant, id) = (importer.clone(), tenant.clone(), id.clone());
            web::block(move || importer.discard_upload(&tenant, &id)).await?;
            return Err(error);
        }
    };
    let worker = importer.clone();
    let started = web::block(move || {
        let profile = match worker.resolve_profile(&tenant, &options) {
            Ok(profile) => profile,
            Err(error) => {
                worker.discard_upload(&tenant, &id);
                return Err(error);
            }
        };
        let (record, placement) = worker.start(&tenant, id, options, &profile, file_name, bytes, lines, None)?;
        run_here(&worker, record, placement)
    })
    .await??;
    respond(started)
}

/// Runs an import placed here; the view of the import either way.
fn run_here(
    importer: &Importer,
    record: ImportRecord,
    placement: Placement,
) -> Result<(ImportView, Placement), crate::provision::ProvisionError> {
    let (tenant, id) = (record.tenant.clone(), record.id.clone());
    if placement == Placement::Here {
        importer.run(record, &mut |_, _| {})?;
    }
    Ok((importer.view(&tenant, &id)?, placement))
}

fn respond((view, placement): (ImportView, Placement)) -> Result<HttpResponse, ApiError> {
    let response = response_of(view);
    let location = response.links.self_.clone();
    let mut builder = match placement {
        Placement::Here => HttpResponse::Created(),
        Placement::Background => HttpResponse::Accepted(),
    };
    Ok(builder.insert_header((header::LOCATION, location)).json(response))
}

/// Get an import: status, counts, progress and issues.
#[utoipa::path(
    tag = "Imports",
    summary = "Get an import",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The import", body = ImportResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
        (status = 404, description = "No such import in this tenant", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/imports/{id}")]
pub async fn get_import(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let view = web::block(move || state.importer.view(&principal.tenant, &id)).await??;
    Ok(HttpResponse::Ok().json(response_of(view)))
}

/// List past imports, newest first.
#[utoipa::path(
    tag = "Imports",
    summary = "List imports",
    params(ImportListParams),
    responses(
        (status = 200, description = "A page of imports (without their issues)", body = ImportListResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/imports")]
pub async fn list_imports(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<ImportListParams>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let start_index = params.start_index.unwrap_or(1).max(1);
    let count = params.count.unwrap_or(50).min(500);
    let (total, records) = web::block(move || state.importer.list(&principal.tenant, start_index - 1, count)).await??;
    let items = records.into_iter().map(response_of).collect();
    Ok(HttpResponse::Ok().json(ImportListResponse { total_results: total, start_index, items }))
}

/// Commit a previewed import, or only the selected rows.
///
/// Before writing, the rows are evaluated again; if what a row would do changed since the
/// preview (the user it updates was modified, a username was taken, ...), nothing is written:
/// the answer is 409 with the import previewed again and `changes` listing the rows and what
/// changed. Committing again accepts the new preview.
#[utoipa::path(
    tag = "Imports",
    summary = "Commit a previewed import",
    params(("id" = String, Path, description = "The import's id")),
    request_body(content = Option<CommitRequest>, description = "Optional: the rows to commit", content_type = "application/json"),
    responses(
        (status = 200, description = "Committed in the request", body = ImportResponse),
        (status = 202, description = "Accepted: a background job commits the import", body = ImportResponse),
        (status = 400, description = "The body is not a list of rows, or names no row or a row the preview does not have", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
        (status = 404, description = "No such import in this tenant", body = crate::api::error::ErrorResponse),
        (status = 409, description = "The import is not previewed, or rows changed since the preview (see `changes`)", body = ImportResponse),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/imports/{id}/commit")]
pub async fn commit_import(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let request: CommitRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CommitRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ScimError::invalid_value(format!("bad commit body: {e}")))?
    };
    let importer = state.importer.clone();
    let (view, placement) = web::block(move || {
        let (record, placement) = importer.commit(&principal.tenant, &id, request.rows, None)?;
        run_here(&importer, record, placement)
    })
    .await??;
    let refused = view.record.changes.is_some() && view.record.status == ImportStatus::Previewed;
    let response = response_of(view);
    Ok(match (refused, placement) {
        (true, _) => HttpResponse::Conflict().json(response),
        (false, Placement::Here) => HttpResponse::Ok().json(response),
        (false, Placement::Background) => HttpResponse::Accepted().json(response),
    })
}

/// A `200 OK` of CSV (RFC 4180) in UTF-8 that browsers save as `file_name`; the caller adds the
/// body, whole or streamed.
fn csv_download(file_name: &str) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")));
    response
}

/// The documented responses of a CSV download: the file, or the SCIM error of a missing or
/// invalid token (401), of a token without the scope the download needs (403, `lacks_scope`),
/// or of a missing import or profile (404, `missing`).
fn csv_download_responses(file_name: &str, lacks_scope: &str, missing: &str) -> BTreeMap<String, RefOr<Response>> {
    let response = |description: &str, content_type: &str, schema: RefOr<utoipa::openapi::Schema>| {
        let content = ContentBuilder::new().schema(Some(schema)).build();
        RefOr::T(ResponseBuilder::new().description(description).content(content_type, content).build())
    };
    let error = |description: &str| {
        response(description, "application/json", RefOr::Ref(Ref::from_schema_name(ErrorResponse::name())))
    };
    BTreeMap::from([
        ("200".to_string(), response(file_name, "text/csv", String::schema())),
        ("401".to_string(), error("Missing or invalid token")),
        ("403".to_string(), error(lacks_scope)),
        ("404".to_string(), error(missing)),
    ])
}

/// The responses of `GET /api/v1/imports/{id}/errors.csv`.
struct ErrorsCsvResponses;

impl IntoResponses for ErrorsCsvResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        csv_download_responses("errors.csv", "Token lacks the import scope", "No such import in this tenant")
    }
}

/// The responses of `GET /api/v1/imports/template.csv`.
struct TemplateCsvResponses;

impl IntoResponses for TemplateCsvResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        csv_download_responses("template.csv", "Token lacks the import scope", "No such profile")
    }
}

/// The responses of `GET /api/v1/users/export.csv`.
struct ExportCsvResponses;

impl IntoResponses for ExportCsvResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        csv_download_responses("users.csv", "Token lacks the scim:read scope", "No such profile")
    }
}

/// The failed rows of an import as CSV: the original columns plus an `error` column.
///
/// Fix the rows and upload the file again: the `error` column is ignored on import. Cells are
/// neutralised against formula injection.
#[utoipa::path(
    tag = "Imports",
    summary = "Download the failed rows",
    params(("id" = String, Path, description = "The import's id")),
    responses(ErrorsCsvResponses),
    security(("bearer" = []))
)]
#[get("/api/v1/imports/{id}/errors.csv")]
pub async fn get_import_errors(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let name = format!("import-{id}-errors.csv");
    let body = web::block(move || {
        let mut out = Vec::new();
        state.importer.write_errors_csv(&principal.tenant, &id, &mut out).map(|_| out)
    })
    .await??;
    Ok(csv_download(&name).body(body))
}

/// The SCIM operations the rows of an import became (for a preview: would become).
#[utoipa::path(
    tag = "Imports",
    summary = "List an import's operations",
    params(("id" = String, Path, description = "The import's id"), OperationsParams),
    responses(
        (status = 200, description = "A page of rows and their operations", body = ImportOperationsResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
        (status = 404, description = "No such import in this tenant", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/imports/{id}/operations")]
pub async fn list_import_operations(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    params: web::Query<OperationsParams>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let count = params.count.unwrap_or(100).clamp(1, 1000);
    let after = params.after.unwrap_or(0);
    let (record, rows) = web::block(move || state.importer.operations(&principal.tenant, &id, after, count)).await??;
    let next_after = (rows.len() as u64 == count).then(|| rows.last().map(|r| r.row)).flatten();
    let items = rows.into_iter().map(operation_of).collect();
    Ok(HttpResponse::Ok().json(ImportOperationsResponse {
        status: record.status.as_str().to_string(),
        items,
        next_after,
    }))
}

fn operation_of(row: ImportRowRecord) -> ImportOperation {
    ImportOperation {
        row: row.row,
        action: row.action.as_str().to_string(),
        user_id: row.user_id,
        matched_version: row.matched_version,
        // Valid JSON: the store checked it when reading the row.
        operations: row
            .operation
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or(Value::Array(Vec::new())),
    }
}

/// An import template: the header of a profile's columns and one example row.
///
/// The example row's email (`firstname.lastname@example.com`) is refused on import, so a
/// template uploaded with the example left in creates nobody.
#[utoipa::path(
    tag = "Imports",
    summary = "Download an import template",
    params(ProfileParams),
    responses(TemplateCsvResponses),
    security(("bearer" = []))
)]
#[get("/api/v1/imports/template.csv")]
pub async fn get_import_template(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<ProfileParams>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let body = web::block(move || {
        let mut out = Vec::new();
        state.importer.write_template(&principal.tenant, params.profile.as_deref(), &mut out).map(|_| out)
    })
    .await??;
    Ok(csv_download("template.csv").body(body))
}

/// Sends what a blocking writer produces to a streamed response, 64 KiB at a time.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Export all users of the tenant as CSV, in the import format.
///
/// Streamed a page at a time. The file is a ready-made import file: imported again unedited, it
/// changes nothing. Cells are neutralised against formula injection.
#[utoipa::path(
    tag = "Imports",
    summary = "Export users as CSV",
    params(ProfileParams),
    responses(ExportCsvResponses),
    security(("bearer" = []))
)]
#[get("/api/v1/users/export.csv")]
pub async fn export_users(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<ProfileParams>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::ScimRead)?;
    let profile = params.into_inner().profile;
    if let Some(name) = profile.clone() {
        let (importer, tenant) = (state.importer.clone(), principal.tenant.clone());
        web::block(move || importer.profile(&tenant, &name)).await??;
    }
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let importer = state.importer.clone();
    let tenant: TenantId = principal.tenant.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let failure = sender.clone();
        let writer = ChannelWriter { sender, buffer: Vec::new() };
        if let Err(error) = importer.export_users(&tenant, profile.as_deref(), writer) {
            tracing::error!(error = %error, "user export failed");
            let _ = failure.blocking_send(Err(std::io::Error::other("the export failed")));
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok(csv_download("users.csv").streaming(body))
}

/// Save a mapping profile under a name (create or replace).
#[utoipa::path(
    tag = "Import profiles",
    summary = "Save an import profile",
    params(("name" = String, Path, description = "The profile's name")),
    request_body(content = ImportProfileDocument, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ImportProfileDocument),
        (status = 200, description = "Replaced", body = ImportProfileDocument),
        (status = 400, description = "Not a valid profile (the detail says why)", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/import-profiles/{name}")]
pub async fn replace_import_profile(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let (created, profile) =
        web::block(move || state.importer.put_profile(&principal.tenant, &name, &body.0)).await??;
    let json = serde_json::to_value(&profile).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(if created { HttpResponse::Created().json(json) } else { HttpResponse::Ok().json(json) })
}

/// Get a saved mapping profile.
#[utoipa::path(
    tag = "Import profiles",
    summary = "Get an import profile",
    params(("name" = String, Path, description = "The profile's name")),
    responses(
        (status = 200, description = "The profile", body = ImportProfileDocument),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
        (status = 404, description = "No such profile", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/import-profiles/{name}")]
pub async fn get_import_profile(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let profile = web::block(move || state.importer.profile(&principal.tenant, &name)).await??;
    Ok(HttpResponse::Ok().json(profile))
}

/// Delete a saved mapping profile.
#[utoipa::path(
    tag = "Import profiles",
    summary = "Delete an import profile",
    params(("name" = String, Path, description = "The profile's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
        (status = 404, description = "No such profile", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/import-profiles/{name}")]
pub async fn delete_import_profile(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    web::block(move || state.importer.delete_profile(&principal.tenant, &name)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// List the tenant's saved mapping profiles.
#[utoipa::path(
    tag = "Import profiles",
    summary = "List import profiles",
    responses(
        (status = 200, description = "The profiles, by name", body = ImportProfileList),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/import-profiles")]
pub async fn list_import_profiles(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import)?;
    let profiles = web::block(move || state.importer.profiles(&principal.tenant)).await??;
    let profiles = profiles
        .into_iter()
        .map(|p| serde_json::to_value(p).map(ImportProfileDocument))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(ImportProfileList { profiles }))
}

/// Get the tenant's import limits.
#[utoipa::path(
    tag = "Imports",
    summary = "Get the import limits",
    responses(
        (status = 200, description = "The limits in force", body = ImportLimitsBody),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import or admin scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/tenant/import-limits")]
pub async fn get_import_limits(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import).or_else(|missing| principal.require(Scope::Admin).map_err(|_| missing))?;
    let limits = web::block(move || state.importer.limits(&principal.tenant)).await??;
    Ok(HttpResponse::Ok().json(ImportLimitsBody { max_rows: limits.max_rows, max_file_bytes: limits.max_file_bytes }))
}

/// Set the tenant's import limits.
#[utoipa::path(
    tag = "Imports",
    summary = "Set the import limits",
    request_body(content = ImportLimitsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The limits now in force", body = ImportLimitsBody),
        (status = 400, description = "A limit below 1", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the admin scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/tenant/import-limits")]
pub async fn replace_import_limits(
    state: web::Data<AppState>,
    principal: Principal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Admin)?;
    let body: ImportLimitsBody =
        serde_json::from_value(body.0).map_err(|e| ScimError::invalid_value(format!("bad request body: {e}")))?;
    let limits = ImportLimits { max_rows: body.max_rows, max_file_bytes: body.max_file_bytes };
    web::block(move || state.importer.set_limits(&principal.tenant, limits)).await??;
    Ok(HttpResponse::Ok().json(body))
}
