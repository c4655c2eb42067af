//! Translates a parsed SCIM filter (RFC 7644 §3.4.2.2) and a `sortBy` path (§3.4.2.3) into SQL.
//!
//! Common attributes use indexed columns (userName, externalId, displayName, id, meta dates) or
//! side tables (emails, memberships); everything else reads the JSON document with each
//! backend's JSON functions. Comparisons follow the attribute's type and `caseExact`. Every
//! test is two-valued (never SQL NULL), so `not` also matches resources that lack the
//! attribute, and tests on non-null indexed columns stay plain comparisons an index can answer.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::connection::Backend;
use super::repository::{fold, format_timestamp};
use super::sql::Sql;
use super::{StoreError, StoreResult};
use crate::scim::error::ScimError;
use crate::scim::filter::{AttrPath, CompareOp, Filter};
use crate::scim::schema::{AttrType, AttributeDef, ResourceKind, ResourceSchema, Returned};
use crate::tenant::TenantId;

/// What an attribute name the resource type's schemas do not define means in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownAttributes {
    /// 400 `invalidFilter`: a filter on one resource type must name its attributes.
    Reject,
    /// The attribute is absent from every resource of the type: for filters at the server root,
    /// which span resource types with different schemas (RFC 7644 §3.4.2.1).
    Absent,
}

/// The resource type a filter is translated for.
pub(super) struct FilterScope<'a> {
    pub schema: &'a ResourceSchema,
    pub tenant: &'a TenantId,
    pub unknown: UnknownAttributes,
}

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
    /// An RFC 3339 dateTime in the JSON document, as sent (any offset, any precision): compared
    /// and sorted through [`push_instant`], never as text.
    Instant,
}

/// Where the compared value comes from.
#[derive(Debug, Clone)]
enum Operand {
    /// A column (or aliased column) name.
    Column(&'static str),
    /// A JSON document column plus the key path inside it.
    Json { document: &'static str, keys: Vec<String> },
}

/// A compared value: where it is, how it compares, and whether it may be missing (SQL NULL).
struct Target {
    operand: Operand,
    kind: ValueKind,
    nullable: bool,
}

/// An indexed column of a resource table.
#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    kind: ValueKind,
    nullable: bool,
}

/// A side table holding one row per element of a multi-valued attribute.
struct SideTable {
    /// `SELECT <owner> FROM <table>` gives the ids of matching resources.
    table: &'static str,
    owner: &'static str,
    /// sub-attribute name (lowercase) -> column
    columns: &'static [(&'static str, Column)],
}

const FOLDED_TEXT: ValueKind = ValueKind::Text { case_exact: false, folded: true };
const EXACT_TEXT: ValueKind = ValueKind::Text { case_exact: true, folded: false };
const LOOSE_TEXT: ValueKind = ValueKind::Text { case_exact: false, folded: false };

const fn required(name: &'static str, kind: ValueKind) -> Column {
    Column { name, kind, nullable: false }
}

const fn optional(name: &'static str, kind: ValueKind) -> Column {
    Column { name, kind, nullable: true }
}

const USER_EMAILS: SideTable = SideTable {
    table: "user_emails",
    owner: "user_id",
    columns: &[
        ("value", required("value_lower", FOLDED_TEXT)),
        ("type", optional("email_type", LOOSE_TEXT)),
        ("primary", required("is_primary", ValueKind::Bool)),
    ],
};
const USER_GROUPS: SideTable =
    SideTable { table: "memberships", owner: "member_id", columns: &[("value", required("group_id", EXACT_TEXT))] };
const GROUP_MEMBERS: SideTable = SideTable {
    table: "memberships",
    owner: "group_id",
    columns: &[("value", required("member_id", EXACT_TEXT)), ("type", required("member_type", LOOSE_TEXT))],
};

