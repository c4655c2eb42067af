//! A small SQL text builder with bind values, emitting each backend's placeholder syntax.
//!
//! Dynamic queries (filters, sorting, paging) are assembled here instead of through diesel's DSL
//! because their shape depends on the request; every value still travels as a bind parameter.

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
    fn json_parameters_are_cast_on_postgres() {
        let mut pg = Sql::new(Backend::Postgres);
        pg.bind_json(&serde_json::json!({"a": 1}));
        assert_eq!(pg.text(), "CAST($1 AS jsonb)");
    }
}
