//! The PATCH engine (RFC 7644 §3.5.2): parses a PatchOp request and applies it atomically to a
//! stored resource, turning Group membership edits into set operations for the storage layer.

mod values;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::{self, AttrPath, CompareOp, Filter, PatchPath};
use crate::scim::quirks::patch as patch_quirks;
use crate::scim::resource::enforce_canonical_values;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceKind, ResourceSchema, SchemaDef};

use values::{
    attribute_equal, canonical_attribute, canonical_complex, canonical_element, canonical_elements, element_equal,
    is_assigned, Origin,
};

/// The message schema every PATCH body declares (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The three PATCH operations (RFC 7644 §3.5.2.1-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

/// One entry of the `Operations` array of a PatchOp request (RFC 7644 §3.5.2).
///
/// `value: Some(Value::Null)` is an explicit null, which makes the target unassigned
/// (RFC 7643 §2.5); `None` means the request had no `value` member at all.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A change to a Group's membership, for the storage layer to apply as a set operation.
///
/// Members live in a membership table, so PATCH never rewrites a member list held in `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these members; members already present stay as they are.
    Add(Vec<MemberRef>),
    /// Remove the members with these ids (`members[value eq "id"]`, possibly `or`-ed).
    Remove(Vec<String>),
    /// Remove every member (`remove` with path `members` and no filter).
    RemoveAll,
    /// Make the membership exactly this list (`replace` of `members`).
    Replace(Vec<MemberRef>),
    /// Remove the members matching a filter over `value`, `type`, `display` and `$ref`.
    RemoveMatching(Filter),
}

pub use super::resource::MemberRef;

/// The result of a successful PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The new stored shape: canonical names, `schemas` recomputed, no `members` or `password`.
    pub data: Value,
    /// A new password set through PATCH, for the caller to hash; never stored in `data`.
    pub password: Option<String>,
    /// Group membership changes, in request order.
    pub member_changes: Vec<MemberChange>,
    /// False when `data` equals the input and nothing else changed (RFC 7644 §3.5.2.1: such a
    /// PATCH must not move the modify timestamp).
    pub changed: bool,
}

/// Parse a PatchOp request body into operations.
///
/// `schemas` must contain `urn:ietf:params:scim:api:messages:2.0:PatchOp` and `Operations` must be a
/// non-empty array (member names matched case-insensitively). `op` is accepted in any case, as
/// Microsoft Entra ID sends `Replace`/`Add`/`Remove`. Errors are 400 `invalidSyntax` for the
/// envelope, `invalidPath` for a bad `path` and `invalidValue` for a missing `value`
/// (RFC 7644 §3.5.2, §3.12).
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let object = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a PATCH body must be a JSON object"))?;
    let declares_patch_op = get_ci(object, "schemas").and_then(Value::as_array).is_some_and(|schemas| {
        schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA)))
    });
    if !declares_patch_op {
        return Err(ScimError::invalid_syntax(format!("'schemas' must contain \"{PATCH_OP_SCHEMA}\"")));
    }
    let operations = get_ci(object, "Operations")
        .and_then(Value::as_array)
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| ScimError::invalid_syntax("'Operations' must be a non-empty array of operations"))?;
    operations.iter().enumerate().map(|(index, raw)| parse_operation(index, raw)).collect()
}

fn parse_operation(index: usize, raw: &Value) -> Result<PatchOperation, ScimError> {
    let object =
        raw.as_object().ok_or_else(|| ScimError::invalid_syntax(format!("operation {index} must be a JSON object")))?;
    let op_name = get_ci(object, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {index} has no 'op'")))?;
    let op = patch_quirks::parse_op_kind(op_name).ok_or_else(|| {
        ScimError::invalid_syntax(format!("operation {index}: 'op' must be add, remove or replace, not \"{op_name}\""))
    })?;
    let path = match get_ci(object, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(filter::parse_patch_path(text)?),
        Some(_) => return Err(ScimError::invalid_path(format!("operation {index}: 'path' must be a string"))),
    };
    let value = get_ci(object, "value").cloned();
    if op != PatchOpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!(
            "operation {index}: '{}' needs a 'value' (RFC 7644 §3.5.2.1, §3.5.2.3)",
            op_name.to_ascii_lowercase()
        )));
    }
    if op != PatchOpKind::Remove && path.is_none() && !value.as_ref().is_some_and(Value::is_object) {
        return Err(ScimError::invalid_value(format!(
            "operation {index}: without a 'path', 'value' must be an object of attributes"
        )));
    }
    Ok(PatchOperation { op, path, value })
}