/// A user's groups with the sub-attributes derived from the group (`display`, `type`): a join,
/// used only by filters that name them.
const USER_GROUPS_DERIVED: SideTable = SideTable {
    table: "(SELECT m.tenant_id, m.member_id, m.group_id, g.display_name_lower, 'direct' AS membership_type \
            FROM memberships m JOIN scim_groups g ON g.id = m.group_id) AS user_groups",
    owner: "member_id",
    columns: &[
        ("value", required("group_id", EXACT_TEXT)),
        ("display", required("display_name_lower", FOLDED_TEXT)),
        ("type", required("membership_type", LOOSE_TEXT)),
    ],
};
/// A group's members with the `display` a response shows for each: a join, used only by filters
/// that name it.
const GROUP_MEMBERS_DERIVED: SideTable = SideTable {
    table: "(SELECT m.tenant_id, m.group_id, m.member_id, m.member_type, \
            COALESCE(m.display, u.display_name, u.user_name, g.display_name) AS member_display \
            FROM memberships m LEFT JOIN scim_users u ON u.id = m.member_id \
            LEFT JOIN scim_groups g ON g.id = m.member_id) AS group_members",
    owner: "group_id",
    columns: &[
        ("value", required("member_id", EXACT_TEXT)),
        ("type", required("member_type", LOOSE_TEXT)),
        ("display", optional("member_display", LOOSE_TEXT)),
    ],
};

/// The side tables holding a multi-valued attribute, cheapest first.
fn side_tables(kind: ResourceKind, attr: &str) -> &'static [&'static SideTable] {
    match (kind, attr.to_ascii_lowercase().as_str()) {
        (ResourceKind::User, "emails") => &[&USER_EMAILS],
        (ResourceKind::User, "groups") => &[&USER_GROUPS, &USER_GROUPS_DERIVED],
        (ResourceKind::Group, "members") => &[&GROUP_MEMBERS, &GROUP_MEMBERS_DERIVED],
        _ => &[],
    }
}

/// Indexed columns of the resource tables.
fn column(kind: ResourceKind, path: &AttrPath) -> Option<Column> {
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    match (kind, name.as_str(), sub.as_deref()) {
        (_, "id", None) => Some(required("id", EXACT_TEXT)),
        (_, "externalid", None) => Some(optional("external_id", EXACT_TEXT)),
        (_, "meta", Some("created")) => Some(required("created", ValueKind::Timestamp)),
        (_, "meta", Some("lastmodified")) => Some(required("last_modified", ValueKind::Timestamp)),
        (ResourceKind::User, "username", None) => Some(required("user_name_lower", FOLDED_TEXT)),
        (ResourceKind::User, "displayname", None) => Some(optional("display_name_lower", FOLDED_TEXT)),
        (ResourceKind::Group, "displayname", None) => Some(required("display_name_lower", FOLDED_TEXT)),
        _ => None,
    }
}

fn value_kind(def: &AttributeDef) -> StoreResult<ValueKind> {
    Ok(match def.attr_type {
        AttrType::Boolean => ValueKind::Bool,
        AttrType::Integer | AttrType::Decimal => ValueKind::Number,
        AttrType::DateTime => ValueKind::Instant,
        AttrType::Complex => return Err(complex_compared(def).into()),
        _ => ValueKind::Text { case_exact: def.case_exact, folded: false },
    })
}

fn complex_compared(def: &AttributeDef) -> ScimError {
    ScimError::invalid_filter(format!("\"{}\" is a complex attribute: compare one of its sub-attributes", def.name))
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

/// Appends a SQL boolean expression for `filter` on one resource row. The expression is never
/// NULL, so `NOT` inverts it exactly.
pub(super) fn push_filter(sql: &mut Sql, scope: &FilterScope<'_>, filter: &Filter) -> StoreResult<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            sql.push("(");
            push_filter(sql, scope, a)?;
            sql.push(if matches!(filter, Filter::And(..)) { " AND " } else { " OR " });
            push_filter(sql, scope, b)?;
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT (");
            push_filter(sql, scope, inner)?;
            sql.push(")");
        }
        Filter::Present(path) => push_attribute_test(sql, scope, path, None)?,
        Filter::Compare { path, op, value } => push_attribute_test(sql, scope, path, Some((*op, value)))?,
        Filter::ValuePath { path, inner } => push_value_path(sql, scope, path, inner)?,
    }
    Ok(())
}

