//! Translates a parsed SCIM filter (RFC 7644 §3.4.2.2) and a `sortBy` path into SQL.
//!
//! Common attributes use indexed columns (userName, externalId, displayName, id, meta dates) or
//! side tables (emails, memberships); everything else reads the JSON document with each
//! backend's JSON functions. Comparisons follow the attribute's type and `caseExact`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::connection::Backend;
use super::repository::{fold, format_timestamp};
use super::sql::Sql;
use super::StoreResult;
use crate::scim::error::ScimError;
use crate::scim::filter::{AttrPath, CompareOp, Filter};
use crate::scim::schema::{AttrType, AttributeDef, ResourceKind, ResourceSchema};
use crate::tenant::TenantId;

/// How a value is compared in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    /// Text; `folded` when the stored column already holds the lowercase form.
    Text {
        case_exact: bool,
        folded: bool,
    },
    Bool,
    Number,
    /// A timestamp column in our fixed-width format.
    Timestamp,
}

/// Where the compared value comes from.
#[derive(Debug, Clone)]
enum Operand {
    /// A column (or aliased column) name.
    Column(String),
    /// A JSON document column plus the key path inside it.
    Json { document: &'static str, keys: Vec<String> },
}

/// A side table holding one row per element of a multi-valued attribute.
struct SideTable {
    /// `SELECT <owner> FROM <table>` gives the ids of matching resources.
    table: &'static str,
    owner: &'static str,
    /// sub-attribute name (lowercase) -> column, kind
    columns: &'static [(&'static str, &'static str, ValueKind)],
}

const FOLDED_TEXT: ValueKind = ValueKind::Text { case_exact: false, folded: true };
const EXACT_TEXT: ValueKind = ValueKind::Text { case_exact: true, folded: false };
const LOOSE_TEXT: ValueKind = ValueKind::Text { case_exact: false, folded: false };

const USER_EMAILS: SideTable = SideTable {
    table: "user_emails",
    owner: "user_id",
    columns: &[
        ("value", "value_lower", FOLDED_TEXT),
        ("type", "email_type", LOOSE_TEXT),
        ("primary", "is_primary", ValueKind::Bool),
    ],
};
const USER_GROUPS: SideTable =
    SideTable { table: "memberships", owner: "member_id", columns: &[("value", "group_id", EXACT_TEXT)] };
const GROUP_MEMBERS: SideTable = SideTable {
    table: "memberships",
    owner: "group_id",
    columns: &[("value", "member_id", EXACT_TEXT), ("type", "member_type", LOOSE_TEXT)],
};

fn side_table(kind: ResourceKind, attr: &str) -> Option<&'static SideTable> {
    match (kind, attr.to_ascii_lowercase().as_str()) {
        (ResourceKind::User, "emails") => Some(&USER_EMAILS),
        (ResourceKind::User, "groups") => Some(&USER_GROUPS),
        (ResourceKind::Group, "members") => Some(&GROUP_MEMBERS),
        _ => None,
    }
}

/// Indexed columns of the resource tables.
fn column(kind: ResourceKind, path: &AttrPath) -> Option<(&'static str, ValueKind)> {
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    match (kind, name.as_str(), sub.as_deref()) {
        (_, "id", None) => Some(("id", EXACT_TEXT)),
        (_, "externalid", None) => Some(("external_id", EXACT_TEXT)),
        (_, "meta", Some("created")) => Some(("created", ValueKind::Timestamp)),
        (_, "meta", Some("lastmodified")) => Some(("last_modified", ValueKind::Timestamp)),
        (ResourceKind::User, "username", None) => Some(("user_name_lower", FOLDED_TEXT)),
        (ResourceKind::User, "active", None) => Some(("active", ValueKind::Bool)),
        (_, "displayname", None) => Some(("display_name_lower", FOLDED_TEXT)),
        _ => None,
    }
}

fn value_kind(def: &AttributeDef) -> StoreResult<ValueKind> {
    Ok(match def.attr_type {
        AttrType::Boolean => ValueKind::Bool,
        AttrType::Integer | AttrType::Decimal => ValueKind::Number,
        AttrType::Complex => {
            return Err(ScimError::invalid_filter(format!(
                "\"{}\" is a complex attribute: compare one of its sub-attributes",
                def.name
            ))
            .into())
        }
        _ => ValueKind::Text { case_exact: def.case_exact, folded: false },
    })
}

fn unknown(path: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!("unknown attribute \"{path}\""))
}