/// Apply `ops` to a stored resource, all or nothing.
///
/// Each operation first goes through the identity-provider rewrites of `scim::quirks::patch`, then
/// through the RFC 7644 §3.5.2 engine, on a copy of `stored`: the first error is returned and
/// nothing is applied. The result is re-validated against the schema (400 `invalidValue`) and checked
/// for `readOnly`, `immutable` and `required` violations (400 `mutability`).
pub fn apply_patch(schema: &ResourceSchema, stored: &Value, ops: &[PatchOperation]) -> Result<PatchOutcome, ScimError> {
    if !stored.is_object() {
        return Err(ScimError::new(500, None, "stored resource is not a JSON object"));
    }
    let mut engine = Engine { schema, data: stored.clone(), password: None, member_changes: Vec::new() };
    for op in ops {
        for rewritten in patch_quirks::normalize_operation(schema, &engine.data, op.clone()) {
            engine.apply(&rewritten)?;
        }
    }
    let data = canonical_resource(schema, &engine.data)?;
    check_mutability(schema, stored, &data)?;
    let changed = data != *stored || engine.password.is_some() || !engine.member_changes.is_empty();
    Ok(PatchOutcome { data, password: engine.password, member_changes: engine.member_changes, changed })
}

/// What a PATCH path designates once resolved against the schema.
pub(crate) enum Target<'s, 'p> {
    /// A whole extension object, e.g. path `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Extension { def: &'s SchemaDef, required: bool },
    /// An attribute, possibly narrowed by a value filter and/or to one sub-attribute.
    Attribute(AttrTarget<'s, 'p>),
}

/// An attribute target: `def[filter].sub`.
pub(crate) struct AttrTarget<'s, 'p> {
    /// The extension URN under which the attribute is stored; `None` for top-level attributes.
    pub container: Option<&'s str>,
    pub def: &'s AttributeDef,
    pub filter: Option<&'p Filter>,
    pub sub: Option<&'s AttributeDef>,
}

/// Resolve a PATCH path against the schema; unknown attributes and misplaced filters or
/// sub-attributes are 400 `invalidPath` (RFC 7644 §3.5.2).
pub(crate) fn resolve_patch_path<'s, 'p>(
    schema: &'s ResourceSchema,
    path: &'p PatchPath,
) -> Result<Target<'s, 'p>, ScimError> {
    let unknown = || ScimError::invalid_path(format!("unknown attribute path '{}'", describe(path)));
    if path.filter.is_none() && path.sub_attr.is_none() && path.attr.sub_attr.is_none() {
        let whole = match &path.attr.urn {
            Some(urn) => format!("{urn}:{}", path.attr.name),
            None => path.attr.name.clone(),
        };
        if let Some((def, required)) = find_extension(schema, &whole) {
            return Ok(Target::Extension { def, required });
        }
    }
    let resolved = schema.resolve(&path.attr).ok_or_else(unknown)?;
    let def = resolved.def;
    let sub = match (&path.attr.sub_attr, &path.sub_attr) {
        (Some(_), Some(_)) => return Err(unknown()),
        (Some(_), None) => Some(resolved.sub.ok_or_else(unknown)?),
        (None, Some(name)) => Some(def.sub_attribute(name).ok_or_else(unknown)?),
        (None, None) => None,
    };
    if sub.is_some() && def.attr_type != AttrType::Complex {
        return Err(unknown());
    }
    if let Some(value_filter) = &path.filter {
        if !def.multi_valued {
            return Err(ScimError::invalid_path(format!("'{}' is single-valued and takes no value filter", def.name)));
        }
        check_filter_paths(def, value_filter)?;
    }
    Ok(Target::Attribute(AttrTarget {
        container: container_key(schema, resolved.schema_id),
        def,
        filter: path.filter.as_ref(),
        sub,
    }))
}