/// Checks that `filter` can be translated for `schema`: 400 `invalidFilter` naming the first
/// problem otherwise.
pub fn check_filter(schema: &ResourceSchema, filter: &Filter) -> Result<(), ScimError> {
    let tenant = TenantId::parse("check").map_err(ScimError::invalid_value)?;
    let scope = FilterScope { schema, tenant: &tenant, unknown: UnknownAttributes::Reject };
    match push_filter(&mut Sql::new(Backend::Sqlite), &scope, filter) {
        Ok(()) => Ok(()),
        Err(StoreError::Query(error)) => Err(error),
        Err(other) => Err(ScimError::invalid_filter(other.to_string())),
    }
}

/// Checks that `path` can be sorted by for `schema`: 400 `invalidValue` naming the problem
/// otherwise (RFC 7644 §3.4.2.3).
pub fn check_sort(schema: &ResourceSchema, path: &AttrPath) -> Result<(), ScimError> {
    match sort_expression(schema, path, UnknownAttributes::Reject) {
        Ok(_) => Ok(()),
        Err(StoreError::Query(error)) => Err(error),
        Err(other) => Err(ScimError::invalid_value(other.to_string())),
    }
}

/// What a test on an attribute this resource type does not have yields: such an attribute is
/// absent, so only `ne` holds.
fn push_absent(sql: &mut Sql, scope: &FilterScope<'_>, path: &AttrPath, test: Option<CompareOp>) -> StoreResult<()> {
    if scope.unknown == UnknownAttributes::Reject {
        return Err(unknown(path).into());
    }
    sql.push(if test == Some(CompareOp::Ne) { "1 = 1" } else { "1 = 0" });
    Ok(())
}

/// `path op value` (or `path pr` when `test` is `None`) on the resource itself.
fn push_attribute_test(
    sql: &mut Sql,
    scope: &FilterScope<'_>,
    path: &AttrPath,
    test: Option<(CompareOp, &Value)>,
) -> StoreResult<()> {
    let schema = scope.schema;
    let is_meta = path.name.eq_ignore_ascii_case("meta")
        && path.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(&schema.core.id));
    if is_meta {
        if let Some(column) = column(schema.kind, path) {
            return push_test(sql, path, &column.into(), test);
        }
        if path.sub_attr.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("resourceType")) {
            let holds = match test {
                None => true,
                Some((op, value)) => compare_constant(resource_type_name(schema.kind), op, value),
            };
            sql.push(if holds { "1 = 1" } else { "1 = 0" });
            return Ok(());
        }
        if path.sub_attr.is_none() && test.is_none() {
            sql.push("1 = 1");
            return Ok(());
        }
        return Err(ScimError::invalid_filter(format!(
            "\"{path}\" cannot be filtered: use meta.created, meta.lastModified or meta.resourceType"
        ))
        .into());
    }
    let Some(resolved) = schema.resolve(path) else {
        return push_absent(sql, scope, path, test.map(|(op, _)| op));
    };
    if resolved.def.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!("\"{path}\" is never returned, so it cannot be filtered")).into());
    }
    let is_core = resolved.schema_id.eq_ignore_ascii_case(&schema.core.id);
    if is_core {
        if let Some(column) = column(schema.kind, path) {
            return push_test(sql, path, &column.into(), test);
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
        return push_elements_exist(sql, scope, &element_path, inner.as_ref());
    }
    let keys = document_keys(schema, resolved.schema_id, resolved.def, resolved.sub);
    let def = resolved.sub.unwrap_or(resolved.def);
    let operand = Operand::Json { document: "data", keys };
    if def.attr_type == AttrType::Complex {
        if test.is_some() {
            return Err(complex_compared(def).into());
        }
        return push_test(sql, path, &Target { operand, kind: LOOSE_TEXT, nullable: true }, None);
    }
    push_test(sql, path, &Target { operand, kind: value_kind(def)?, nullable: true }, test)
}

