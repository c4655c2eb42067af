//! Persistence behind one contract, [`Repository`], with a SQL implementation for SQLite and
//! PostgreSQL. This is the only module that speaks SQL or knows diesel.
//!
//! Resources are stored as their canonical SCIM JSON plus indexed columns derived from it here
//! (so no caller can forget to keep them in step); memberships live in their own table and
//! change through set operations.

mod batches;
mod connection;
mod dependent_versions;
mod filter_sql;
mod imports;
mod listing;
mod outbox;
mod repository;
mod sql;
mod statistics;
mod tenant_settings;
#[cfg(test)]
mod test_databases;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use connection::{Backend, DatabaseUrl, DEFAULT_WAL_MAX_BYTES};
pub use filter_sql::{check_filter, check_sort, UnknownAttributes};
pub use imports::{
    operations_json, ImportCounts, ImportPhase, ImportRecord, ImportRepository, ImportRowRecord, ImportStatus,
    OperationsJson, RowAction, RowSelection, UserRows,
};
pub use listing::{KeyedPage, KeyedResource, PagePosition, PageQuery};
pub use outbox::{Invitation, NewOutboxMessage, OutboxMessage, OutboxRepository, QueuePosition, StoredContent};
pub use repository::SqlRepository;
pub use statistics::PlannerStatistics;
pub use tenant_settings::TenantSettingsRepository;

use crate::scim::error::ScimError;
use crate::scim::filter::{AttrPath, Filter};
use crate::scim::schema::{ResourceKind, SchemaRegistry};
use crate::tenant::TenantId;
use connection::{AnyConnection, DbConn, Pool};

pub type StoreResult<T> = Result<T, StoreError>;

/// Failures of the storage layer, already classified for callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write (for example a userName already taken in the tenant).
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// The row changed since it was read; the caller may reload and retry.
    #[error("the resource was modified concurrently")]
    VersionMismatch,
    #[error("resource not found")]
    NotFound,
    /// The database cannot be reached or is too busy.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// The request cannot be expressed as a query (an unknown filter attribute, say).
    #[error(transparent)]
    Query(#[from] ScimError),
    #[error("database error: {0}")]
    Database(String),
    /// The request's token was revoked (checked in the same database round trip as the work;
    /// see [`Store::checking_token`]).
    #[error("the token has been revoked")]
    TokenRevoked,
}

impl From<diesel::result::Error> for StoreError {
    fn from(error: diesel::result::Error) -> StoreError {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => StoreError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::UniqueViolation(info.constraint_name().unwrap_or(info.message()).to_string())
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StoreError::Unavailable(info.message().to_string())
            }
            // PostgreSQL aborts one of two writers that lock each other's rows: the loser may retry.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => StoreError::VersionMismatch,
            Error::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                StoreError::VersionMismatch
            }
            Error::DatabaseError(_, info) if is_busy(info.message()) => {
                StoreError::Unavailable(info.message().to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// A resource as stored: its SCIM JSON (without id/meta) and its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub id: String,
    pub data: Value,
    pub version: i64,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

/// What a write stores: the canonical JSON, plus for users an optional new password hash
/// (`None` keeps the current one).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceWrite {
    pub data: Value,
    pub password_hash: Option<String>,
}

/// Who created a membership, so an import can later replace only what imports made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipSource {
    Scim,
    Import,
}

impl MembershipSource {
    fn as_str(self) -> &'static str {
        match self {
            MembershipSource::Scim => "scim",
            MembershipSource::Import => "import",
        }
    }
}

/// A member to add to a group; the type is resolved from the id when the caller omits it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub id: String,
    pub kind: ResourceKind,
    /// The `display` the client sent, kept as given (RFC 7643 §4.2: member sub-attributes are
    /// immutable); `None` shows the member's current name instead.
    pub display: Option<String>,
}

