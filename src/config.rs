//! Settings: command-line flags, then `ROSTER_*` environment variables, then an optional
//! config file of `ROSTER_*=value` lines (`--config` / `ROSTER_CONFIG`). Secrets are never
//! logged or printed.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::auth::VerificationKey;

/// Where the database is (shared by every subcommand).
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Database URL: a SQLite file path (`roster.db`, `sqlite://path`) or `postgres://user:pass@host/db`.
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "roster.db", hide_env_values = true)]
    pub database_url: String,

    /// Maximum database connections per process.
    #[arg(long, env = "ROSTER_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,

    /// SQLite: a WAL file larger than this many bytes is checkpointed and truncated after a write.
    #[arg(long, env = "ROSTER_SQLITE_WAL_MAX_BYTES", default_value_t = crate::store::DEFAULT_WAL_MAX_BYTES)]
    pub sqlite_wal_max_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

/// How bearer tokens are verified.
#[derive(Debug, Clone, Args)]
pub struct AuthSettings {
    /// Token algorithm: HS256 (server secret) or RS256/ES256 (external issuer's public key).
    #[arg(long, env = "ROSTER_JWT_ALGORITHM", value_enum, default_value = "HS256")]
    pub jwt_algorithm: JwtAlgorithm,

    /// HS256 signing secret. When unset, one is generated on first start and kept in the database.
    #[arg(long, env = "ROSTER_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file with the public key for RS256/ES256.
    #[arg(long, env = "ROSTER_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
}