/// The JSON keys of an attribute inside the stored document: extension attributes live under
/// their schema URN.
fn document_keys(
    schema: &ResourceSchema,
    schema_id: &str,
    def: &AttributeDef,
    sub: Option<&AttributeDef>,
) -> Vec<String> {
    let mut keys = Vec::with_capacity(3);
    if !schema_id.eq_ignore_ascii_case(&schema.core.id) && schema.extension(schema_id).is_some() {
        keys.push(schema_id.to_string());
    }
    keys.push(def.name.clone());
    if let Some(sub) = sub {
        keys.push(sub.name.clone());
    }
    keys
}

/// Appends a SQL boolean expression for `filter` on one resource row.
pub(super) fn push_filter(
    sql: &mut Sql,
    schema: &ResourceSchema,
    tenant: &TenantId,
    filter: &Filter,
) -> StoreResult<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            sql.push("(");
            push_filter(sql, schema, tenant, a)?;
            sql.push(if matches!(filter, Filter::And(..)) { " AND " } else { " OR " });
            push_filter(sql, schema, tenant, b)?;
            sql.push(")");
        }
        Filter::Not(inner) => {
            // A missing attribute makes a comparison NULL; under NOT it must count as false, so
            // `not (title eq "x")` matches users without a title. Only here: elsewhere a bare
            // comparison keeps the indexes usable.
            sql.push("NOT COALESCE((");
            push_filter(sql, schema, tenant, inner)?;
            sql.push("), FALSE)");
        }
        Filter::Present(path) => push_attribute_test(sql, schema, tenant, path, None)?,
        Filter::Compare { path, op, value } => push_attribute_test(sql, schema, tenant, path, Some((*op, value)))?,
        Filter::ValuePath { path, inner } => push_value_path(sql, schema, tenant, path, inner)?,
    }
    Ok(())
}

/// `path op value` (or `path pr` when `test` is `None`) on the resource itself.
fn push_attribute_test(
    sql: &mut Sql,
    schema: &ResourceSchema,
    tenant: &TenantId,
    path: &AttrPath,
    test: Option<(CompareOp, &Value)>,
) -> StoreResult<()> {
    if path.name.eq_ignore_ascii_case("meta") && path.urn.is_none() {
        if let Some((name, kind)) = column(schema.kind, path) {
            return push_test(sql, &Operand::Column(name.to_string()), kind, test);
        }
        if path.sub_attr.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("resourceType")) {
            let resource_type = match schema.kind {
                ResourceKind::User => "User",
                ResourceKind::Group => "Group",
            };
            let holds = match test {
                None => true,
                Some((op, value)) => compare_constant(resource_type, op, value),
            };
            sql.push(if holds { "1 = 1" } else { "1 = 0" });
            return Ok(());
        }
        return Err(unknown(path).into());
    }
    let resolved = schema.resolve(path).ok_or_else(|| unknown(path))?;
    let is_core = resolved.schema_id.eq_ignore_ascii_case(&schema.core.id) || path.urn.is_none();
    if is_core {
        if let Some((name, kind)) = column(schema.kind, path) {
            return push_test(sql, &Operand::Column(name.to_string()), kind, test);
        }
    }
    if resolved.def.multi_valued {
        // `emails.value eq x` means: some element of emails has value eq x; `emails eq x`
        // compares each element's `value` (RFC 7644 §3.4.2.2).
        let sub = match (resolved.sub, resolved.def.attr_type) {
            (Some(sub), _) => Some(sub.name.clone()),
            (None, AttrType::Complex) if test.is_some() => Some("value".to_string()),
            (None, _) => None,
        };
        let element_path = AttrPath { urn: path.urn.clone(), name: resolved.def.name.clone(), sub_attr: None };
        let inner = match (sub, test) {
            (Some(sub), Some((op, value))) => Some(Filter::Compare {
                path: AttrPath { urn: None, name: sub, sub_attr: None },
                op,
                value: value.clone(),
            }),
            (Some(sub), None) => Some(Filter::Present(AttrPath { urn: None, name: sub, sub_attr: None })),
            (None, _) => None,
        };
        return push_elements_exist(sql, schema, tenant, &element_path, inner.as_ref());
    }
    let keys = document_keys(schema, resolved.schema_id, resolved.def, resolved.sub);
    let def = resolved.sub.unwrap_or(resolved.def);
    if def.attr_type == AttrType::Complex {
        if test.is_none() {
            return push_test(sql, &Operand::Json { document: "data", keys }, LOOSE_TEXT, None);
        }
        return Err(value_kind(def).unwrap_err());
    }
    push_test(sql, &Operand::Json { document: "data", keys }, value_kind(def)?, test)
}

