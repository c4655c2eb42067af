//! Listing pages in SQL: a filter, an order, and either an offset (RFC 7644 §3.4.2.4
//! `startIndex`) or a keyset position (RFC 9865 cursors).
//!
//! Every listing is ordered by (sort value, created, id), which is total, so ties never reorder
//! between pages. A keyset page reads the rows after (or before) one row's key with
//! `WHERE key > :key ORDER BY key LIMIT n`: with the `(tenant_id, created, id)` index the cost
//! is the same at any depth. Rows without a sort value sort last ascending, first descending,
//! on both backends.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use super::connection::{Backend, DbConn};
use super::filter_sql::{push_filter, sort_expression, FilterScope, SortExpression, UnknownAttributes};
use super::repository::{table, ResourceRow};
use super::sql::Sql;
use super::{SortSpec, StoreResult, StoredResource};
use crate::scim::cursor::SortKey;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::schema::{ResourceKind, SchemaRegistry};
use crate::tenant::TenantId;

/// Where a page starts in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagePosition {
    /// The first rows.
    Start,
    /// The rows right after this key.
    After(SortKey),
    /// The rows right before this key (still returned in listing order).
    Before(SortKey),
    /// The last rows (still returned in listing order).
    End,
}

/// A request for one page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct PageQuery {
    pub filter: Option<Filter>,
    pub sort: Option<SortSpec>,
    /// What attribute names the resource type lacks mean (listings at the root span types).
    pub unknown_attributes: UnknownAttributes,
    pub position: PagePosition,
    /// Rows to skip after `position`: `startIndex - 1` for index paging, 0 for cursors.
    pub skip: u64,
    /// At most this many rows; 0 reads none (a count alone).
    pub limit: u64,
    /// Whether to count every match as well (one more query).
    pub count_total: bool,
}

impl PageQuery {
    /// The first `limit` matches of `filter` in `sort` order.
    pub fn first(filter: Option<Filter>, sort: Option<SortSpec>, limit: u64) -> PageQuery {
        PageQuery {
            filter,
            sort,
            unknown_attributes: UnknownAttributes::Reject,
            position: PagePosition::Start,
            skip: 0,
            limit,
            count_total: false,
        }
    }
}

/// A stored resource with its position in the listing's order.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedResource {
    pub resource: StoredResource,
    pub key: SortKey,
}

/// A page in listing order, with the number of all matches when it was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedPage {
    pub total_results: Option<u64>,
    pub rows: Vec<KeyedResource>,
}

#[derive(QueryableByName)]
struct KeyedRow {
    #[diesel(embed)]
    resource: ResourceRow,
    #[diesel(sql_type = Nullable<Text>)]
    sort_value: Option<String>,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl KeyedRow {
    fn into_keyed(self) -> StoreResult<KeyedResource> {
        let key = SortKey {
            sort_value: self.sort_value,
            created: self.resource.created().to_owned(),
            id: self.resource.id().to_owned(),
        };
        Ok(KeyedResource { resource: self.resource.into_resource()?, key })
    }
}

/// The order of one query: the sort expression (if any) and the direction rows are read in.
struct Order {
    sort: Option<SortExpression>,
    ascending: bool,
}

impl Order {
    fn direction(&self) -> &'static str {
        if self.ascending {
            " ASC"
        } else {
            " DESC"
        }
    }

    fn push_order_by(&self, sql: &mut Sql) {
        sql.push(" ORDER BY ");
        if let Some(sort) = &self.sort {
            sort.push(sql);
            sql.push(self.direction());
            if sort.nullable() {
                sql.push(if self.ascending { " NULLS LAST" } else { " NULLS FIRST" });
            }
            if sort.unique() {
                return;
            }
            sql.push(", ");
        }
        sql.push("created").push(self.direction()).push(", id").push(self.direction());
    }

