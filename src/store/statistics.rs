//! PostgreSQL's picture of the tables an import grows, kept true while it grows them.
//!
//! The planner sizes a table as `reltuples / relpages` (from the last VACUUM or ANALYZE) times
//! its current number of pages. A VACUUM or ANALYZE that runs while an import's transaction has
//! filled pages with rows it cannot see yet (autovacuum cleaning up after a rolled-back preview,
//! say) records those pages with no rows in them. From then on the planner takes the table for
//! empty however large it grows, every index looks equally cheap, and the import's lookups by a
//! list of keys read the tenant's whole range of an index once per key: a 20,000-row commit took
//! 57 s instead of 12 s, and PostgreSQL used 69 s of CPU instead of 11 (docs/benchmarks-import.md).
//! An `ANALYZE` from inside the import's transaction counts the rows that transaction wrote, and
//! its `pg_class` figures stay when the transaction rolls back.

use std::collections::HashMap;

use diesel::sql_types::{Array, BigInt, Double, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::connection::DbConn;
use super::StoreResult;

/// The tables whose lookups an import plans batch after batch.
const GROWN_TABLES: [&str; 5] = ["scim_users", "user_emails", "memberships", "invitations", "import_rows"];

/// Below this size a table is cheap to read whatever the plan.
const MIN_PAGES: i64 = 64;

/// What a pass last measured: each table's size in pages when it analyzed it, so that a table
/// whose figures stay wrong (it is mostly dead rows a VACUUM has yet to remove) is analyzed again
/// only once it has grown by a tenth.
#[derive(Debug, Default)]
pub struct PlannerStatistics {
    analyzed_at_pages: HashMap<&'static str, i64>,
}

#[derive(QueryableByName)]
struct TableSize {
    #[diesel(sql_type = Text)]
    name: String,
    /// -1 when never vacuumed or analyzed.
    #[diesel(sql_type = Double)]
    tuples: f64,
    #[diesel(sql_type = BigInt)]
    recorded_pages: i64,
    #[diesel(sql_type = BigInt)]
    pages: i64,
}

impl TableSize {
    /// Fewer than one row per page by the recorded figures: no table here stores rows that big,
    /// so the figures were taken while the pages held rows the measurement could not see.
    fn looks_empty(&self) -> bool {
        self.tuples >= 0.0
            && self.recorded_pages > 0
            && self.pages >= MIN_PAGES
            && self.tuples < self.recorded_pages as f64
    }
}

/// On PostgreSQL, analyzes each of the import's tables whose recorded figures make it look empty
/// (see the module documentation). A table another session is analyzing is left for the next
/// call: its lock is waited for 100 ms at most, in a savepoint.
pub(super) fn refresh(conn: &mut DbConn<'_>, measured: &mut PlannerStatistics) -> StoreResult<()> {
    let DbConn::Postgres(pg) = conn else {
        // SQLite plans from its indexes alone: Roster never runs its ANALYZE.
        return Ok(());
    };
    let sizes: Vec<TableSize> = diesel::sql_query(
        "SELECT c.relname::text AS name, c.reltuples::float8 AS tuples, c.relpages::int8 AS recorded_pages, \
         (pg_relation_size(c.oid) / current_setting('block_size')::int8) AS pages FROM pg_class c \
         WHERE c.oid = ANY (CAST($1 AS text[])::regclass[])",
    )
    .bind::<Array<Text>, _>(&GROWN_TABLES[..])
    .load(*pg)?;
    for size in sizes.iter().filter(|size| size.looks_empty()) {
        let Some(&table) = GROWN_TABLES.iter().find(|table| **table == size.name) else { continue };
        if measured.analyzed_at_pages.get(table).is_some_and(|&at| size.pages * 10 < at * 11) {
            continue;
        }
        // Rolled back on purpose: the `pg_class` figures stay (PostgreSQL writes them in place,
        // outside any transaction), while the lock ANALYZE takes, which would otherwise be held
        // to the end of the import's transaction and make every other ANALYZE or VACUUM of the
        // table wait for it, goes with the savepoint.
        let analyzed = pg.transaction(|pg| {
            diesel::sql_query("SET LOCAL lock_timeout = '100ms'").execute(pg)?;
            diesel::sql_query(format!("ANALYZE {table}")).execute(pg)?;
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        });
        match analyzed {
            Ok(()) | Err(diesel::result::Error::RollbackTransaction) => {
                measured.analyzed_at_pages.insert(table, size.pages);
            }
            Err(error) => tracing::debug!(table, error = %error, "table statistics left for the next batch"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{BigInt, Double, Text};
    use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
    use serde_json::json;

    use super::PlannerStatistics;
    use crate::scim::schema::ResourceKind;
    use crate::store::connection::{AnyConnection, DbConn};
    use crate::store::test_databases;
    use crate::store::{ImportRepository, Repository, ResourceWrite, SqlRepository, Store};
    use crate::tenant::TenantId;

    #[derive(QueryableByName)]
    struct Recorded {
        #[diesel(sql_type = Double)]
        tuples: f64,
        #[diesel(sql_type = BigInt)]
        pages: i64,
    }

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }

    /// Rows and pages `pg_class` records for `scim_users`.
    fn recorded(conn: &mut PgConnection) -> (f64, i64) {
        let sql =
            "SELECT reltuples::float8 AS tuples, relpages::int8 AS pages FROM pg_class WHERE relname = 'scim_users'";
        let row: Recorded = diesel::sql_query(sql).get_result(conn).unwrap();
        (row.tuples, row.pages)
    }

    fn insert_users(store: &Store, conn: &mut PgConnection, numbers: std::ops::Range<usize>) {
        let writes: Vec<(String, ResourceWrite)> = numbers
            .map(|n| {
                let data = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                  "userName": format!("user{n}"), "displayName": format!("User number {n}")});
                (format!("u{n:06}"), ResourceWrite { data, password_hash: None })
            })
            .collect();
        let writes: Vec<(&str, &ResourceWrite)> = writes.iter().map(|(id, write)| (id.as_str(), write)).collect();
        let tenant = TenantId::parse("acme").unwrap();
        let mut repo = SqlRepository::new(DbConn::Postgres(conn), &store.schemas);
        for chunk in writes.chunks(500) {
            repo.insert_many(&tenant, ResourceKind::User, chunk).unwrap();
        }
    }

    /// A second session on the database `conn` is connected to.
    fn another_connection(conn: &mut PgConnection) -> PgConnection {
        let name: Name = diesel::sql_query("SELECT current_database()::text AS name").get_result(conn).unwrap();
        let server = std::env::var("ROSTER_TEST_DATABASE_URL").unwrap();
        PgConnection::establish(&format!("{}/{}", server.rsplit_once('/').unwrap().0, name.name)).unwrap()
    }

    fn refresh(store: &Store, conn: &mut PgConnection, measured: &mut PlannerStatistics) {
        let mut repo = SqlRepository::new(DbConn::Postgres(conn), &store.schemas);
        repo.refresh_planner_statistics(measured).unwrap();
    }

    /// The failure this guards against, made on purpose: a VACUUM from another session while an
    /// open transaction has filled the table records its pages with no rows; a refresh inside
    /// that transaction records its rows again, and a table that has not grown by a tenth since
    /// it was last analyzed is left alone.
    #[test]
    fn a_table_recorded_empty_under_an_open_transaction_is_analyzed_again_from_inside_it() {
        let Some(postgres) = test_databases::postgres() else { return };
        let store = &postgres.store;
        let mut pooled = store.connection().unwrap();
        let AnyConnection::Postgresql(conn) = &mut *pooled else { panic!("a PostgreSQL store") };
        let mut other = another_connection(conn);
        let mut vacuum = || other.batch_execute("VACUUM scim_users").unwrap();
        conn.transaction(|conn| {
            let mut measured = PlannerStatistics::default();
            insert_users(store, conn, 0..5_000);
            vacuum();
            let (tuples, pages) = recorded(conn);
            assert!(tuples < 1.0 && pages > super::MIN_PAGES, "the VACUUM recorded {tuples} rows in {pages} pages");
            refresh(store, conn, &mut measured);
            let (tuples, _) = recorded(conn);
            assert!((4_000.0..6_000.0).contains(&tuples), "analyzed from inside: {tuples} rows recorded");

            vacuum();
            refresh(store, conn, &mut measured);
            assert!(recorded(conn).0 < 1.0, "not grown since it was analyzed: left alone");

            insert_users(store, conn, 5_000..6_000);
            vacuum();
            refresh(store, conn, &mut measured);
            let (tuples, _) = recorded(conn);
            assert!((5_000.0..7_000.0).contains(&tuples), "grown by a fifth: analyzed again, {tuples} rows recorded");
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    }

    /// An ANALYZE that could not take its lock (another session holds one that conflicts) is not
    /// counted as done: the next refresh tries again.
    #[test]
    fn a_table_whose_analyze_waited_too_long_is_analyzed_at_the_next_refresh() {
        let Some(postgres) = test_databases::postgres() else { return };
        let store = &postgres.store;
        let mut pooled = store.connection().unwrap();
        let AnyConnection::Postgresql(conn) = &mut *pooled else { panic!("a PostgreSQL store") };
        let mut other = another_connection(conn);
        conn.transaction(|conn| {
            let mut measured = PlannerStatistics::default();
            insert_users(store, conn, 0..5_000);
            other.batch_execute("VACUUM scim_users").unwrap();
            assert!(recorded(conn).0 < 1.0, "the VACUUM recorded the pages empty");
            other.batch_execute("BEGIN; LOCK TABLE scim_users IN SHARE UPDATE EXCLUSIVE MODE").unwrap();
            refresh(store, conn, &mut measured);
            assert!(recorded(conn).0 < 1.0, "the ANALYZE gave up waiting for the lock");
            other.batch_execute("COMMIT").unwrap();
            refresh(store, conn, &mut measured);
            let (tuples, _) = recorded(conn);
            assert!((4_000.0..6_000.0).contains(&tuples), "analyzed at the next refresh: {tuples} rows recorded");
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    }

    #[test]
    fn sqlite_has_nothing_to_refresh() {
        let sqlite = test_databases::sqlite();
        let mut measured = PlannerStatistics::default();
        sqlite.store.write(|repo| repo.refresh_planner_statistics(&mut measured)).unwrap();
        assert!(measured.analyzed_at_pages.is_empty());
    }
}