/// `attr[inner]`: some element of the multi-valued `attr` satisfies `inner`.
fn push_value_path(
    sql: &mut Sql,
    schema: &ResourceSchema,
    tenant: &TenantId,
    path: &AttrPath,
    inner: &Filter,
) -> StoreResult<()> {
    let resolved = schema.resolve(path).ok_or_else(|| unknown(path))?;
    if !resolved.def.multi_valued || resolved.sub.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "\"{path}\" is not a multi-valued attribute, so it takes no [filter]"
        ))
        .into());
    }
    push_elements_exist(sql, schema, tenant, path, Some(inner))
}

fn push_elements_exist(
    sql: &mut Sql,
    schema: &ResourceSchema,
    tenant: &TenantId,
    path: &AttrPath,
    inner: Option<&Filter>,
) -> StoreResult<()> {
    let resolved = schema.resolve(path).ok_or_else(|| unknown(path))?;
    let is_core = path.urn.is_none() || resolved.schema_id.eq_ignore_ascii_case(&schema.core.id);
    if let Some(table) = is_core.then(|| side_table(schema.kind, &resolved.def.name)).flatten() {
        if inner.is_none_or(|f| side_table_covers(table, f)) {
            sql.push("id IN (SELECT ").push(table.owner).push(" FROM ").push(table.table);
            sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str());
            if let Some(inner) = inner {
                sql.push(" AND (");
                push_element_filter(sql, &ElementScope::Table(table), inner)?;
                sql.push(")");
            }
            sql.push(")");
            return Ok(());
        }
        if resolved.def.name != "emails" {
            return Err(ScimError::invalid_filter(format!("unsupported filter inside \"{path}[...]\"")).into());
        }
    }
    let keys = document_keys(schema, resolved.schema_id, resolved.def, None);
    match sql.backend() {
        Backend::Sqlite => {
            sql.push("EXISTS (SELECT 1 FROM json_each(data, ").bind_text(sqlite_json_path(&keys)).push(") AS e");
        }
        Backend::Postgres => {
            sql.push("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data #> ");
            sql.bind_text(pg_text_array(&keys)).push("::text[]) = 'array' THEN data #> ");
            sql.bind_text(pg_text_array(&keys)).push("::text[] ELSE '[]'::jsonb END) AS e(value)");
        }
    }
    if let Some(inner) = inner {
        sql.push(" WHERE ");
        push_element_filter(sql, &ElementScope::Json(resolved.def), inner)?;
    }
    sql.push(")");
    Ok(())
}

/// What the paths inside a `[...]` filter refer to.
enum ElementScope<'a> {
    Table(&'static SideTable),
    Json(&'a AttributeDef),
}

fn side_table_covers(table: &SideTable, filter: &Filter) -> bool {
    let known =
        |p: &AttrPath| p.sub_attr.is_none() && table.columns.iter().any(|(name, ..)| p.name.eq_ignore_ascii_case(name));
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => side_table_covers(table, a) && side_table_covers(table, b),
        Filter::Not(f) => side_table_covers(table, f),
        Filter::Present(p) | Filter::Compare { path: p, .. } => known(p),
        Filter::ValuePath { .. } => false,
    }
}

fn push_element_filter(sql: &mut Sql, scope: &ElementScope<'_>, filter: &Filter) -> StoreResult<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            sql.push("(");
            push_element_filter(sql, scope, a)?;
            sql.push(if matches!(filter, Filter::And(..)) { " AND " } else { " OR " });
            push_element_filter(sql, scope, b)?;
            sql.push(")");
            Ok(())
        }
        Filter::Not(inner) => {
            sql.push("NOT COALESCE((");
            push_element_filter(sql, scope, inner)?;
            sql.push("), FALSE)");
            Ok(())
        }
        Filter::ValuePath { path, .. } => {
            Err(ScimError::invalid_filter(format!("\"{path}[...]\" cannot be nested inside another [filter]")).into())
        }
        Filter::Present(path) => push_element_test(sql, scope, path, None),
        Filter::Compare { path, op, value } => push_element_test(sql, scope, path, Some((*op, value))),
    }
}