/// Checks that every attribute named in a value filter is a sub-attribute of `def` (or `value` for a
/// multi-valued attribute of simple type).
fn check_filter_paths(def: &AttributeDef, value_filter: &Filter) -> Result<(), ScimError> {
    let known = |path: &AttrPath| {
        path.sub_attr.is_none()
            && if def.attr_type == AttrType::Complex {
                def.sub_attribute(&path.name).is_some()
            } else {
                path.name.eq_ignore_ascii_case("value")
            }
    };
    let check = |path: &AttrPath| {
        if known(path) {
            Ok(())
        } else {
            Err(ScimError::invalid_path(format!("'{}' has no sub-attribute '{}' to filter on", def.name, path.name)))
        }
    };
    match value_filter {
        Filter::Compare { path, .. } | Filter::Present(path) => check(path),
        Filter::And(left, right) | Filter::Or(left, right) => {
            check_filter_paths(def, left)?;
            check_filter_paths(def, right)
        }
        Filter::Not(inner) => check_filter_paths(def, inner),
        Filter::ValuePath { .. } => {
            Err(ScimError::invalid_path(format!("value filters of '{}' cannot nest another value filter", def.name)))
        }
    }
}

/// Whether a filtered element matches, evaluated with `def`'s `caseExact` flags; elements of simple
/// multi-valued attributes are seen as `{"value": element}` (RFC 7644 §3.4.2.2).
pub(crate) fn element_matches(def: &AttributeDef, value_filter: &Filter, element: &Value) -> bool {
    if def.attr_type == AttrType::Complex {
        let case_exact = |path: &AttrPath| def.sub_attribute(&path.name).is_some_and(|sub| sub.case_exact);
        filter::matches(value_filter, element, &case_exact)
    } else {
        let wrapped = Value::Object(Map::from_iter([("value".to_string(), element.clone())]));
        let case_exact = |_: &AttrPath| def.case_exact;
        filter::matches(value_filter, &wrapped, &case_exact)
    }
}

/// Whether a target is a Group's `members`, which live in the membership table, not in `data`.
pub(crate) fn is_group_members(schema: &ResourceSchema, target: &AttrTarget<'_, '_>) -> bool {
    schema.kind == ResourceKind::Group && target.container.is_none() && target.def.name.eq_ignore_ascii_case("members")
}

/// Whether a target is a User's `password`, handed back to the caller instead of stored.
fn is_user_password(schema: &ResourceSchema, target: &AttrTarget<'_, '_>) -> bool {
    schema.kind == ResourceKind::User && target.container.is_none() && target.def.name.eq_ignore_ascii_case("password")
}

/// The extension with this URN (case-insensitive) and whether the resource type requires it.
pub(crate) fn find_extension<'s>(schema: &'s ResourceSchema, urn: &str) -> Option<(&'s SchemaDef, bool)> {
    schema.extensions.iter().find(|(ext, _)| ext.id.eq_ignore_ascii_case(urn)).map(|(ext, required)| (ext, *required))
}

/// The key under which attributes of schema `schema_id` are stored: `None` for the core schema and
/// the common attributes (top level), the extension's canonical URN otherwise (RFC 7643 §3.3).
pub(crate) fn container_key<'s>(schema: &'s ResourceSchema, schema_id: &str) -> Option<&'s str> {
    find_extension(schema, schema_id).map(|(ext, _)| ext.id.as_str())
}

/// The object holding the attributes of one container, if present.
pub(crate) fn container<'v>(data: &'v Value, key: Option<&str>) -> Option<&'v Map<String, Value>> {
    let top = data.as_object()?;
    match key {
        None => Some(top),
        Some(urn) => get_ci(top, urn)?.as_object(),
    }
}

/// The value of `name` in `object`, matched case-insensitively (RFC 7643 §2.1).
pub(crate) fn get_ci<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
}

fn get_mut_ci<'v>(object: &'v mut Map<String, Value>, name: &str) -> Option<&'v mut Value> {
    object.iter_mut().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
}

/// Removes every case variant of `name`, keeping the order of the other members.
fn remove_ci(object: &mut Map<String, Value>, name: &str) {
    let variants: Vec<String> = object.keys().filter(|key| key.eq_ignore_ascii_case(name)).cloned().collect();
    for key in variants {
        object.shift_remove(&key);
    }
}

/// Sets `name` to `value` under its canonical spelling, in place when already present.
fn insert_canonical(object: &mut Map<String, Value>, name: &str, value: Value) {
    let stale = object.keys().any(|key| key.eq_ignore_ascii_case(name) && key != name);
    if stale {
        remove_ci(object, name);
    }
    object.insert(name.to_string(), value);
}

fn describe(path: &PatchPath) -> String {
    let mut text = match &path.attr.urn {
        Some(urn) => format!("{urn}:{}", path.attr.name),
        None => path.attr.name.clone(),
    };
    if let Some(sub) = &path.attr.sub_attr {
        text.push('.');
        text.push_str(sub);
    }
    if path.filter.is_some() {
        text.push_str("[...]");
    }
    if let Some(sub) = &path.sub_attr {
        text.push('.');
        text.push_str(sub);
    }
    text
}