/// One member of a group as read back, with the member's current display name.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberEntry {
    pub group_id: String,
    pub member_id: String,
    pub kind: ResourceKind,
    pub display: Option<String>,
}

/// One group a user belongs to (directly).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    pub user_id: String,
    pub group_id: String,
    pub display: String,
}

/// Sort order of a listing (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    pub path: AttrPath,
    pub descending: bool,
}

/// A listing request: filter, sort and an index page (RFC 7644 §3.4.2.4, 1-based start).
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort: Option<SortSpec>,
    pub start_index: u64,
    pub count: u64,
}

/// A page of a listing and the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total_results: u64,
    pub resources: Vec<StoredResource>,
}

/// The storage contract used by the provisioning use cases. Every method is scoped by tenant:
/// a row of another tenant is indistinguishable from a missing one.
pub trait Repository: TenantSettingsRepository + OutboxRepository + ImportRepository {
    fn setting(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` unless the key already has one (the first of racing instances wins).
    fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> StoreResult<()>;
    /// Returns false when the token id was already revoked.
    fn revoke_token(&mut self, jti: &str) -> StoreResult<bool>;
    fn is_token_revoked(&mut self, jti: &str) -> StoreResult<bool>;

    fn get(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreResult<Option<StoredResource>> {
        Ok(self.get_many(tenant, kind, &[id])?.pop())
    }
    /// Inserts one resource: the batch of one of [`Repository::insert_many`], so a taken id or
    /// userName is a [`StoreError::UniqueViolation`] (RFC 7644 §3.3: 409 `uniqueness`).
    fn insert(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        write: &ResourceWrite,
    ) -> StoreResult<StoredResource> {
        self.insert_many(tenant, kind, &[(id, write)])?
            .pop()
            .ok_or_else(|| StoreError::UniqueViolation(format!("the id or a unique value of {id} is taken")))
    }
    /// Replaces a resource if it is still at `expected_version` (optimistic concurrency).
    fn update(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        write: &ResourceWrite,
    ) -> StoreResult<StoredResource>;
    /// Bumps version and lastModified without changing data (after membership changes, which
    /// are set operations and so need no optimistic check).
    fn touch(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreResult<StoredResource>;
    /// Deletes a resource and every membership that names it; a user's e-mail rows, invitations
    /// and their messages go with it.
    fn delete(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreResult<()>;
    fn list(&mut self, tenant: &TenantId, kind: ResourceKind, query: &ListQuery) -> StoreResult<Page>;
    /// A page from a position in listing order: a keyset read, so an RFC 9865 cursor page costs
    /// the same at any depth; or from an offset (RFC 7644 §3.4.2.4 `startIndex`).
    fn list_page(&mut self, tenant: &TenantId, kind: ResourceKind, query: &PageQuery) -> StoreResult<KeyedPage>;
    /// The stored password hash of a user, if any.
    fn password_hash(&mut self, tenant: &TenantId, user_id: &str) -> StoreResult<Option<String>>;

    /// Which of `ids` exist in the tenant, and as what.
    fn resolve_members(&mut self, tenant: &TenantId, ids: &[String]) -> StoreResult<Vec<NewMember>>;
    /// Adds members that are not members yet; returns how many rows were added. The group's
    /// share of [`Repository::add_memberships`].
    fn add_members(
        &mut self,
        tenant: &TenantId,
        group_id: &str,
        members: &[NewMember],
        source: MembershipSource,
    ) -> StoreResult<usize> {
        let memberships: Vec<(&str, NewMember)> = members.iter().map(|m| (group_id, m.clone())).collect();
        Ok(self.add_memberships(tenant, &memberships, source, false)?.len())
    }
    fn remove_members(&mut self, tenant: &TenantId, group_id: &str, member_ids: &[String]) -> StoreResult<usize>;
    fn remove_all_members(&mut self, tenant: &TenantId, group_id: &str) -> StoreResult<usize>;
    fn members_of(&mut self, tenant: &TenantId, group_ids: &[&str]) -> StoreResult<Vec<MemberEntry>>;
    fn groups_of(&mut self, tenant: &TenantId, user_ids: &[&str]) -> StoreResult<Vec<GroupEntry>>;

    /// The resources among `ids` that exist, in no particular order.
    fn get_many(&mut self, tenant: &TenantId, kind: ResourceKind, ids: &[&str]) -> StoreResult<Vec<StoredResource>>;
    /// Inserts new resources (an import batch's users; `insert` is the batch of one) and returns
    /// those stored, in the order given. A resource that a unique index refuses (its id or, for a
    /// user, its userName is taken) is left out, not an error, so one clash does not undo the
    /// others (and PostgreSQL's transaction stays usable); so is an id repeated in `resources`
    /// after its first resource.
    fn insert_many(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        resources: &[(&str, &ResourceWrite)],
    ) -> StoreResult<Vec<StoredResource>>;
    /// Adds memberships of several groups at once, skipping those that exist; returns the
    /// `(group id, member id)` pairs added, in the order given, so version bumps and operations
    /// name only real changes. Locks the groups (in id order) before bumping the version of each
    /// user that joined one (its `groups` changed); the groups' own versions are the caller's to
    /// bump ([`Repository::touch`]). With `members_are_new` (users inserted earlier in this same
    /// transaction, as an import batch's), their versions stay: no one can have seen them yet.
    fn add_memberships(
        &mut self,
        tenant: &TenantId,
        memberships: &[(&str, NewMember)],
        source: MembershipSource,
        members_are_new: bool,
    ) -> StoreResult<Vec<(String, String)>>;
}

/// The database: a connection pool plus the schema registry that filters are translated with.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    schemas: std::sync::Arc<SchemaRegistry>,
    /// SQLite has one writer at a time: this instance's writers queue here and are woken in
    /// turn, instead of polling SQLite's lock with sleeps of up to 100 ms (docs/benchmarks.md).
    writer: std::sync::Arc<parking_lot::Mutex<()>>,
    /// When set, every read and write first checks that this token id is not revoked, on the
    /// same connection (and inside the same transaction) as the work.
    token_id: Option<std::sync::Arc<str>>,
    /// SQLite: the WAL file and the size past which a committed write truncates it.
    wal: Option<(std::sync::Arc<std::path::Path>, u64)>,
}

/// How long a SQLite writer waits for this instance's other writers, like SQLite's own busy
/// timeout (connection.rs) waits for other processes.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Store {
    /// Connects and runs pending migrations.
    pub fn open(url: &DatabaseUrl, pool_size: u32, schemas: std::sync::Arc<SchemaRegistry>) -> StoreResult<Store> {
        let pool = connection::open_pool(url, pool_size)?;
        let wal = connection::wal_path(url).map(|path| (path.into(), connection::DEFAULT_WAL_MAX_BYTES));
        let store = Store { pool, backend: url.backend, schemas, writer: Default::default(), token_id: None, wal };
        store.migrate()?;
        Ok(store)
    }

    /// This store, with every [`read`](Store::read) and [`write`](Store::write) refusing with
    /// [`StoreError::TokenRevoked`] once token `jti` is revoked. The check shares the work's
    /// connection and round trip, and reads the database each time, so a revocation holds at
    /// once on every instance.
    pub fn checking_token(&self, jti: &str) -> Store {
        Store { token_id: Some(jti.into()), ..self.clone() }
    }

    /// This store, truncating a SQLite WAL file that has grown past `max_bytes` after a write
    /// (see `connection::bound_wal`); no effect on PostgreSQL.
    pub fn with_wal_limit(mut self, max_bytes: u64) -> Store {
        self.wal = self.wal.map(|(path, _)| (path, max_bytes));
        self
    }

    fn check_token(&self, repo: &mut dyn Repository) -> StoreResult<()> {
        match &self.token_id {
            Some(jti) if repo.is_token_revoked(jti)? => Err(StoreError::TokenRevoked),
            _ => Ok(()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn migrate(&self) -> StoreResult<usize> {
        connection::run_migrations(&mut *self.connection()?)
    }

    fn connection(&self) -> StoreResult<diesel::r2d2::PooledConnection<connection::ConnectionManager>> {
        self.pool.get().map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs `work` outside an explicit transaction: for reads.
    pub fn read<T, E: From<StoreError>>(&self, work: impl FnOnce(&mut dyn Repository) -> Result<T, E>) -> Result<T, E> {
        let mut pooled = self.connection()?;
        let mut repo = SqlRepository::new(DbConn::from(&mut *pooled), &self.schemas);
        self.check_token(&mut repo)?;
        work(&mut repo)
    }

    /// Runs `work` in one transaction: committed if it returns `Ok`, rolled back otherwise, so
    /// after any error the stored data is exactly as before.
    pub fn write<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Repository) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_sized(false, work)
    }

    /// [`Store::write`] for a long transaction that touches many pages (an import pass run in one
    /// transaction): on SQLite its connection gets a larger page cache while it runs, so index
    /// pages are not evicted and read back again row after row (every connection keeping the
    /// larger cache would multiply it by the pool's size). Not for short transactions: the cache
    /// is dropped at the end, and growing it again for each one costs more than it saves.
    pub fn write_bulk<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Repository) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_sized(true, work)
    }

    fn write_sized<T, E: From<StoreError>>(
        &self,
        bulk: bool,
        work: impl FnOnce(&mut dyn Repository) -> Result<T, E>,
    ) -> Result<T, E> {
        let _turn = match self.backend {
            Backend::Sqlite => Some(self.writer.try_lock_for(WRITER_WAIT).ok_or_else(|| {
                StoreError::Unavailable("database is locked: timed out waiting for other writers".to_string())
            })?),
            Backend::Postgres => None,
        };
        let mut pooled = self.connection()?;
        let schemas = &self.schemas;
        let checked_work = |repo: &mut SqlRepository<'_>| {
            self.check_token(repo).map_err(|e| TxError::App(E::from(e)))?;
            work(repo).map_err(TxError::App)
        };
        let outcome = match &mut *pooled {
            // IMMEDIATE takes the write lock up front, so two writers wait on the busy timeout
            // instead of deadlocking when both try to upgrade a read lock.
            AnyConnection::Sqlite(conn) => {
                if bulk {
                    connection::set_page_cache(conn, connection::BULK_PAGE_CACHE_KIB)?;
                }
                let outcome = conn
                    .immediate_transaction(|conn| checked_work(&mut SqlRepository::new(DbConn::Sqlite(conn), schemas)));
                if bulk {
                    connection::set_page_cache(conn, connection::PAGE_CACHE_KIB)?;
                }
                if let (Ok(_), Some((wal, max_bytes))) = (&outcome, &self.wal) {
                    connection::bound_wal(conn, wal, *max_bytes);
                }
                outcome
            }
            AnyConnection::Postgresql(conn) => diesel::Connection::transaction(conn, |conn| {
                checked_work(&mut SqlRepository::new(DbConn::Postgres(conn), schemas))
            }),
        };
        outcome.map_err(|e| match e {
            TxError::App(e) => e,
            TxError::Db(e) => E::from(StoreError::from(e)),
        })
    }

    /// Checks that the database answers (for `/readyz`).
    pub fn ping(&self) -> StoreResult<()> {
        use diesel::connection::SimpleConnection;
        self.connection()?.batch_execute("SELECT 1").map_err(StoreError::from)
    }
}

/// Carries either the caller's error or diesel's out of a transaction closure.
enum TxError<E> {
    App(E),
    Db(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(error: diesel::result::Error) -> Self {
        TxError::Db(error)
    }
}