impl AuthSettings {
    /// The configured key; `stored_secret` supplies the database secret for HS256 when none is set.
    pub fn verification_key(
        &self,
        stored_secret: impl FnOnce() -> anyhow::Result<String>,
    ) -> anyhow::Result<VerificationKey> {
        let read_pem = |path: &Option<PathBuf>| -> anyhow::Result<String> {
            let path = path
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("ROSTER_JWT_PUBLIC_KEY must name a PEM file for RS256/ES256"))?;
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
        };
        Ok(match self.jwt_algorithm {
            JwtAlgorithm::Hs256 => VerificationKey::SharedSecret(match &self.jwt_secret {
                Some(secret) if secret.len() >= 16 => secret.clone(),
                Some(_) => anyhow::bail!("ROSTER_JWT_SECRET must be at least 16 characters"),
                None => stored_secret()?,
            }),
            JwtAlgorithm::Rs256 => VerificationKey::Rsa(read_pem(&self.jwt_public_key)?),
            JwtAlgorithm::Es256 => VerificationKey::Ecdsa(read_pem(&self.jwt_public_key)?),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings of `roster serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Public base URL (e.g. https://roster.example.com) used in `meta.location`; defaults to the request's Host.
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Maximum request body size in bytes (larger bodies get 413).
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,

    /// Largest page a listing returns (advertised as filter.maxResults).
    #[arg(long, env = "ROSTER_MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: u64,

    /// How long a paging cursor stays valid between page requests (advertised as pagination.cursorTimeout), e.g. 1h, 600s.
    #[arg(long, env = "ROSTER_CURSOR_TIMEOUT", default_value = "1h", value_parser = crate::auth::parse_ttl)]
    pub cursor_timeout: std::time::Duration,

    /// Answer group PATCH with 204 No Content (as Microsoft Entra's SCIM guide advises) instead of 200 with the group.
    #[arg(long, env = "ROSTER_GROUP_PATCH_NO_CONTENT", default_value_t = false)]
    pub group_patch_no_content: bool,

    /// Most operations one /Bulk request may carry (advertised as bulk.maxOperations; more get 413).
    #[arg(long, env = "ROSTER_BULK_MAX_OPERATIONS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub bulk_max_operations: u64,

    /// Largest /Bulk request body in bytes (advertised as bulk.maxPayloadSize; larger get 413). At most
    /// ROSTER_MAX_BODY_BYTES; default 1 MiB, or ROSTER_MAX_BODY_BYTES when that is smaller.
    #[arg(long, env = "ROSTER_BULK_MAX_PAYLOAD_BYTES")]
    pub bulk_max_payload_bytes: Option<usize>,

    /// Comma-separated JSON files, each registering a custom schema extension for Users or Groups
    /// (format: docs/custom-schemas.md).
    #[arg(long, env = "ROSTER_SCHEMA_EXTENSIONS", value_delimiter = ',')]
    pub schema_extensions: Vec<PathBuf>,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "ROSTER_WORKERS")]
    pub workers: Option<usize>,

    /// Log format: text or json.
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(flatten)]
    pub auth: AuthSettings,

    #[command(flatten)]
    pub mail: MailSettings,

    #[command(flatten)]
    pub import: ImportSettings,
}

/// Outgoing mail, invitations and the outbox worker that delivers them (docs/invitations.md).
#[derive(Debug, Clone, Args)]
pub struct MailSettings {
    /// SMTP server: smtp://user:pass@host:587?tls=required (STARTTLS), smtps://user:pass@host (TLS),
    /// smtp://127.0.0.1:2525 (plain, local). When unset, messages are written as .eml files to the mail dir.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail, e.g. "Acme IT <it@acme.example>".
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = "Roster <no-reply@localhost>")]
    pub mail_from: String,

    /// Folder the .eml files go to when no SMTP server is configured (relative to the working directory).
    #[arg(long, env = "ROSTER_MAIL_DIR", default_value = "./outbox")]
    pub mail_dir: PathBuf,

    /// The link in invitation emails: {token} is required; {public_url}, {tenant} and {user_id} are optional.
    #[arg(
        long,
        env = "ROSTER_INVITATION_LINK_TEMPLATE",
        default_value = "{public_url}/onboarding/set-password?token={token}"
    )]
    pub invitation_link_template: String,

    /// How long an invitation link stays valid, e.g. 7d, 48h.
    #[arg(long, env = "ROSTER_INVITATION_TTL", default_value = "7d", value_parser = parse_duration)]
    pub invitation_ttl: std::time::Duration,

    /// How often the outbox worker looks for due messages (it is also woken when this instance queues one).
    #[arg(long, env = "ROSTER_OUTBOX_POLL_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub outbox_poll_interval: std::time::Duration,

    /// Delay before the first retry of a failed send; it doubles per attempt (with jitter), up to 1 hour.
    #[arg(long, env = "ROSTER_OUTBOX_RETRY_DELAY", default_value = "30s", value_parser = parse_duration)]
    pub outbox_retry_delay: std::time::Duration,

    /// Delivery attempts before a message is marked failed.
    #[arg(
        long,
        env = "ROSTER_OUTBOX_MAX_ATTEMPTS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub outbox_max_attempts: u32,

    /// How long a worker holds a claimed message; if the instance dies, another one sends it after this.
    #[arg(long, env = "ROSTER_OUTBOX_LEASE", default_value = "2m", value_parser = parse_duration)]
    pub outbox_lease: std::time::Duration,
}

/// CSV imports (docs/import.md): when an upload is imported in the request or in the background,
/// how the background worker runs, and the limits of tenants that set none.
#[derive(Debug, Clone, Args)]
pub struct ImportSettings {
    /// Uploads with at most this many lines are imported in the request; larger ones in the background (202).
    #[arg(long, env = "ROSTER_IMPORT_SYNC_MAX_ROWS", default_value_t = 5000)]
    pub import_sync_max_rows: u64,

    /// Uploads of at most this many bytes are imported in the request; larger ones in the background (202).
    #[arg(long, env = "ROSTER_IMPORT_SYNC_MAX_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub import_sync_max_bytes: u64,

    /// Rows evaluated together: their keys are looked up and their new users written in a few statements.
    #[arg(long, env = "ROSTER_IMPORT_BATCH_ROWS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub import_batch_rows: u64,

    /// Batches committed per transaction by an `on_error=skip` import, with its progress; a crash
    /// loses at most one transaction's rows, which are then imported again.
    #[arg(long, env = "ROSTER_IMPORT_TRANSACTION_BATCHES", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub import_transaction_batches: u64,

    /// Bytes of keys an import's scan sorts in memory to find the people a file repeats; larger
    /// files spill sorted runs to temporary files, so the server's memory does not grow with them.
    #[arg(long, env = "ROSTER_IMPORT_SCAN_MEMORY", default_value_t = crate::import::DEFAULT_SCAN_MEMORY as u64)]
    pub import_scan_memory: u64,

    /// How long a worker holds a running import without renewing its lease; after that another instance resumes it.
    #[arg(long, env = "ROSTER_IMPORT_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub import_lease: std::time::Duration,

    /// How often the background worker looks for imports to run (it is also woken by new uploads).
    #[arg(long, env = "ROSTER_IMPORT_POLL_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub import_poll_interval: std::time::Duration,

    /// Most data rows per import for tenants without their own limit.
    #[arg(long, env = "ROSTER_IMPORT_MAX_ROWS", default_value_t = 1_000_000)]
    pub import_max_rows: u64,

    /// Largest upload in bytes for tenants without their own limit (larger files get 413).
    #[arg(long, env = "ROSTER_IMPORT_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub import_max_bytes: u64,
}

/// Parses a duration: `500ms`, or what [`crate::auth::parse_ttl`] takes (`30s`, `5m`, `2h`, `7d`).
pub fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    match raw.trim().strip_suffix("ms") {
        Some(millis) => match millis.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(std::time::Duration::from_millis(n)),
            _ => Err(format!("bad duration {raw:?}: use e.g. 500ms, 30s, 5m, 2h or 7d")),
        },
        None => crate::auth::parse_ttl(raw),
    }
}

/// Applies a config file: each `ROSTER_*=value` line sets that variable unless the environment
/// already has it, so flags > environment > file.
pub fn apply_config_file(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{}:{}: expected KEY=value", path.display(), number + 1))?;
        let key = key.trim();
        if !key.starts_with("ROSTER_") {
            anyhow::bail!("{}:{}: unknown setting {key:?} (settings start with ROSTER_)", path.display(), number + 1);
        }
        let value = value.trim().trim_matches('"');
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
    Ok(())
}

/// Finds `--config PATH` / `--config=PATH` in the arguments, or `ROSTER_CONFIG`.
pub fn config_file_from(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("ROSTER_CONFIG").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_flag_is_found_in_both_spellings() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(config_file_from(&args(&["roster", "--config", "a.env", "serve"])), Some(PathBuf::from("a.env")));
        assert_eq!(config_file_from(&args(&["roster", "serve", "--config=b.env"])), Some(PathBuf::from("b.env")));
    }
}