/// The working copy of one PATCH request.
struct Engine<'s> {
    schema: &'s ResourceSchema,
    data: Value,
    password: Option<String>,
    member_changes: Vec<MemberChange>,
}

impl<'s> Engine<'s> {
    fn apply(&mut self, op: &PatchOperation) -> Result<(), ScimError> {
        match &op.path {
            None => self.apply_without_path(op.op, op.value.as_ref()),
            Some(path) => {
                let target = resolve_patch_path(self.schema, path)?;
                self.apply_target(op.op, &target, op.value.as_ref())
            }
        }
    }

    /// RFC 7644 §3.5.2.1/§3.5.2.3 without `path`: each member of `value` is an attribute (or an
    /// extension object keyed by its URN) handled as if it had been the path.
    fn apply_without_path(&mut self, kind: PatchOpKind, value: Option<&Value>) -> Result<(), ScimError> {
        if kind == PatchOpKind::Remove {
            return Err(ScimError::no_target("'remove' needs a 'path' (RFC 7644 §3.5.2.2)"));
        }
        let attributes = value
            .and_then(Value::as_object)
            .ok_or_else(|| ScimError::invalid_value("without a 'path', 'value' must be an object of attributes"))?;
        let schema = self.schema;
        for (key, attr_value) in attributes {
            if key.eq_ignore_ascii_case(&schema.core.id) {
                let inner = attr_value
                    .as_object()
                    .ok_or_else(|| ScimError::invalid_value(format!("'{key}' must be an object of attributes")))?;
                for (name, inner_value) in inner {
                    let path = plain_path(Some(schema.core.id.clone()), name);
                    let target = resolve_patch_path(schema, &path)?;
                    self.apply_target(kind, &target, Some(inner_value))?;
                }
            } else {
                let path = plain_path(None, key);
                let target = resolve_patch_path(schema, &path)?;
                self.apply_target(kind, &target, Some(attr_value))?;
            }
        }
        Ok(())
    }

    fn apply_target(
        &mut self,
        kind: PatchOpKind,
        target: &Target<'s, '_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        match target {
            Target::Extension { def, required } => self.apply_extension(kind, def, *required, value),
            Target::Attribute(attr) => self.apply_attribute(kind, attr, value),
        }
    }

    fn apply_extension(
        &mut self,
        kind: PatchOpKind,
        ext: &'s SchemaDef,
        required: bool,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let attributes = match (kind, value) {
            (PatchOpKind::Remove, _) | (_, Some(Value::Null)) => {
                if required {
                    return Err(ScimError::mutability(format!(
                        "extension '{}' is required and cannot be removed (RFC 7644 §3.5.2.2)",
                        ext.id
                    )));
                }
                if let Some(top) = self.data.as_object_mut() {
                    remove_ci(top, &ext.id);
                }
                return Ok(());
            }
            (_, Some(Value::Object(attributes))) => attributes,
            _ => return Err(ScimError::invalid_value(format!("'{}' must be an object of attributes", ext.id))),
        };
        for (name, attr_value) in attributes {
            let def = ext
                .attribute(name)
                .ok_or_else(|| ScimError::invalid_path(format!("unknown attribute '{}:{name}'", ext.id)))?;
            let target = AttrTarget { container: Some(ext.id.as_str()), def, filter: None, sub: None };
            self.apply_attribute(kind, &target, Some(attr_value))?;
        }
        Ok(())
    }

    fn apply_attribute(
        &mut self,
        kind: PatchOpKind,
        target: &AttrTarget<'s, '_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if is_group_members(self.schema, target) {
            return self.apply_members(kind, target, value);
        }
        if is_user_password(self.schema, target) {
            return self.apply_password(kind, value);
        }
        let read_only = target.def.mutability == Mutability::ReadOnly
            || target.sub.is_some_and(|sub| sub.mutability == Mutability::ReadOnly);
        if read_only {
            return Err(ScimError::mutability(format!("'{}' is readOnly (RFC 7643 §2.2)", target_name(target))));
        }
        let assigned = match (kind, value) {
            (PatchOpKind::Remove, Some(sent))
                if !sent.is_null() && target.def.multi_valued && target.filter.is_none() && target.sub.is_none() =>
            {
                return Err(ScimError::invalid_value(format!(
                    "'remove' of '{}' takes a value filter in 'path', not a 'value' (RFC 7644 §3.5.2.2)",
                    target.def.name
                )));
            }
            (PatchOpKind::Remove, _) | (_, Some(Value::Null)) => None,
            (_, Some(sent)) => Some(sent),
            (_, None) => return Err(ScimError::invalid_value(format!("'{}' needs a 'value'", target_name(target)))),
        };
        if target.def.multi_valued {
            self.apply_multi_valued(kind, target, assigned)
        } else {
            self.apply_single_valued(target, assigned)
        }
    }