    /// `AND <rows strictly after key in this order>`.
    fn push_after(&self, sql: &mut Sql, key: &SortKey) {
        let op = if self.ascending { " > " } else { " < " };
        let push_tail = |sql: &mut Sql| {
            sql.push("(created, id)").push(op).push("(").bind_text(key.created.as_str()).push(", ");
            sql.bind_text(key.id.as_str()).push(")");
        };
        sql.push(" AND ");
        let Some(sort) = &self.sort else {
            push_tail(sql);
            return;
        };
        match (&key.sort_value, sort.nullable()) {
            (Some(value), false) if sort.unique() => {
                sort.push(sql);
                sql.push(op);
                sort.bind_value(sql, value);
            }
            (Some(value), false) => {
                sql.push("(");
                sort.push(sql);
                sql.push(", created, id)").push(op).push("(");
                sort.bind_value(sql, value);
                sql.push(", ").bind_text(key.created.as_str()).push(", ").bind_text(key.id.as_str()).push(")");
            }
            (Some(value), true) => {
                sql.push("(");
                sort.push(sql);
                sql.push(op);
                sort.bind_value(sql, value);
                if self.ascending {
                    sql.push(" OR ");
                    sort.push(sql);
                    sql.push(" IS NULL");
                }
                sql.push(" OR (");
                sort.push(sql);
                sql.push(" = ");
                sort.bind_value(sql, value);
                sql.push(" AND ");
                push_tail(sql);
                sql.push("))");
            }
            (None, _) => {
                sql.push("(");
                if !self.ascending {
                    sort.push(sql);
                    sql.push(" IS NOT NULL OR ");
                }
                sql.push("(");
                sort.push(sql);
                sql.push(" IS NULL AND ");
                push_tail(sql);
                sql.push("))");
            }
        }
    }
}

/// Reads one page of a listing; see [`PageQuery`].
pub(super) fn list_page(
    conn: &mut DbConn<'_>,
    schemas: &SchemaRegistry,
    tenant: &TenantId,
    kind: ResourceKind,
    query: &PageQuery,
) -> StoreResult<KeyedPage> {
    let backend = match conn {
        DbConn::Sqlite(_) => Backend::Sqlite,
        DbConn::Postgres(_) => Backend::Postgres,
    };
    let listing = Listing { schemas, tenant, kind, query };
    let reuse_prepared = has_lookup_shape(query);
    let total_results = if query.count_total {
        let mut count = Sql::new(backend);
        listing.push_count(&mut count)?;
        if reuse_prepared {
            count.reuse_prepared();
        }
        Some(count.first::<CountRow>(conn)?.map_or(0, |r| u64::try_from(r.n).unwrap_or(0)))
    } else {
        None
    };
    if query.limit == 0 || total_results == Some(0) {
        return Ok(KeyedPage { total_results, rows: Vec::new() });
    }
    let mut select = Sql::new(backend);
    listing.push_select(&mut select)?;
    if reuse_prepared {
        select.reuse_prepared();
    }
    let rows = select.load::<KeyedRow>(conn)?;
    let mut rows = rows.into_iter().map(KeyedRow::into_keyed).collect::<StoreResult<Vec<_>>>()?;
    if listing.reads_backward() {
        rows.reverse();
    }
    Ok(KeyedPage { total_results, rows })
}

/// Whether a listing is one of the few shapes identity providers send all the time (everything,
/// or a lookup such as `userName eq "…"`, unsorted), whose statements are worth keeping prepared.
/// Other shapes are unbounded in number, so they are prepared afresh each time.
fn has_lookup_shape(query: &PageQuery) -> bool {
    const LOOKUP_ATTRIBUTES: [&str; 4] = ["userName", "externalId", "id", "displayName"];
    query.sort.is_none()
        && match &query.filter {
            None => true,
            Some(Filter::Compare { path, op: CompareOp::Eq, value: serde_json::Value::String(_) }) => {
                path.urn.is_none()
                    && path.sub_attr.is_none()
                    && LOOKUP_ATTRIBUTES.iter().any(|name| name.eq_ignore_ascii_case(&path.name))
            }
            Some(_) => false,
        }
}

