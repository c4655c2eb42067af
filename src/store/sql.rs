//! A small SQL text builder with bind values, emitting each backend's placeholder syntax.
//!
//! Dynamic queries (filters, sorting, paging) are assembled here instead of through diesel's DSL
//! because their shape depends on the request; every value still travels as a bind parameter.

use std::io::Write as _;

use diesel::backend::Backend as DieselBackend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text, Untyped};
use diesel::sqlite::Sqlite;

use super::connection::{Backend, DbConn};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// The SQL type of a column a multi-row insert fills ([`Sql::push_rows`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnType {
    Text,
    SmallInt,
    BigInt,
    Jsonb,
}

impl ColumnType {
    fn postgres_name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::SmallInt => "smallint",
            ColumnType::BigInt => "bigint",
            ColumnType::Jsonb => "jsonb",
        }
    }
}

/// One value of a row a multi-row insert writes.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Json(&'a serde_json::Value),
}

/// SQL text plus its binds, for one backend.
#[derive(Debug, Clone)]
pub struct Sql {
    backend: Backend,
    text: String,
    binds: Vec<Bind>,
    /// Where each bind's placeholder sits in `text` (byte range), so diesel can write its own.
    placeholders: Vec<std::ops::Range<usize>>,
    /// Whether the connection keeps this statement prepared for the next query of the same text.
    reuse_prepared: bool,
}

/// An [`Sql`] as a diesel query. Unlike `diesel::sql_query`, it lets the connection's statement
/// cache (keyed by the SQL text) keep the prepared statement when the query is marked
/// [`Sql::reuse_prepared`], which saves SQLite's parse and plan (28% of a GET's instructions,
/// docs/benchmarks.md) and a PostgreSQL parse round trip.
struct Statement<'s>(&'s Sql);

impl<DB> QueryFragment<DB> for Statement<'_>
where
    DB: DieselBackend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if !self.0.reuse_prepared {
            out.unsafe_to_cache_prepared();
        }
        // diesel writes each placeholder itself (the same `?` or `$n` as in `text`).
        let text = &self.0.text;
        let mut written = 0;
        for (bind, placeholder) in self.0.binds.iter().zip(&self.0.placeholders) {
            out.push_sql(&text[written..placeholder.start]);
            match bind {
                Bind::Text(v) => out.push_bind_param::<Text, String>(v)?,
                Bind::OptText(v) => out.push_bind_param::<Nullable<Text>, Option<String>>(v)?,
                Bind::Int(v) => out.push_bind_param::<BigInt, i64>(v)?,
            }
            written = placeholder.end;
        }
        out.push_sql(&text[written..]);
        Ok(())
    }
}

impl QueryId for Statement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Statement<'_> {
    type SqlType = Untyped;
}

impl<C> RunQueryDsl<C> for Statement<'_> {}

impl Sql {
    pub fn new(backend: Backend) -> Sql {
        Sql {
            backend,
            text: String::with_capacity(256),
            binds: Vec::new(),
            placeholders: Vec::new(),
            reuse_prepared: false,
        }
    }