    fn container_mut(&mut self, key: Option<&str>) -> &mut Map<String, Value> {
        let top = self.data.as_object_mut().expect("the working copy is always an object");
        let Some(urn) = key else {
            return top;
        };
        if !get_ci(top, urn).is_some_and(Value::is_object) {
            insert_canonical(top, urn, Value::Object(Map::new()));
        }
        get_mut_ci(top, urn).and_then(Value::as_object_mut).expect("extension object was just ensured")
    }

    /// Add and replace agree on single-valued attributes: the value is set, and a complex value is
    /// merged into the existing one, unmentioned sub-attributes being left unchanged
    /// (RFC 7644 §3.5.2.1, §3.5.2.3). `None` removes (RFC 7644 §3.5.2.2).
    fn apply_single_valued(&mut self, target: &AttrTarget<'s, '_>, value: Option<&Value>) -> Result<(), ScimError> {
        let def = target.def;
        let object = self.container_mut(target.container);
        match (target.sub, value) {
            (None, None) => remove_ci(object, &def.name),
            (None, Some(sent)) if def.attr_type == AttrType::Complex => {
                let patch = canonical_complex(def, sent, Origin::Request, true)?;
                let mut merged = match get_ci(object, &def.name) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                merge_members(&mut merged, patch);
                set_or_remove(object, &def.name, merged);
            }
            (None, Some(sent)) => match canonical_element(def, sent, Origin::Request)? {
                Some(canonical) => insert_canonical(object, &def.name, canonical),
                None => remove_ci(object, &def.name),
            },
            (Some(sub), sent) => {
                let canonical = match sent {
                    Some(sent) => canonical_attribute(sub, sent, Origin::Request)?,
                    None => None,
                };
                let mut merged = match get_ci(object, &def.name) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                match canonical {
                    Some(canonical) => insert_canonical(&mut merged, &sub.name, canonical),
                    None => remove_ci(&mut merged, &sub.name),
                }
                set_or_remove(object, &def.name, merged);
            }
        }
        Ok(())
    }