impl From<Column> for Target {
    fn from(column: Column) -> Target {
        Target { operand: Operand::Column(column.name), kind: column.kind, nullable: column.nullable }
    }
}

/// `attr[inner]`: some element of the multi-valued `attr` satisfies `inner`.
fn push_value_path(sql: &mut Sql, scope: &FilterScope<'_>, path: &AttrPath, inner: &Filter) -> StoreResult<()> {
    let Some(resolved) = scope.schema.resolve(path) else {
        return push_absent(sql, scope, path, None);
    };
    if !resolved.def.multi_valued || resolved.sub.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "\"{path}\" is not a multi-valued attribute, so it takes no [filter]"
        ))
        .into());
    }
    push_elements_exist(sql, scope, path, Some(inner))
}

fn push_elements_exist(
    sql: &mut Sql,
    scope: &FilterScope<'_>,
    path: &AttrPath,
    inner: Option<&Filter>,
) -> StoreResult<()> {
    let schema = scope.schema;
    let resolved = schema.resolve(path).ok_or_else(|| unknown(path))?;
    let is_core = resolved.schema_id.eq_ignore_ascii_case(&schema.core.id);
    let tables = if is_core { side_tables(schema.kind, &resolved.def.name) } else { &[] };
    if let Some(widest) = tables.last() {
        let covering = tables.iter().copied().find(|table| inner.is_none_or(|f| side_table_covers(table, f)));
        if let Some(table) = covering {
            sql.push("id IN (SELECT ").push(table.owner).push(" FROM ").push(table.table);
            sql.push(" WHERE tenant_id = ").bind_text(scope.tenant.as_str());
            if let Some(inner) = inner {
                sql.push(" AND ");
                push_element_filter(sql, &ElementScope::Table(table), inner)?;
            }
            sql.push(")");
            return Ok(());
        }
        if !resolved.def.name.eq_ignore_ascii_case("emails") {
            return Err(ScimError::invalid_filter(format!(
                "inside \"{path}[...]\" only {} can be filtered",
                widest.columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
    }
    let keys = document_keys(schema, resolved.schema_id, resolved.def, None);
    push_json_elements(sql, &keys);
    if let Some(inner) = inner {
        sql.push(" WHERE ");
        push_element_filter(sql, &ElementScope::Json(resolved.def), inner)?;
    }
    sql.push(")");
    Ok(())
}

/// Opens `EXISTS (SELECT 1 FROM <elements of the JSON array at keys> AS e` with `e.value`
/// holding each element; the caller adds an optional WHERE and the closing parenthesis.
fn push_json_elements(sql: &mut Sql, keys: &[String]) {
    sql.push("EXISTS (SELECT 1 FROM ");
    push_elements_source(sql, keys);
}

/// `<elements of the JSON array at keys> AS e`, each element as `e.value`.
fn push_elements_source(sql: &mut Sql, keys: &[String]) {
    match sql.backend() {
        Backend::Sqlite => {
            sql.push("json_each(data, ").bind_text(sqlite_json_path(keys)).push(") AS e");
        }
        Backend::Postgres => {
            sql.push("jsonb_array_elements(CASE WHEN jsonb_typeof(data #> ");
            sql.bind_text(pg_text_array(keys)).push("::text[]) = 'array' THEN data #> ");
            sql.bind_text(pg_text_array(keys)).push("::text[] ELSE '[]'::jsonb END) AS e(value)");
        }
    }
}

/// What the paths inside a `[...]` filter refer to.
enum ElementScope<'a> {
    Table(&'static SideTable),
    Json(&'a AttributeDef),
}

fn side_table_covers(table: &SideTable, filter: &Filter) -> bool {
    let known =
        |p: &AttrPath| p.sub_attr.is_none() && table.columns.iter().any(|(name, _)| p.name.eq_ignore_ascii_case(name));
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
            sql.push("NOT (");
            push_element_filter(sql, scope, inner)?;
            sql.push(")");
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
            let (_, column) = table
                .columns
                .iter()
                .find(|(name, _)| path.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| unknown(path))?;
            push_test(sql, path, &(*column).into(), test)
        }
        ElementScope::Json(parent) => {
            let sub = parent.sub_attribute(&path.name).ok_or_else(|| {
                ScimError::invalid_filter(format!("\"{}\" has no sub-attribute \"{}\"", parent.name, path.name))
            })?;
            let operand = Operand::Json { document: "e.value", keys: vec![sub.name.clone()] };
            push_test(sql, path, &Target { operand, kind: value_kind(sub)?, nullable: true }, test)
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

fn wrong_value(path: &AttrPath, op: CompareOp, value: &Value, expected: &str) -> ScimError {
    ScimError::invalid_filter(format!("\"{path} {op}\" needs {expected}, got {value}"))
}

fn text_only(path: &AttrPath, op: CompareOp, what: &str) -> ScimError {
    ScimError::invalid_filter(format!("\"{path}\" is {what}: co, sw and ew only apply to strings, not \"{op}\""))
}

/// The right-hand side of a comparison, checked against the attribute's type.
enum Rhs {
    Text(String),
    Int(i64),
    /// A number, bound as text and cast by SQL.
    Number(String),
    /// A dateTime, bound as sent and normalised by SQL exactly as the stored side is.
    Instant(String),
}

/// Appends `target op value` (or `target pr` when `test` is `None`) as a two-valued test: a
/// missing value makes every operator false except `ne` (as in the in-memory evaluator), so
/// `not (title eq "x")` matches a user without a title. Non-null columns get a plain comparison,
/// which the planner can answer from an index.
fn push_test(sql: &mut Sql, path: &AttrPath, target: &Target, test: Option<(CompareOp, &Value)>) -> StoreResult<()> {
    let operand = &target.operand;
    let Some((op, value)) = test else {
        sql.push("(");
        push_operand(sql, operand);
        sql.push(" IS NOT NULL");
        if matches!(target.kind, ValueKind::Text { .. }) {
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
            _ => return Err(wrong_value(path, op, value, "a value other than null").into()),
        };
        return Ok(());
    }
    let pattern = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let (rhs, fold_lhs) = match target.kind {
        ValueKind::Bool => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(ScimError::invalid_filter(format!(
                    "\"{path}\" is a boolean: it can only be compared with eq or ne, not \"{op}\""
                ))
                .into());
            }
            let flag = value.as_bool().ok_or_else(|| wrong_value(path, op, value, "true or false"))?;
            match (operand, sql.backend()) {
                (Operand::Json { .. }, Backend::Postgres) => (Rhs::Text(flag.to_string()), false),
                _ => (Rhs::Int(i64::from(flag)), false),
            }
        }
        ValueKind::Number => {
            if pattern {
                return Err(text_only(path, op, "a number").into());
            }
            let number = value.as_number().ok_or_else(|| wrong_value(path, op, value, "a number"))?;
            (Rhs::Number(number.to_string()), false)
        }
        ValueKind::Timestamp => {
            if pattern {
                return Err(text_only(path, op, "a dateTime").into());
            }
            let text = value.as_str().ok_or_else(|| wrong_value(path, op, value, "an RFC 3339 dateTime string"))?;
            let at = DateTime::parse_from_rfc3339(text).map_err(|_| {
                ScimError::invalid_filter(format!("\"{path} {op}\" needs an RFC 3339 dateTime, got \"{text}\""))
            })?;
            (Rhs::Text(format_timestamp(at.with_timezone(&Utc))), false)
        }
        ValueKind::Instant => {
            if pattern {
                return Err(text_only(path, op, "a dateTime").into());
            }
            let text = value.as_str().ok_or_else(|| wrong_value(path, op, value, "an RFC 3339 dateTime string"))?;
            DateTime::parse_from_rfc3339(text).map_err(|_| {
                ScimError::invalid_filter(format!("\"{path} {op}\" needs an RFC 3339 dateTime, got \"{text}\""))
            })?;
            (Rhs::Instant(text.to_string()), false)
        }
        ValueKind::Text { case_exact, folded } => {
            let text = value.as_str().ok_or_else(|| wrong_value(path, op, value, "a string in double quotes"))?;
            let text = if case_exact { text.to_string() } else { fold(text) };
            (Rhs::Text(text), !case_exact && !folded)
        }
    };
    let push_lhs = |sql: &mut Sql| {
        if fold_lhs {
            sql.push("lower(");
        }
        if matches!(target.kind, ValueKind::Number) {
            sql.push("CAST(");
            push_operand(sql, operand);
            let cast = number_type(sql.backend());
            sql.push(" AS ").push(cast).push(")");
        } else if target.kind == ValueKind::Instant {
            push_instant(sql, |sql| push_operand(sql, operand));
        } else {
            push_operand(sql, operand);
        }
        if fold_lhs {
            sql.push(")");
        }
    };
    let guard = target.nullable || fold_lhs;
    if guard {
        sql.push("(");
    }
    push_lhs(sql);
    match (rhs, op) {
        (Rhs::Text(text), CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
            let (prefix, suffix) = match op {
                CompareOp::Co => (true, true),
                CompareOp::Sw => (false, true),
                _ => (true, false),
            };
            let case_exact = matches!(target.kind, ValueKind::Text { case_exact: true, .. });
            if case_exact && sql.backend() == Backend::Sqlite {
                // SQLite's LIKE ignores ASCII case; GLOB is its case-sensitive match.
                sql.push(" GLOB ").bind_text(wrap(&escape_glob(&text), "*", prefix, suffix));
            } else {
                sql.push(" LIKE ").bind_text(wrap(&escape_like(&text), "%", prefix, suffix)).push(" ESCAPE '\\'");
            }
        }
        (_, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
            return Err(
                ScimError::invalid_filter(format!("co, sw and ew only apply to strings, not to \"{path}\"")).into()
            )
        }
        (Rhs::Text(text), _) => {
            sql.push(" ").push(ordering_sql(op)).push(" ").bind_text(text);
        }
        (Rhs::Int(n), _) => {
            sql.push(" ").push(ordering_sql(op)).push(" ").bind_int(n);
        }
        (Rhs::Instant(text), _) => {
            sql.push(" ").push(ordering_sql(op)).push(" ");
            push_instant(sql, |sql| {
                sql.bind_text(text);
            });
        }
        (Rhs::Number(n), _) => {
            let cast = number_type(sql.backend());
            sql.push(" ").push(ordering_sql(op)).push(" CAST(").bind_text(n).push(" AS ").push(cast).push(")");
        }
    }
    if guard {
        sql.push(if op == CompareOp::Ne { " OR " } else { " AND " });
        push_operand(sql, operand);
        sql.push(if op == CompareOp::Ne { " IS NULL)" } else { " IS NOT NULL)" });
    }
    Ok(())
}

/// `value` (RFC 3339 text) as the UTC instant in one fixed-width text form, millisecond
/// precision, so that text order is time order: `2026-03-01T10:00:00+02:00` and
/// `2026-03-01T08:00:00Z` become the same text. NULL for a missing value.
fn push_instant(sql: &mut Sql, value: impl FnOnce(&mut Sql)) {
    match sql.backend() {
        Backend::Sqlite => {
            sql.push("strftime('%Y-%m-%dT%H:%M:%fZ', ");
            value(sql);
            sql.push(")");
        }
        Backend::Postgres => {
            sql.push("to_char(CAST(");
            value(sql);
            sql.push(" AS timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
        }
    }
}

fn number_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "REAL",
        Backend::Postgres => "double precision",
    }
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

/// The value a listing is ordered by (RFC 7644 §3.4.2.3), as SQL that can be repeated in the
/// select list, the keyset condition and the ORDER BY of one query.
#[derive(Debug, Clone)]
pub(super) struct SortExpression {
    source: SortSource,
    kind: ValueKind,
    nullable: bool,
    /// No two rows of a tenant share a value (userName, id), so the value alone orders them.
    unique: bool,
}

#[derive(Debug, Clone)]
enum SortSource {
    Column(&'static str),
    /// A single-valued attribute in the JSON document.
    Json(Vec<String>),
    /// A multi-valued attribute: the `sub` of its primary element, else of its first
    /// (RFC 7644 §3.4.2.3); `sub` is `None` for arrays of simple values.
    Elements {
        keys: Vec<String>,
        sub: Option<String>,
    },
    /// An attribute this resource type does not have: every row sorts as missing.
    Missing,
}

impl SortExpression {
    /// Whether some rows may have no value (they sort last ascending, first descending).
    pub fn nullable(&self) -> bool {
        self.nullable
    }

    /// Whether this is `meta.created`, the order every listing falls back to anyway.
    pub fn is_creation_order(&self) -> bool {
        matches!(self.source, SortSource::Column("created"))
    }

    /// Whether the value alone orders the rows of a tenant, with no ties to break.
    pub fn unique(&self) -> bool {
        self.unique
    }

    /// Appends the expression.
    pub fn push(&self, sql: &mut Sql) {
        let fold = matches!(self.kind, ValueKind::Text { case_exact: false, folded: false });
        let number = self.kind == ValueKind::Number;
        if self.kind == ValueKind::Instant {
            let plain = SortExpression { kind: EXACT_TEXT, ..self.clone() };
            push_instant(sql, |sql| plain.push(sql));
            return;
        }
        if fold {
            sql.push("lower(");
        }
        if number {
            sql.push("CAST(");
        }
        match &self.source {
            SortSource::Column(name) => {
                sql.push(name);
            }
            SortSource::Json(keys) => push_operand(sql, &Operand::Json { document: "data", keys: keys.clone() }),
            SortSource::Elements { keys, sub } => push_primary_element(sql, keys, sub.as_deref()),
            SortSource::Missing => {
                sql.push("CAST(NULL AS TEXT)");
            }
        }
        if number {
            let cast = number_type(sql.backend());
            sql.push(" AS ").push(cast).push(")");
        }
        if fold {
            sql.push(")");
        }
    }

    /// Appends the expression as text, the form a cursor carries it in.
    pub fn push_as_text(&self, sql: &mut Sql) {
        sql.push("CAST(");
        self.push(sql);
        sql.push(" AS TEXT)");
    }

    /// Appends a bound value read back by [`Self::push_as_text`], cast back to the
    /// expression's type so that it compares as the expression does.
    pub fn bind_value(&self, sql: &mut Sql, text: &str) {
        let cast = match (self.kind, &self.source, sql.backend()) {
            (ValueKind::Number, _, backend) => Some(number_type(backend)),
            (ValueKind::Bool, SortSource::Column(_), _) | (ValueKind::Bool, _, Backend::Sqlite) => Some("INTEGER"),
            _ => None,
        };
        match cast {
            Some(cast) => {
                sql.push("CAST(").bind_text(text).push(" AS ").push(cast).push(")");
            }
            None => {
                sql.bind_text(text);
            }
        }
    }
}

/// `COALESCE(<sub of the element marked primary>, <sub of the first element>)`.
fn push_primary_element(sql: &mut Sql, keys: &[String], sub: Option<&str>) {
    let mut first = keys.to_vec();
    first.push("0".to_string());
    first.extend(sub.map(str::to_string));
    sql.push("COALESCE((SELECT ");
    match (sql.backend(), sub) {
        (Backend::Sqlite, Some(sub)) => {
            sql.push("json_extract(e.value, ").bind_text(sqlite_json_path(&[sub.to_string()])).push(")");
        }
        (Backend::Postgres, Some(sub)) => {
            sql.push("(e.value #>> ").bind_text(pg_text_array(&[sub.to_string()])).push("::text[])");
        }
        (Backend::Sqlite, None) => {
            sql.push("e.value");
        }
        (Backend::Postgres, None) => {
            sql.push("(e.value #>> '{}')");
        }
    }
    sql.push(" FROM ");
    push_elements_source(sql, keys);
    let primary = vec!["primary".to_string()];
    match sql.backend() {
        Backend::Sqlite => {
            sql.push(" WHERE json_extract(e.value, ").bind_text(sqlite_json_path(&primary)).push(") = 1 LIMIT 1), ");
            sql.push("json_extract(data, ").bind_text(sqlite_array_path(&first)).push("))");
        }
        Backend::Postgres => {
            sql.push(" WHERE (e.value #>> ").bind_text(pg_text_array(&primary)).push("::text[]) = 'true' LIMIT 1), ");
            sql.push("(data #>> ").bind_text(pg_text_array(&first)).push("::text[]))");
        }
    }
}

/// A SQLite JSON path in which the key `0` is an array index.
fn sqlite_array_path(keys: &[String]) -> String {
    let mut path = String::from("$");
    for key in keys {
        if key == "0" {
            path.push_str("[0]");
        } else {
            path.push_str(&format!(".\"{key}\""));
        }
    }
    path
}

/// The expression `sortBy` orders by (RFC 7644 §3.4.2.3): an indexed column where there is one,
/// else the JSON value; a multi-valued attribute sorts by its primary (else first) element.
pub(super) fn sort_expression(
    schema: &ResourceSchema,
    path: &AttrPath,
    unknown: UnknownAttributes,
) -> StoreResult<SortExpression> {
    let is_core = path.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(&schema.core.id));
    if is_core {
        if let Some(column) = column(schema.kind, path) {
            return Ok(SortExpression {
                source: SortSource::Column(column.name),
                kind: column.kind,
                nullable: column.nullable,
                unique: matches!(column.name, "id" | "user_name_lower"),
            });
        }
    }
    let bad = |why: &str| ScimError::invalid_value(format!("sortBy: \"{path}\" {why}"));
    let Some(resolved) = schema.resolve(path) else {
        return match unknown {
            UnknownAttributes::Reject => Err(bad("is not an attribute of this resource type").into()),
            UnknownAttributes::Absent => {
                Ok(SortExpression { source: SortSource::Missing, kind: EXACT_TEXT, nullable: true, unique: false })
            }
        };
    };
    if resolved.def.returned == Returned::Never {
        return Err(bad("is never returned, so it cannot be sorted by").into());
    }
    let keys = document_keys(schema, resolved.schema_id, resolved.def, None);
    let (source, def) = if resolved.def.multi_valued {
        let sub = match (resolved.sub, resolved.def.attr_type) {
            (Some(sub), _) => Some(sub),
            (None, AttrType::Complex) => {
                Some(resolved.def.sub_attribute("value").ok_or_else(|| bad("has no value sub-attribute to sort by"))?)
            }
            (None, _) => None,
        };
        (SortSource::Elements { keys, sub: sub.map(|s| s.name.clone()) }, sub.unwrap_or(resolved.def))
    } else {
        let def = resolved.sub.unwrap_or(resolved.def);
        let mut keys = keys;
        keys.extend(resolved.sub.map(|s| s.name.clone()));
        (SortSource::Json(keys), def)
    };
    let kind = match def.attr_type {
        AttrType::Complex => return Err(bad("is a complex attribute: sort by one of its sub-attributes").into()),
        AttrType::Boolean => ValueKind::Bool,
        AttrType::Integer | AttrType::Decimal => ValueKind::Number,
        AttrType::DateTime => ValueKind::Instant,
        _ => ValueKind::Text { case_exact: def.case_exact, folded: false },
    };
    Ok(SortExpression { source, kind, nullable: true, unique: false })
}

fn resource_type_name(kind: ResourceKind) -> &'static str {
    crate::scim::render::resource_type_name(kind)
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
