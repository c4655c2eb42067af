//! Connection pooling and migrations for both backends, chosen from the database URL's scheme.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::StoreError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary constant key for the PostgreSQL advisory lock that serialises migrations when
/// several instances start at once against one database.
const MIGRATION_LOCK_KEY: i64 = 0x524f_5354_4552;

/// One connection to either backend; diesel's `MultiConnection` lets portable queries run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// A borrowed connection of either backend, as the repository uses it inside or outside a
/// transaction.
pub enum DbConn<'c> {
    Sqlite(&'c mut diesel::SqliteConnection),
    Postgres(&'c mut diesel::PgConnection),
}

impl<'c> From<&'c mut AnyConnection> for DbConn<'c> {
    fn from(conn: &'c mut AnyConnection) -> DbConn<'c> {
        match conn {
            AnyConnection::Sqlite(c) => DbConn::Sqlite(c),
            AnyConnection::Postgresql(c) => DbConn::Postgres(c),
        }
    }
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `ROSTER_DATABASE_URL`: `postgres://…`/`postgresql://…` selects PostgreSQL; anything
/// else (`sqlite://path`, `sqlite:path` or a bare file path) is a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: the full URL for PostgreSQL, the file path for SQLite.
    pub target: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> DatabaseUrl {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return DatabaseUrl { backend: Backend::Postgres, target: url.to_string() };
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        DatabaseUrl { backend: Backend::Sqlite, target: path.to_string() }
    }

    /// The URL with any password masked, for logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => redact_password(&self.target),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// r2d2 manager that opens the right variant and applies per-connection SQLite settings.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match self.url.backend {
            Backend::Postgres => {
                let mut conn =
                    diesel::PgConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // Statements stay prepared (Sql::reuse_prepared) to skip parsing, but are planned
                // for each execution's values: a generic plan chosen while an import's tables were
                // still small kept scanning them as they grew (a 100,000-row import fell to ~60 rows/s).
                conn.batch_execute("SET plan_cache_mode = force_custom_plan").map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn =
                    diesel::SqliteConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // WAL is set once per file by `open_pool`; foreign keys are off by default in SQLite.
                // `journal_size_limit`: a WAL that SQLite restarts from its beginning is also cut
                // back, instead of keeping the largest size it ever reached.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA journal_size_limit = {WAL_KEPT_BYTES};"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    /// Run at every checkout. A SQLite file cannot drop its connection, so only PostgreSQL
    /// pays a `SELECT 1` round trip (which lets the pool replace connections after a restart).
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        match conn {
            AnyConnection::Sqlite(_) => Ok(()),
            AnyConnection::Postgresql(conn) => conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError),
        }
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// SQLite's page cache per connection, in KiB (SQLite's default).
pub const PAGE_CACHE_KIB: u32 = 2_000;

/// The page cache of a connection while it runs a bulk write ([`super::Store::write_bulk`]).
pub const BULK_PAGE_CACHE_KIB: u32 = 65_536;

/// Sets a SQLite connection's page cache; shrinking it frees the pages beyond the new size.
pub fn set_page_cache(conn: &mut diesel::SqliteConnection, kib: u32) -> Result<(), StoreError> {
    conn.batch_execute(&format!("PRAGMA cache_size = -{kib};")).map_err(StoreError::from)
}

/// How long a SQLite statement waits for another connection's lock.
const BUSY_TIMEOUT_MS: u64 = 10_000;

/// What a SQLite WAL file is cut back to when SQLite restarts it (`journal_size_limit`).
const WAL_KEPT_BYTES: u64 = 4 * 1024 * 1024;

/// The WAL size from which a committed write checkpoints and truncates it ([`bound_wal`]).
pub const DEFAULT_WAL_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How long the truncating checkpoint waits for readers still on older WAL frames.
const CHECKPOINT_WAIT_MS: u64 = 1_000;

/// The WAL file of a SQLite database (`<file>-wal`), or `None` for PostgreSQL.
pub fn wal_path(url: &DatabaseUrl) -> Option<std::path::PathBuf> {
    (url.backend == Backend::Sqlite).then(|| std::path::PathBuf::from(format!("{}-wal", url.target)))
}

/// Keeps a SQLite WAL file under `max_bytes`, run after a write transaction committed.
///
/// SQLite's own checkpoints after each commit copy the WAL into the database, but the file only
/// starts over from its beginning when no reader is still on an older snapshot at the next write;
/// during a long import, with progress polls and the outbox reading in between, that often failed
/// and the file grew with every batch (10 GB in a 1,000,000-row run). Past `max_bytes`, this
/// checkpoints in `TRUNCATE` mode: it waits briefly for readers to move to the latest snapshot,
/// then empties the file. A checkpoint that cannot finish (a reader stayed) is retried after the
/// next commit; its failure never fails the write, which is already committed.
pub fn bound_wal(conn: &mut diesel::SqliteConnection, wal: &std::path::Path, max_bytes: u64) {
    let size = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
    if size <= max_bytes {
        return;
    }
    let checkpoint = format!(
        "PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}; PRAGMA wal_checkpoint(TRUNCATE); \
         PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
    );
    if let Err(error) = conn.batch_execute(&checkpoint) {
        tracing::warn!(%error, wal_bytes = size, "cannot checkpoint the SQLite WAL; retrying after the next write");
        let _ = conn.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"));
    }
}

/// Opens a pool; fails fast when the database cannot be reached.
pub fn open_pool(url: &DatabaseUrl, max_size: u32) -> Result<Pool, StoreError> {
    if matches!(url.backend, Backend::Sqlite) {
        // WAL (readers proceed during a write) is a property of the file. Switching needs the file
        // to itself, so it is done here on one connection: done by each of the pool's connections
        // as they open together, one of them got "database is locked" on a new file.
        let unavailable = |e: &dyn std::fmt::Display| StoreError::Unavailable(e.to_string());
        let mut conn = diesel::SqliteConnection::establish(&url.target).map_err(|e| unavailable(&e))?;
        conn.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"))
            .map_err(|e| unavailable(&e))?;
    }
    r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .build(ConnectionManager { url: url.clone() })
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Applies pending migrations of the connection's backend.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<usize, StoreError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    match conn {
        AnyConnection::Sqlite(c) => Ok(c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(failed)?.len()),
        AnyConnection::Postgresql(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            Ok(applied.map_err(failed)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_select_their_backend() {
        let cases = [
            ("postgres://u:p@h/db", Backend::Postgres, "postgres://u:p@h/db"),
            ("postgresql://h/db", Backend::Postgres, "postgresql://h/db"),
            ("sqlite://data/roster.db", Backend::Sqlite, "data/roster.db"),
            ("sqlite:roster.db", Backend::Sqlite, "roster.db"),
            ("roster.db", Backend::Sqlite, "roster.db"),
        ];
        for (input, backend, target) in cases {
            let url = DatabaseUrl::parse(input);
            assert_eq!((url.backend, url.target.as_str()), (backend, target), "{input}");
        }
    }

    #[test]
    fn redaction_hides_the_password_only() {
        let url = DatabaseUrl::parse("postgres://roster:s3cret@db:5432/roster");
        assert_eq!(url.redacted(), "postgres://roster:***@db:5432/roster");
    }
}