    /// Multi-valued attributes (RFC 7644 §3.5.2.1-3): add appends values not already present,
    /// replace without a filter swaps the whole list, a value filter selects the elements an
    /// operation applies to (400 `noTarget` when add/replace selects none). `None` removes.
    fn apply_multi_valued(
        &mut self,
        kind: PatchOpKind,
        target: &AttrTarget<'s, '_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let def = target.def;
        let object = self.container_mut(target.container);
        let before: Vec<Value> = get_ci(object, &def.name)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter(|item| !item.is_null()).cloned().collect())
            .unwrap_or_default();
        let mut list = before.clone();
        match (target.filter, target.sub, value) {
            (None, None, None) => list.clear(),
            (None, None, Some(sent)) => {
                let incoming = canonical_elements(def, sent)?;
                if incoming.iter().filter(|element| is_primary(element)).count() > 1 {
                    return Err(ScimError::invalid_value(format!(
                        "at most one value of '{}' may have \"primary\": true (RFC 7643 §2.4)",
                        def.name
                    )));
                }
                if kind == PatchOpKind::Replace {
                    list.clear();
                }
                for element in incoming {
                    if !list.iter().any(|existing| element_equal(def, existing, &element)) {
                        list.push(element);
                    }
                }
            }
            (value_filter, sub, sent) => {
                let selected: Vec<usize> = list
                    .iter()
                    .enumerate()
                    .filter(|(_, element)| value_filter.is_none_or(|f| element_matches(def, f, element)))
                    .map(|(index, _)| index)
                    .collect();
                if selected.is_empty() {
                    if sent.is_some() {
                        return Err(ScimError::no_target(format!(
                            "no value of '{}' matches the path (RFC 7644 §3.5.2.3)",
                            def.name
                        )));
                    }
                    return Ok(());
                }
                if selected.len() > 1 && sets_primary(sub, sent) {
                    return Err(ScimError::invalid_value(format!(
                        "the path selects several values of '{}' to be primary (RFC 7643 §2.4)",
                        def.name
                    )));
                }
                edit_selected(kind, def, sub, sent, &mut list, &selected)?;
                list.retain(|element| !matches!(element, Value::Object(m) if m.is_empty()));
                dedupe(def, &mut list);
            }
        }
        enforce_single_primary(def, &before, &mut list)?;
        if list.is_empty() {
            remove_ci(object, &def.name);
        } else {
            insert_canonical(object, &def.name, Value::Array(list));
        }
        Ok(())
    }

    /// Group `members` become set operations for the membership table, never part of `data`.
    fn apply_members(
        &mut self,
        kind: PatchOpKind,
        target: &AttrTarget<'s, '_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if target.sub.is_some() {
            return Err(ScimError::mutability("sub-attributes of 'members' are immutable (RFC 7643 §8.7.1)"));
        }
        let change = match kind {
            PatchOpKind::Remove => {
                if target.filter.is_none() && value.is_some_and(|sent| !sent.is_null()) {
                    return Err(ScimError::invalid_value(
                        "'remove' of 'members' takes a value filter in 'path', not a 'value' (RFC 7644 §3.5.2.2)",
                    ));
                }
                match target.filter {
                    None => MemberChange::RemoveAll,
                    Some(member_filter) => member_removal(member_filter),
                }
            }
            PatchOpKind::Add => {
                if target.filter.is_some() {
                    return Err(ScimError::invalid_path("'add' of members takes the path 'members' without a filter"));
                }
                let sent = value.ok_or_else(|| ScimError::invalid_value("'add' needs a 'value'"))?;
                let refs = member_refs(sent)?;
                if refs.is_empty() {
                    return Ok(());
                }
                MemberChange::Add(refs)
            }
            PatchOpKind::Replace => {
                let sent = value.ok_or_else(|| ScimError::invalid_value("'replace' needs a 'value'"))?;
                let refs = member_refs(sent)?;
                match target.filter {
                    None => MemberChange::Replace(refs),
                    Some(member_filter) => {
                        self.member_changes.push(member_removal(member_filter));
                        if refs.is_empty() {
                            return Ok(());
                        }
                        MemberChange::Add(refs)
                    }
                }
            }
        };
        self.member_changes.push(change);
        Ok(())
    }

    /// A password set through PATCH is handed to the caller for hashing (RFC 7643 §4.1.1:
    /// `password` is writeOnly and never returned).
    fn apply_password(&mut self, kind: PatchOpKind, value: Option<&Value>) -> Result<(), ScimError> {
        match (kind, value) {
            (PatchOpKind::Remove, _) | (_, Some(Value::Null)) => {
                Err(ScimError::mutability("'password' cannot be removed, only replaced"))
            }
            (_, Some(Value::String(password))) => {
                self.password = Some(password.clone());
                Ok(())
            }
            _ => Err(ScimError::invalid_value("'password' must be a string")),
        }
    }
}

fn plain_path(urn: Option<String>, name: &str) -> PatchPath {
    PatchPath { attr: AttrPath { urn, name: name.to_string(), sub_attr: None }, filter: None, sub_attr: None }
}

fn target_name(target: &AttrTarget<'_, '_>) -> String {
    match target.sub {
        Some(sub) => format!("{}.{}", target.def.name, sub.name),
        None => target.def.name.clone(),
    }
}

/// Applies one operation to the selected elements of a multi-valued attribute.
fn edit_selected(
    kind: PatchOpKind,
    def: &AttributeDef,
    sub: Option<&AttributeDef>,
    value: Option<&Value>,
    list: &mut Vec<Value>,
    selected: &[usize],
) -> Result<(), ScimError> {
    match (sub, value) {
        (Some(sub), sent) => {
            let canonical = match sent {
                Some(sent) => canonical_attribute(sub, sent, Origin::Request)?,
                None => None,
            };
            for &index in selected {
                if let Value::Object(element) = &mut list[index] {
                    match &canonical {
                        Some(canonical) => insert_canonical(element, &sub.name, canonical.clone()),
                        None => remove_ci(element, &sub.name),
                    }
                }
            }
        }
        (None, Some(sent)) if kind == PatchOpKind::Add && def.attr_type == AttrType::Complex => {
            let patch = canonical_complex(def, sent, Origin::Request, true)?;
            for &index in selected {
                if let Value::Object(element) = &mut list[index] {
                    merge_members(element, patch.clone());
                }
            }
        }
        (None, Some(sent)) => {
            let replacement = canonical_element(def, sent, Origin::Request)?;
            for &index in selected.iter().rev() {
                match &replacement {
                    Some(element) => list[index] = element.clone(),
                    None => {
                        list.remove(index);
                    }
                }
            }
        }
        (None, None) => {
            for &index in selected.iter().rev() {
                list.remove(index);
            }
        }
    }
    Ok(())
}