fn push_element_test(
    sql: &mut Sql,
    scope: &ElementScope<'_>,
    path: &AttrPath,
    test: Option<(CompareOp, &Value)>,
) -> StoreResult<()> {
    match scope {
        ElementScope::Table(table) => {
            let (_, column, kind) = table
                .columns
                .iter()
                .find(|(name, ..)| path.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| unknown(path))?;
            push_test(sql, &Operand::Column((*column).to_string()), *kind, test)
        }
        ElementScope::Json(parent) => {
            let sub = parent.sub_attribute(&path.name).ok_or_else(|| {
                ScimError::invalid_filter(format!("\"{}\" has no sub-attribute \"{}\"", parent.name, path.name))
            })?;
            let keys = vec![sub.name.clone()];
            push_test(sql, &Operand::Json { document: "e.value", keys }, value_kind(sub)?, test)
        }
    }
}

fn sqlite_json_path(keys: &[String]) -> String {
    let mut path = String::from("$");
    for key in keys {
        path.push_str(".\"");
        path.push_str(key);
        path.push('"');
    }
    path
}

fn pg_text_array(keys: &[String]) -> String {
    let quoted: Vec<String> =
        keys.iter().map(|k| format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("{{{}}}", quoted.join(","))
}

fn push_operand(sql: &mut Sql, operand: &Operand) {
    match operand {
        Operand::Column(name) => {
            sql.push(name);
        }
        Operand::Json { document, keys } => match sql.backend() {
            Backend::Sqlite => {
                sql.push("json_extract(").push(document).push(", ").bind_text(sqlite_json_path(keys)).push(")");
            }
            Backend::Postgres => {
                sql.push("(").push(document).push(" #>> ").bind_text(pg_text_array(keys)).push("::text[])");
            }
        },
    }
}

fn comparison_value_error(op: CompareOp, value: &Value, expected: &str) -> ScimError {
    ScimError::invalid_filter(format!("the \"{}\" operator needs {expected}, got {value}", op_name(op)))
}

fn op_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
        CompareOp::Co => "co",
        CompareOp::Sw => "sw",
        CompareOp::Ew => "ew",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
    }
}

/// Appends `operand op value` (or `operand pr`) as a plain comparison, so an indexed column stays
/// usable; a missing value yields NULL, which `NOT` turns into false (see `push_filter`).
fn push_test(sql: &mut Sql, operand: &Operand, kind: ValueKind, test: Option<(CompareOp, &Value)>) -> StoreResult<()> {
    sql.push("(");
    let Some((op, value)) = test else {
        push_operand(sql, operand);
        sql.push(" IS NOT NULL");
        if matches!(kind, ValueKind::Text { .. }) {
            sql.push(" AND ");
            push_operand(sql, operand);
            sql.push(" <> ''");
        }
        sql.push(")");
        return Ok(());
    };
    if value.is_null() {
        push_operand(sql, operand);
        match op {
            CompareOp::Eq => sql.push(" IS NULL"),
            CompareOp::Ne => sql.push(" IS NOT NULL"),
            _ => return Err(comparison_value_error(op, value, "a non-null value").into()),
        };
        sql.push(")");
        return Ok(());
    }
    match kind {
        ValueKind::Bool => {
            let Some(flag) = value.as_bool() else {
                return Err(comparison_value_error(op, value, "true or false").into());
            };
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(ScimError::invalid_filter("booleans can only be compared with eq or ne").into());
            }
            push_operand(sql, operand);
            sql.push(if op == CompareOp::Eq { " = " } else { " <> " });
            match (operand, sql.backend()) {
                (Operand::Json { .. }, Backend::Postgres) => sql.bind_text(flag.to_string()),
                _ => sql.bind_int(i64::from(flag)),
            };
        }
        ValueKind::Number => {
            let Some(number) = value.as_f64() else {
                return Err(comparison_value_error(op, value, "a number").into());
            };
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(ScimError::invalid_filter("co, sw and ew only apply to strings").into());
            }
            let cast = match sql.backend() {
                Backend::Sqlite => "REAL",
                Backend::Postgres => "double precision",
            };
            sql.push("CAST(");
            push_operand(sql, operand);
            sql.push(" AS ").push(cast).push(") ").push(ordering_sql(op)).push(" CAST(");
            sql.bind_text(number.to_string()).push(" AS ").push(cast).push(")");
        }
        ValueKind::Timestamp => {
            let text = value.as_str().ok_or_else(|| comparison_value_error(op, value, "a dateTime string"))?;
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|_| ScimError::invalid_filter(format!("\"{text}\" is not an RFC 3339 dateTime")))?;
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(ScimError::invalid_filter("co, sw and ew only apply to strings").into());
            }
            push_operand(sql, operand);
            sql.push(" ").push(ordering_sql(op)).push(" ");
            sql.bind_text(format_timestamp(at.with_timezone(&Utc)));
        }
        ValueKind::Text { case_exact, folded } => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(comparison_value_error(op, value, "a string").into()),
            };
            let text = if case_exact { text } else { fold(&text) };
            let lower_operand = !case_exact && !folded;
            let push_lhs = |sql: &mut Sql| {
                if lower_operand {
                    sql.push("lower(");
                    push_operand(sql, operand);
                    sql.push(")");
                } else {
                    push_operand(sql, operand);
                }
            };
            match op {
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                    let (prefix, suffix) = match op {
                        CompareOp::Co => (true, true),
                        CompareOp::Sw => (false, true),
                        _ => (true, false),
                    };
                    push_lhs(sql);
                    if case_exact && sql.backend() == Backend::Sqlite {
                        // SQLite's LIKE ignores ASCII case; GLOB is its case-sensitive match.
                        let pattern = wrap(&escape_glob(&text), "*", prefix, suffix);
                        sql.push(" GLOB ").bind_text(pattern);
                    } else {
                        let pattern = wrap(&escape_like(&text), "%", prefix, suffix);
                        sql.push(" LIKE ").bind_text(pattern).push(" ESCAPE '\\'");
                    }
                }
                _ => {
                    push_lhs(sql);
                    sql.push(" ").push(ordering_sql(op)).push(" ").bind_text(text);
                }
            }
        }
    }
    sql.push(")");
    Ok(())
}