    /// Keeps this statement prepared on the connection for reuse. Only for queries whose text
    /// comes from a small fixed set: each distinct text stays cached for the connection's life.
    pub fn reuse_prepared(&mut self) -> &mut Sql {
        self.reuse_prepared = true;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Appends literal SQL text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: Bind) -> &mut Sql {
        self.binds.push(value);
        let start = self.text.len();
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.binds.len().to_string());
            }
        }
        self.placeholders.push(start..self.text.len());
        self
    }

    pub fn bind_text(&mut self, value: impl Into<String>) -> &mut Sql {
        self.bind(Bind::Text(value.into()))
    }

    pub fn bind_opt(&mut self, value: Option<impl Into<String>>) -> &mut Sql {
        self.bind(Bind::OptText(value.map(Into::into)))
    }

    pub fn bind_int(&mut self, value: i64) -> &mut Sql {
        self.bind(Bind::Int(value))
    }

    /// A placeholder for a JSON document (JSONB on PostgreSQL, TEXT on SQLite).
    pub fn bind_json(&mut self, value: &serde_json::Value) -> &mut Sql {
        match self.backend {
            Backend::Sqlite => self.bind_text(value.to_string()),
            Backend::Postgres => {
                self.push("CAST(");
                self.bind_text(value.to_string());
                self.push(" AS jsonb)")
            }
        }
    }

    /// The rows of a multi-row `INSERT INTO table (columns) ...`, each holding one cell per
    /// column. SQLite gets `VALUES (?, ...), ...`. PostgreSQL gets the rows as one JSON parameter
    /// read by `json_to_recordset`: binding and planning a statement of thousands of parameters
    /// cost more than inserting its rows (docs/benchmarks-import.md), and the statement's text
    /// is then the same for any number of rows, so it stays prepared.
    pub fn push_rows<'c, const N: usize>(
        &mut self,
        columns: &[(&str, ColumnType); N],
        rows: impl IntoIterator<Item = [Cell<'c>; N]>,
    ) -> &mut Sql {
        match self.backend {
            Backend::Sqlite => {
                self.push("VALUES ");
                for (i, row) in rows.into_iter().enumerate() {
                    self.push(if i == 0 { "(" } else { ", (" });
                    for (j, cell) in row.iter().enumerate() {
                        if j > 0 {
                            self.push(", ");
                        }
                        match *cell {
                            Cell::Text(value) => self.bind_text(value),
                            Cell::OptText(value) => self.bind_opt(value),
                            Cell::Int(value) => self.bind_int(value),
                            Cell::OptInt(Some(value)) => self.bind_int(value),
                            Cell::OptInt(None) => self.push("NULL"),
                            Cell::Json(value) => self.bind_json(value),
                        };
                    }
                    self.push(")");
                }
                self
            }
            Backend::Postgres => {
                let mut document = Vec::with_capacity(256);
                document.push(b'[');
                for (i, row) in rows.into_iter().enumerate() {
                    document.extend_from_slice(if i == 0 { b"{" } else { b",{" });
                    for (j, cell) in row.iter().enumerate() {
                        if j > 0 {
                            document.push(b',');
                        }
                        write!(document, "\"c{j}\":").expect("writing to memory does not fail");
                        let written = match *cell {
                            Cell::Text(value) | Cell::OptText(Some(value)) => {
                                serde_json::to_writer(&mut document, value)
                            }
                            Cell::Int(value) | Cell::OptInt(Some(value)) => {
                                serde_json::to_writer(&mut document, &value)
                            }
                            Cell::Json(value) => serde_json::to_writer(&mut document, value),
                            Cell::OptText(None) | Cell::OptInt(None) => serde_json::to_writer(&mut document, &()),
                        };
                        written.expect("serialising to memory does not fail");
                    }
                    document.push(b'}');
                }
                document.push(b']');
                let document = String::from_utf8(document).expect("serde_json writes UTF-8");
                self.push("SELECT * FROM json_to_recordset(CAST(").bind_text(document).push(" AS json)) AS rows (");
                for (j, (_, column_type)) in columns.iter().enumerate() {
                    if j > 0 {
                        self.push(", ");
                    }
                    self.push(&format!("c{j} ")).push(column_type.postgres_name());
                }
                self.push(")").reuse_prepared()
            }
        }
    }

    /// `INSERT INTO table (columns) ` followed by [`Sql::push_rows`].
    pub fn insert_rows<'c, const N: usize>(
        &mut self,
        table: &str,
        columns: &[(&str, ColumnType); N],
        rows: impl IntoIterator<Item = [Cell<'c>; N]>,
    ) -> &mut Sql {
        self.push("INSERT INTO ").push(table).push(" (");
        for (j, (name, _)) in columns.iter().enumerate() {
            if j > 0 {
                self.push(", ");
            }
            self.push(name);
        }
        self.push(") ").push_rows(columns, rows)
    }

    /// A comma-separated list of text placeholders, for `IN (...)`.
    pub fn bind_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Sql {
        let mut first = true;
        for value in values {
            if !first {
                self.push(", ");
            }
            first = false;
            self.bind_text(value);
        }
        if first {
            self.push("NULL");
        }
        self
    }

    /// An `IN (...)` list of `values`, padded to a power of two by repeating the last value
    /// (which changes no match) so that its text has one of a few shapes, and kept prepared.
    /// `values` must hold at most [`super::batches::CHUNK`] values.
    pub fn bind_padded_list(&mut self, values: &[&str]) -> &mut Sql {
        let (padded_len, last) = match values.last() {
            Some(last) => (values.len().next_power_of_two(), *last),
            None => (0, ""),
        };
        self.bind_list(values.iter().copied().chain(std::iter::repeat_n(last, padded_len - values.len())));
        self.reuse_prepared()
    }

    /// A query of the rows whose `column` is one of `values` (distinct, at most
    /// [`super::batches::CHUNK`]: a chunk of [`super::batches::distinct_chunks`]):
    /// `select` pushes its `SELECT ... WHERE` and conditions, to which this adds the match on
    /// `column`; an `ORDER BY` of the select's own columns may follow. On PostgreSQL it is one
    /// index probe per value: for an `IN` list of a batch's thousand values its planner prefers
    /// reading every row of the tenant (it prices the list above a scan), so each batch of a
    /// large import read more rows than the one before (25 ms per lookup at 100,000 users, 6 ms
    /// probed); `OFFSET 0` keeps the lateral subquery from being flattened back into that plan.
    pub fn push_matching(&mut self, column: &str, values: &[&str], select: impl FnOnce(&mut Sql)) -> &mut Sql {
        match self.backend {
            Backend::Postgres => {
                let values = serde_json::Value::from(values).to_string();
                self.push("SELECT found.* FROM json_array_elements_text(CAST(").bind_text(values);
                self.push(" AS json)) AS probe(probe_key) CROSS JOIN LATERAL (");
                select(self);
                self.push(" AND ").push(column).push(" = probe.probe_key OFFSET 0) AS found").reuse_prepared()
            }
            Backend::Sqlite => {
                select(self);
                self.push(" AND ").push(column).push(" IN (").bind_padded_list(values).push(")")
            }
        }
    }

    /// The JSON document column as text, whatever its storage type.
    pub fn json_column(&mut self, column: &str) -> &mut Sql {
        match self.backend {
            Backend::Sqlite => self.push(column),
            Backend::Postgres => {
                self.push(column);
                self.push("::text")
            }
        }
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn execute(&self, conn: &mut DbConn<'_>) -> QueryResult<usize> {
        match conn {
            DbConn::Sqlite(c) => Statement(self).execute(*c),
            DbConn::Postgres(c) => Statement(self).execute(*c),
        }
    }

    pub fn load<R>(&self, conn: &mut DbConn<'_>) -> QueryResult<Vec<R>>
    where
        R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        match conn {
            DbConn::Sqlite(c) => Statement(self).load::<R>(*c),
            DbConn::Postgres(c) => Statement(self).load::<R>(*c),
        }
    }

    pub fn first<R>(&self, conn: &mut DbConn<'_>) -> QueryResult<Option<R>>
    where
        R: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        Ok(self.load(conn)?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut sqlite = Sql::new(Backend::Sqlite);
        sqlite.push("a = ").bind_text("x").push(" AND b = ").bind_int(1);
        assert_eq!(sqlite.text(), "a = ? AND b = ?");
        let mut pg = Sql::new(Backend::Postgres);
        pg.push("a = ").bind_text("x").push(" AND b IN (").bind_list(["p", "q"]).push(")");
        assert_eq!(pg.text(), "a = $1 AND b IN ($2, $3)");
    }

    #[test]
    fn padded_lists_repeat_their_last_value_up_to_a_power_of_two() {
        let mut sql = Sql::new(Backend::Sqlite);
        sql.push("id IN (").bind_padded_list(&["a", "b", "c"]).push(")");
        assert_eq!(sql.text(), "id IN (?, ?, ?, ?)");
        assert_eq!(sql.binds, ["a", "b", "c", "c"].map(|v| Bind::Text(v.into())));
        assert!(sql.reuse_prepared);
        let mut one = Sql::new(Backend::Sqlite);
        one.bind_padded_list(&["a"]);
        assert_eq!(one.text(), "?");
    }

    #[test]
    fn rows_are_values_on_sqlite_and_one_json_parameter_on_postgres() {
        const COLUMNS: [(&str, ColumnType); 4] =
            [("a", ColumnType::Text), ("b", ColumnType::BigInt), ("c", ColumnType::Jsonb), ("d", ColumnType::Text)];
        let data = serde_json::json!({"k": "v\"w"});
        let rows = || {
            [
                [Cell::Text("x"), Cell::Int(1), Cell::Json(&data), Cell::OptText(None)],
                [Cell::Text("é\n"), Cell::OptInt(None), Cell::Json(&data), Cell::OptText(Some("z"))],
            ]
        };
        let mut sqlite = Sql::new(Backend::Sqlite);
        sqlite.insert_rows("t", &COLUMNS, rows());
        assert_eq!(sqlite.text(), "INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?), (?, NULL, ?, ?)");
        assert_eq!(sqlite.binds.len(), 7);
        let mut pg = Sql::new(Backend::Postgres);
        pg.insert_rows("t", &COLUMNS, rows());
        assert_eq!(
            pg.text(),
            "INSERT INTO t (a, b, c, d) SELECT * FROM json_to_recordset(CAST($1 AS json)) AS rows (c0 text, c1 bigint, \
             c2 jsonb, c3 text)"
        );
        let Bind::Text(document) = &pg.binds[0] else { panic!("one text parameter") };
        let parsed: serde_json::Value = serde_json::from_str(document).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([
                {"c0": "x", "c1": 1, "c2": {"k": "v\"w"}, "c3": null},
                {"c0": "é\n", "c1": null, "c2": {"k": "v\"w"}, "c3": "z"}
            ])
        );
        assert!(pg.reuse_prepared);
    }

    #[test]
    fn json_parameters_are_cast_on_postgres() {
        let mut pg = Sql::new(Backend::Postgres);
        pg.bind_json(&serde_json::json!({"a": 1}));
        assert_eq!(pg.text(), "CAST($1 AS jsonb)");
    }
}