/// The SQL of one listing request.
struct Listing<'a> {
    schemas: &'a SchemaRegistry,
    tenant: &'a TenantId,
    kind: ResourceKind,
    query: &'a PageQuery,
}

impl Listing<'_> {
    fn reads_backward(&self) -> bool {
        matches!(self.query.position, PagePosition::Before(_) | PagePosition::End)
    }

    fn push_condition(&self, sql: &mut Sql) -> StoreResult<()> {
        sql.push(" WHERE tenant_id = ").bind_text(self.tenant.as_str());
        if let Some(filter) = &self.query.filter {
            let schema = self.schemas.resource(self.kind);
            let scope = FilterScope { schema, tenant: self.tenant, unknown: self.query.unknown_attributes };
            sql.push(" AND (");
            push_filter(sql, &scope, filter)?;
            sql.push(")");
        }
        Ok(())
    }

    /// `SELECT COUNT(*) AS n …` of every match.
    fn push_count(&self, sql: &mut Sql) -> StoreResult<()> {
        sql.push("SELECT COUNT(*) AS n FROM ").push(table(self.kind));
        self.push_condition(sql)
    }

    /// `SELECT <resource columns>, <sort value> AS sort_value …` of the page, in the order rows
    /// are read (reversed for pages before a position).
    fn push_select(&self, sql: &mut Sql) -> StoreResult<()> {
        let query = self.query;
        let schema = self.schemas.resource(self.kind);
        let sort =
            query.sort.as_ref().map(|s| sort_expression(schema, &s.path, query.unknown_attributes)).transpose()?;
        let descending = query.sort.as_ref().is_some_and(|s| s.descending);
        let sort = sort.filter(|sort| !sort.is_creation_order());
        let order = Order { sort, ascending: descending == self.reads_backward() };
        sql.push("SELECT id, ").json_column("data").push(" AS data, version, created, last_modified, ");
        match &order.sort {
            Some(sort) => sort.push_as_text(sql),
            None => {
                sql.push("CAST(NULL AS TEXT)");
            }
        }
        sql.push(" AS sort_value FROM ").push(table(self.kind));
        if sql.backend() == Backend::Postgres && query.skip > 0 {
            // A deferred join: PostgreSQL computes the select list (the JSONB as text) of every
            // row OFFSET skips, so skip over ids alone, then read the page's rows by id
            // (docs/benchmarks.md: 10.2 ms → 1.6 ms at OFFSET 5000).
            sql.push(" WHERE tenant_id = ").bind_text(self.tenant.as_str());
            sql.push(" AND id IN (SELECT id FROM ").push(table(self.kind));
            self.push_page_of_matches(sql, &order)?;
            sql.push(")");
            order.push_order_by(sql);
            return Ok(());
        }
        self.push_page_of_matches(sql, &order)
    }

    /// `WHERE <matches> [AND <after position>] ORDER BY … LIMIT … [OFFSET …]`.
    fn push_page_of_matches(&self, sql: &mut Sql, order: &Order) -> StoreResult<()> {
        let query = self.query;
        self.push_condition(sql)?;
        if let PagePosition::After(key) | PagePosition::Before(key) = &query.position {
            order.push_after(sql, key);
        }
        order.push_order_by(sql);
        sql.push(" LIMIT ");
        push_row_count(sql, query.limit);
        if query.skip > 0 {
            sql.push(" OFFSET ");
            push_row_count(sql, query.skip);
        }
        Ok(())
    }
}