fn wrap(core: &str, wildcard: &str, prefix: bool, suffix: bool) -> String {
    let mut out = String::with_capacity(core.len() + 2);
    if prefix {
        out.push_str(wildcard);
    }
    out.push_str(core);
    if suffix {
        out.push_str(wildcard);
    }
    out
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

fn ordering_sql(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "=",
    }
}

fn compare_constant(actual: &str, op: CompareOp, value: &Value) -> bool {
    let Some(expected) = value.as_str() else {
        return false;
    };
    let (a, e) = (actual.to_lowercase(), expected.to_lowercase());
    match op {
        CompareOp::Eq => a == e,
        CompareOp::Ne => a != e,
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        CompareOp::Gt => a > e,
        CompareOp::Ge => a >= e,
        CompareOp::Lt => a < e,
        CompareOp::Le => a <= e,
    }
}

/// Appends the ORDER BY expression for `sortBy` (RFC 7644 §3.4.2.3): a multi-valued attribute
/// sorts by its first element's value.
pub(super) fn push_sort_key(sql: &mut Sql, schema: &ResourceSchema, path: &AttrPath) -> StoreResult<()> {
    if path.urn.is_none() {
        if let Some((name, _)) = column(schema.kind, path) {
            sql.push(name);
            return Ok(());
        }
    }
    let bad = || ScimError::invalid_value(format!("sortBy: \"{path}\" is not a sortable attribute"));
    let resolved = schema.resolve(path).ok_or_else(bad)?;
    let mut keys = document_keys(schema, resolved.schema_id, resolved.def, None);
    if resolved.def.multi_valued {
        keys.push("0".to_string());
        keys.push(resolved.sub.map_or_else(|| "value".to_string(), |s| s.name.clone()));
    } else if let Some(sub) = resolved.sub {
        keys.push(sub.name.clone());
    } else if resolved.def.attr_type == AttrType::Complex {
        return Err(bad().into());
    }
    let json_path = match sql.backend() {
        Backend::Sqlite => {
            let mut p = String::from("$");
            for k in &keys {
                if k == "0" {
                    p.push_str("[0]");
                } else {
                    p.push_str(&format!(".\"{k}\""));
                }
            }
            p
        }
        Backend::Postgres => pg_text_array(&keys),
    };
    let case_exact = resolved.sub.unwrap_or(resolved.def).case_exact;
    if !case_exact {
        sql.push("lower(");
    }
    match sql.backend() {
        Backend::Sqlite => sql.push("json_extract(data, ").bind_text(json_path).push(")"),
        Backend::Postgres => sql.push("(data #>> ").bind_text(json_path).push("::text[])"),
    };
    if !case_exact {
        sql.push(")");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_and_glob_patterns_escape_their_wildcards() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(escape_glob("a*b?[c"), "a[*]b[?][[]c");
        assert_eq!(wrap("x", "%", true, false), "%x");
    }

    #[test]
    fn json_paths_quote_every_key() {
        let keys =
            vec!["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string(), "department".to_string()];
        assert_eq!(
            sqlite_json_path(&keys),
            "$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".\"department\""
        );
        assert_eq!(
            pg_text_array(&keys),
            "{\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\",\"department\"}"
        );
    }
}
