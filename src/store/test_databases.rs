//! Fresh databases for the store's own tests: a SQLite file always, and a PostgreSQL database
//! when `ROSTER_TEST_DATABASE_URL` names a server (as for the API tests), dropped afterwards.

use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::Connection;

use super::{DatabaseUrl, Store};
use crate::scim::schema::SchemaRegistry;

/// A migrated store and what keeps its database alive; dropping it removes the database.
pub(super) struct TestStore {
    pub(super) store: Store,
    _database: TestDatabase,
}

enum TestDatabase {
    Sqlite(#[expect(dead_code, reason = "held for its Drop, which removes the directory")] tempfile::TempDir),
    Postgres { admin: diesel::PgConnection, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin, name } = self {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A store on a new SQLite file.
pub(super) fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&dir.path().join("store.db").to_string_lossy());
    let store = Store::open(&url, 1, Arc::new(SchemaRegistry::standard())).unwrap();
    TestStore { store, _database: TestDatabase::Sqlite(dir) }
}

/// A store on a new PostgreSQL database, when `ROSTER_TEST_DATABASE_URL` is set.
pub(super) fn postgres() -> Option<TestStore> {
    let server = std::env::var("ROSTER_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("roster_store_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(&server).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let database = TestDatabase::Postgres { admin, name: name.clone() };
    let (prefix, _) = server.rsplit_once('/').unwrap();
    let url = DatabaseUrl::parse(&format!("{prefix}/{name}"));
    let store = Store::open(&url, 1, Arc::new(SchemaRegistry::standard())).unwrap();
    Some(TestStore { store, _database: database })
}