/// A LIMIT or OFFSET value. On SQLite as `(? + 0)`: SQLite reads a bare bound parameter there
/// while planning and then re-prepares the statement at every execution (seen as
/// `sqlite3Reprepare` under each `sqlite3_step`), which defeats keeping it prepared.
fn push_row_count(sql: &mut Sql, n: u64) {
    match sql.backend() {
        Backend::Sqlite => {
            sql.push("(").bind_int(clamp(n)).push(" + 0)");
        }
        Backend::Postgres => {
            sql.bind_int(clamp(n));
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::scim::filter::{parse_attr_path, parse_filter};
    use crate::store::connection::AnyConnection;
    use crate::store::{test_databases, Store};

    #[derive(QueryableByName)]
    struct SqlitePlanRow {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    #[derive(QueryableByName)]
    struct PostgresPlanRow {
        #[diesel(sql_type = Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }

    /// (resource type, filter, sortBy, cursor?, the index the plan must use). A lookup may sort
    /// its few matches; a page of the whole listing must come from the index in order.
    const LOOKUPS: &[(ResourceKind, &str, Option<&str>, bool, &str)] = &[
        (ResourceKind::User, r#"userName eq "bjensen""#, None, false, "users_tenant_user_name"),
        (ResourceKind::User, r#"externalId eq "701984""#, None, false, "users_tenant_external_id_order"),
        (ResourceKind::User, r#"emails.value eq "b@example.com""#, None, false, "user_emails_tenant_value"),
        (
            ResourceKind::User,
            r#"emails[type eq "work"].value eq "b@example.com""#,
            None,
            false,
            "user_emails_tenant_value",
        ),
        (ResourceKind::User, r#"displayName eq "Babs""#, None, false, "users_tenant_display_name_order"),
        (ResourceKind::Group, r#"displayName eq "Tour Guides""#, None, false, "groups_tenant_display_name_order"),
        (ResourceKind::Group, r#"externalId eq "g-1""#, None, false, "groups_tenant_external_id_order"),
        (ResourceKind::User, r#"id eq "2819c223""#, None, false, "scim_users"),
        (ResourceKind::Group, r#"members[value eq "2819c223"]"#, None, false, "memberships_member"),
        (ResourceKind::Group, r#"members.value eq "2819c223""#, None, false, "memberships_member"),
        (ResourceKind::User, r#"groups.value eq "e9e30dba""#, None, false, "memberships"),
        (ResourceKind::User, "", None, true, "users_tenant_created"),
        (ResourceKind::User, "", None, false, "users_tenant_created"),
        (ResourceKind::User, "", Some("userName"), true, "users_tenant_user_name"),
        (ResourceKind::User, "", Some("meta.created"), true, "users_tenant_created"),
        (ResourceKind::User, "", Some("displayName"), true, "users_tenant_display_name_order"),
        (ResourceKind::User, "", Some("meta.lastModified"), true, "users_tenant_last_modified_order"),
        (ResourceKind::Group, "", Some("displayName"), true, "groups_tenant_display_name_order"),
    ];

    fn page_query(filter: &str, sort_by: Option<&str>, cursor: bool) -> PageQuery {
        let filter = (!filter.is_empty()).then(|| parse_filter(filter).unwrap());
        let sort = sort_by.map(|path| SortSpec { path: parse_attr_path(path).unwrap(), descending: false });
        let mut query = PageQuery::first(filter, sort, 101);
        if cursor {
            query.position = PagePosition::After(SortKey {
                sort_value: sort_by.map(|_| "m".to_string()),
                created: "2026-01-01T00:00:00.000000Z".into(),
                id: "2819c223".into(),
            });
        }
        query
    }

    fn explain(store: &Store, query: &PageQuery, kind: ResourceKind) -> Vec<String> {
        let schemas = SchemaRegistry::standard();
        let tenant = TenantId::parse("acme").unwrap();
        let listing = Listing { schemas: &schemas, tenant: &tenant, kind, query };
        let mut pooled = store.connection().unwrap();
        let mut conn = DbConn::from(&mut *pooled);
        match &mut conn {
            DbConn::Sqlite(_) => {
                let mut sql = Sql::new(Backend::Sqlite);
                sql.push("EXPLAIN QUERY PLAN ");
                listing.push_select(&mut sql).unwrap();
                sql.load::<SqlitePlanRow>(&mut conn).unwrap().into_iter().map(|r| r.detail).collect()
            }
            DbConn::Postgres(_) => {
                let mut sql = Sql::new(Backend::Postgres);
                sql.push("EXPLAIN ");
                listing.push_select(&mut sql).unwrap();
                sql.load::<PostgresPlanRow>(&mut conn).unwrap().into_iter().map(|r| r.line).collect()
            }
        }
    }

    /// Fills tenant `acme` with 5,000 users (one email each) in 500 groups, straight in SQL.
    fn seed(store: &Store) {
        let numbers = "(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 5000) \
                       SELECT n FROM seq) AS numbers";
        let statements = [
            format!(
                "INSERT INTO scim_users (id, tenant_id, user_name, user_name_lower, external_id, display_name, \
                 display_name_lower, active, data, version, created, last_modified) SELECT 'u' || n, 'acme', \
                 'user' || n, 'user' || n, 'ext' || n, 'User ' || n, 'user ' || n, 1, '{{}}', 1, \
                 '2026-' || (1000000 + n), '2026-' || (1000000 + n) FROM {numbers}"
            ),
            format!(
                "INSERT INTO user_emails (tenant_id, user_id, value_lower, email_type, is_primary) \
                 SELECT 'acme', 'u' || n, 'user' || n || '@example.com', 'work', 1 FROM {numbers}"
            ),
            format!(
                "INSERT INTO scim_groups (id, tenant_id, display_name, display_name_lower, external_id, data, \
                 version, created, last_modified) SELECT 'g' || n, 'acme', 'Group ' || n, 'group ' || n, \
                 'gext' || n, '{{}}', 1, '2026-' || (1000000 + n), '2026-' || (1000000 + n) FROM {numbers} \
                 WHERE n <= 500"
            ),
            format!(
                "INSERT INTO memberships (tenant_id, group_id, member_id, member_type, source, created) \
                 SELECT 'acme', 'g' || (n % 500 + 1), 'u' || n, 'User', 'scim', '2026' FROM {numbers}"
            ),
        ];
        let mut pooled = store.connection().unwrap();
        for statement in statements {
            pooled.batch_execute(&statement).unwrap();
        }
        if matches!(&*pooled, AnyConnection::Postgresql(_)) {
            pooled.batch_execute("ANALYZE").unwrap();
        }
    }

    fn assert_lookups_use_indexes(store: &Store) {
        seed(store);
        let mut failures = Vec::new();
        for (kind, filter, sort_by, cursor, index) in LOOKUPS {
            let plan = explain(store, &page_query(filter, *sort_by, *cursor), *kind);
            let text = plan.join("\n");
            let scans = plan.iter().any(|line| {
                let line = line.trim_start_matches([' ', '-', '>']);
                (line.starts_with("SCAN ") && !line.starts_with("SCAN e")) || line.contains("Seq Scan")
            });
            let sorts_a_walk = filter.is_empty() && (text.contains("TEMP B-TREE") || text.contains("Sort  ("));
            let walks_the_tenant = !filter.is_empty()
                && plan.iter().any(|line| {
                    let line = line.trim();
                    line.ends_with("(tenant_id=?)")
                        || (line.starts_with("Index Cond: (tenant_id = ") && !line.contains(" AND "))
                });
            if scans || sorts_a_walk || walks_the_tenant || !text.contains(index) {
                failures.push(format!("{filter:?} sortBy={sort_by:?} cursor={cursor}: want {index}\n{text}"));
            }
        }
        assert!(failures.is_empty(), "{} lookup(s) scan or sort:\n{}", failures.len(), failures.join("\n\n"));
    }

    #[test]
    fn common_lookups_and_cursor_pages_use_indexes_on_sqlite() {
        assert_lookups_use_indexes(&test_databases::sqlite().store);
    }

    /// Runs when `ROSTER_TEST_DATABASE_URL` names a PostgreSQL server (as for the API tests), on a
    /// fresh, analyzed database.
    #[test]
    fn common_lookups_and_cursor_pages_use_indexes_on_postgres() {
        if let Some(postgres) = test_databases::postgres() {
            assert_lookups_use_indexes(&postgres.store);
        }
    }
}
