-- CSV imports (docs/import.md). An import is a resource of its tenant: its options, the profile
-- it was read with, its status and counts, and the lease of the worker running it in the
-- background (`lease_owner` / `lease_until`: an expired lease lets another instance resume it).
-- `phase` is what the job does next: `preview`, `commit` or `done`.
CREATE TABLE imports (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    options TEXT NOT NULL,
    profile TEXT NOT NULL,
    file_name TEXT,
    file_bytes BIGINT NOT NULL,
    header TEXT,
    delimiter TEXT,
    encoding TEXT,
    total_rows BIGINT NOT NULL DEFAULT 0,
    processed_rows BIGINT NOT NULL DEFAULT 0,
    created_count BIGINT NOT NULL DEFAULT 0,
    updated_count BIGINT NOT NULL DEFAULT 0,
    unchanged_count BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    skipped_count BIGINT NOT NULL DEFAULT 0,
    invitations_queued BIGINT NOT NULL DEFAULT 0,
    selected_rows TEXT,
    changes TEXT,
    preview_fingerprint TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX imports_tenant_created ON imports (tenant_id, created_at, id);
CREATE INDEX imports_claimable ON imports (phase, lease_until);

-- What each data row became: its action, the user it matched or created, that user's version
-- when the row was evaluated, the SCIM operations it became, and, for failed rows, the cells as
-- read (for errors.csv).
CREATE TABLE import_rows (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT,
    matched_version BIGINT,
    operation TEXT,
    cells TEXT,
    PRIMARY KEY (import_id, row_number)
);
CREATE INDEX import_rows_user ON import_rows (import_id, user_id);

-- Every issue found: file-level ones (row 1 for the header) and per-row errors and warnings.
CREATE TABLE import_errors (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    column_name TEXT,
    value TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (import_id, row_number, seq)
);

-- The uploaded file, in chunks of base64 text, so that a previewed import can be committed
-- later and a background job can resume after a restart. Written while the upload streams in,
-- before the import itself exists.
CREATE TABLE import_files (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (import_id, seq)
);

-- Saved column mappings, by name per tenant.
CREATE TABLE import_profiles (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    profile TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