/// Merges canonical sub-attributes into `target`; a `null` makes that sub-attribute unassigned.
fn merge_members(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (name, value) in patch {
        if value.is_null() {
            remove_ci(target, &name);
        } else {
            insert_canonical(target, &name, value);
        }
    }
}

fn set_or_remove(object: &mut Map<String, Value>, name: &str, value: Map<String, Value>) {
    if value.is_empty() {
        remove_ci(object, name);
    } else {
        insert_canonical(object, name, Value::Object(value));
    }
}

/// Keeps the first of equal elements.
fn dedupe(def: &AttributeDef, list: &mut Vec<Value>) {
    let mut kept: Vec<Value> = Vec::with_capacity(list.len());
    for element in list.drain(..) {
        if !kept.iter().any(|existing| element_equal(def, existing, &element)) {
            kept.push(element);
        }
    }
    *list = kept;
}

/// Whether an edit of selected elements writes `"primary": true` into each of them.
fn sets_primary(sub: Option<&AttributeDef>, value: Option<&Value>) -> bool {
    let primary = Some(&Value::Bool(true));
    match sub {
        Some(sub) => sub.name.eq_ignore_ascii_case("primary") && value == primary,
        None => value.and_then(Value::as_object).and_then(|members| get_ci(members, "primary")) == primary,
    }
}

fn is_primary(element: &Value) -> bool {
    element.as_object().and_then(|members| get_ci(members, "primary")) == Some(&Value::Bool(true))
}

/// "The primary attribute value 'true' MUST appear no more than once" (RFC 7643 §2.4): a value
/// newly marked primary takes the flag from the previous primary; two new ones are 400
/// `invalidValue`.
fn enforce_single_primary(def: &AttributeDef, before: &[Value], list: &mut [Value]) -> Result<(), ScimError> {
    let has_primary = def.sub_attribute("primary").is_some_and(|primary| primary.attr_type == AttrType::Boolean);
    if !has_primary {
        return Ok(());
    }
    let fresh: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, element)| {
            is_primary(element) && !before.iter().any(|old| is_primary(old) && element_equal(def, old, element))
        })
        .map(|(index, _)| index)
        .collect();
    match fresh.as_slice() {
        [] => Ok(()),
        [chosen] => {
            for (index, element) in list.iter_mut().enumerate() {
                if index != *chosen && is_primary(element) {
                    if let Value::Object(members) = element {
                        remove_ci(members, "primary");
                    }
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "at most one value of '{}' may have \"primary\": true (RFC 7643 §2.4)",
            def.name
        ))),
    }
}

/// The members named by an `add`/`replace` value: one object or an array of objects, each with a
/// `value` (RFC 7643 §4.2). Repeated ids are kept once.
fn member_refs(value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut refs: Vec<MemberRef> = Vec::with_capacity(items.len());
    for item in items {
        let object = item.as_object().ok_or_else(|| ScimError::invalid_value("each member must be an object"))?;
        let id = get_ci(object, "value")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ScimError::invalid_value("each member needs a string 'value' (RFC 7643 §4.2)"))?;
        let text = |name: &str| get_ci(object, name).and_then(Value::as_str).map(str::to_string);
        if !refs.iter().any(|existing| existing.value == id) {
            refs.push(MemberRef { value: id.to_string(), member_type: text("type"), display: text("display") });
        }
    }
    Ok(refs)
}

/// `members[value eq "a" or value eq "b"]` removes by id; any other filter is left to the storage
/// layer to evaluate.
fn member_removal(member_filter: &Filter) -> MemberChange {
    let mut ids = Vec::new();
    if collect_value_ids(member_filter, &mut ids) {
        ids.dedup();
        MemberChange::Remove(ids)
    } else {
        MemberChange::RemoveMatching(member_filter.clone())
    }
}

fn collect_value_ids(member_filter: &Filter, ids: &mut Vec<String>) -> bool {
    match member_filter {
        Filter::Compare { path, op: CompareOp::Eq, value: Value::String(id) }
            if path.urn.is_none() && path.sub_attr.is_none() && path.name.eq_ignore_ascii_case("value") =>
        {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
            true
        }
        Filter::Or(left, right) => collect_value_ids(left, ids) && collect_value_ids(right, ids),
        _ => false,
    }
}

/// The canonical stored shape of a patched resource: known attributes only, canonical names,
/// values type-checked (400 `invalidValue`), unassigned values dropped and `schemas` recomputed from
/// the core schema plus the extensions present (RFC 7643 §3).
fn canonical_resource(schema: &ResourceSchema, data: &Value) -> Result<Value, ScimError> {
    let object = data.as_object().ok_or_else(|| ScimError::invalid_value("a resource must be a JSON object"))?;
    let mut body = Map::new();
    for (key, value) in object {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some((ext, _)) = find_extension(schema, key) {
            let attributes = match value {
                Value::Null => continue,
                Value::Object(attributes) => attributes,
                _ => return Err(ScimError::invalid_value(format!("'{}' must be an object of attributes", ext.id))),
            };
            let mut canonical = Map::new();
            for (name, attr_value) in attributes {
                let def = ext
                    .attribute(name)
                    .ok_or_else(|| ScimError::invalid_value(format!("unknown attribute '{}:{name}'", ext.id)))?;
                if let Some(mut attr_canonical) = canonical_attribute(def, attr_value, Origin::Stored)? {
                    enforce_canonical_values(def, &mut attr_canonical, &format!("{}:{}", ext.id, def.name))?;
                    canonical.insert(def.name.clone(), attr_canonical);
                }
            }
            if !canonical.is_empty() {
                body.insert(ext.id.clone(), Value::Object(canonical));
            }
        } else {
            let resolved = schema
                .resolve(&plain_path(None, key).attr)
                .filter(|resolved| resolved.sub.is_none())
                .ok_or_else(|| ScimError::invalid_value(format!("unknown attribute '{key}'")))?;
            if let Some(canonical) = canonical_attribute(resolved.def, value, Origin::Stored)? {
                body.insert(resolved.def.name.clone(), canonical);
            }
        }
    }
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    for (ext, _) in &schema.extensions {
        if body.contains_key(&ext.id) {
            schemas.push(Value::String(ext.id.clone()));
        }
    }
    let mut out = Map::new();
    out.insert("schemas".to_string(), Value::Array(schemas));
    out.extend(body);
    Ok(Value::Object(out))
}

/// Compares the resource before and after: a changed `readOnly` attribute, a changed `immutable`
/// attribute that had a value, or a removed `required` attribute is 400 `mutability`
/// (RFC 7644 §3.5.2 and the last paragraph of §3.5.2.2; RFC 7643 §2.2).
fn check_mutability(schema: &ResourceSchema, before: &Value, after: &Value) -> Result<(), ScimError> {
    let mut containers: Vec<(Option<&str>, &[AttributeDef])> = vec![(None, schema.core.attributes.as_slice())];
    for (ext, _) in &schema.extensions {
        containers.push((Some(ext.id.as_str()), ext.attributes.as_slice()));
    }
    for (key, attributes) in containers {
        let old = container(before, key);
        let new = container(after, key);
        for def in attributes {
            check_attribute_mutability(
                def,
                old.and_then(|m| get_ci(m, &def.name)),
                new.and_then(|m| get_ci(m, &def.name)),
            )?;
        }
    }
    Ok(())
}

fn check_attribute_mutability(
    def: &AttributeDef,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), ScimError> {
    let had = is_assigned(before);
    let has = is_assigned(after);
    let unchanged = attribute_equal(def, before, after);
    if def.mutability == Mutability::ReadOnly && !unchanged {
        return Err(ScimError::mutability(format!("'{}' is readOnly (RFC 7643 §2.2)", def.name)));
    }
    if def.mutability == Mutability::Immutable && had && !unchanged {
        return Err(ScimError::mutability(format!(
            "'{}' is immutable and already has a value (RFC 7644 §3.5.2)",
            def.name
        )));
    }
    if def.required && had && !has {
        return Err(ScimError::mutability(format!(
            "'{}' is required and cannot be removed (RFC 7644 §3.5.2.2)",
            def.name
        )));
    }
    if def.attr_type == AttrType::Complex && !def.multi_valued && had && has {
        let (Some(Value::Object(old)), Some(Value::Object(new))) = (before, after) else {
            return Ok(());
        };
        for sub in &def.sub_attributes {
            check_attribute_mutability(sub, get_ci(old, &sub.name), get_ci(new, &sub.name))?;
        }
    }
    Ok(())
}
