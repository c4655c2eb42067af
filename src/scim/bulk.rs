//! `/Bulk` messages (RFC 7644 §3.7): parsing a BulkRequest, ordering its operations so that every
//! `bulkId` reference is created before it is used, resolving those references, and the BulkResponse.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::scim::error::ScimError;
use crate::scim::render::endpoint;
use crate::scim::schema::ResourceKind;

/// The message schema of a bulk request (RFC 7644 §3.7).
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The message schema of a bulk response (RFC 7644 §3.7).
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// How a value refers to the resource another operation of the same request creates (RFC 7644 §3.7.2).
const BULK_ID_PREFIX: &str = "bulkId:";

/// The HTTP methods a bulk operation may use (RFC 7644 §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }

    fn parse(text: &str) -> Option<BulkMethod> {
        [BulkMethod::Post, BulkMethod::Put, BulkMethod::Patch, BulkMethod::Delete]
            .into_iter()
            .find(|method| method.as_str().eq_ignore_ascii_case(text))
    }
}

/// The resource an operation's `path` names: by id, or by the `bulkId` of the POST creating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceRef {
    Id(String),
    BulkId(String),
}

/// What an operation does, to the resource named by `T` (a [`ResourceRef`] as sent, its id once
/// resolved), with the body it would have alone.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkAction<T> {
    Create(Value),
    Replace(T, Value),
    Patch(T, Value),
    Delete(T),
}

impl<T> BulkAction<T> {
    pub fn method(&self) -> BulkMethod {
        match self {
            BulkAction::Create(_) => BulkMethod::Post,
            BulkAction::Replace(..) => BulkMethod::Put,
            BulkAction::Patch(..) => BulkMethod::Patch,
            BulkAction::Delete(_) => BulkMethod::Delete,
        }
    }

    /// The addressed resource; `None` for a POST, whose path is the endpoint.
    pub fn target(&self) -> Option<&T> {
        match self {
            BulkAction::Create(_) => None,
            BulkAction::Replace(target, _) | BulkAction::Patch(target, _) | BulkAction::Delete(target) => Some(target),
        }
    }

    fn data(&self) -> Option<&Value> {
        match self {
            BulkAction::Create(data) | BulkAction::Replace(_, data) | BulkAction::Patch(_, data) => Some(data),
            BulkAction::Delete(_) => None,
        }
    }
}

/// One understood operation of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub kind: ResourceKind,
    pub action: BulkAction<ResourceRef>,
    /// The `If-Match` version a PUT, PATCH or DELETE requires (RFC 7644 §3.7, §3.14).
    pub version: Option<String>,
}

/// One entry of `Operations`: what its response echoes, and the operation when it could be understood.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkEntry {
    /// `method` as sent (canonical upper case once recognised), echoed in the response.
    pub method: Option<String>,
    /// The client's surrogate id, echoed in the response; a POST's `bulkId` names what it creates.
    pub bulk_id: Option<String>,
    pub operation: Result<BulkOperation, ScimError>,
}

/// A parsed bulk request (RFC 7644 §3.7).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None` runs every operation.
    pub fail_on_errors: Option<usize>,
    pub entries: Vec<BulkEntry>,
}

/// Parses a BulkRequest body.
///
/// The envelope must be right for anything to run: `schemas` names the BulkRequest message,
/// `failOnErrors` is a positive integer, `Operations` is an array of at most `max_operations`
/// entries (more is 413, RFC 7644 §3.7.4) and no two entries share a `bulkId`. A malformed entry
/// only fails itself, with the status the same request would get alone: 404 for an unknown endpoint,
/// 405 for a method the path does not take, 400 `invalidSyntax` otherwise. Member names are matched
/// case-insensitively (RFC 7643 §2.1).
pub fn parse_bulk_request(body: &Value, max_operations: u64) -> Result<BulkRequest, ScimError> {
    let object = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a bulk request must be a JSON object"))?;
    let declares_bulk = get_ci(object, "schemas").and_then(Value::as_array).is_some_and(|schemas| {
        schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA)))
    });
    if !declares_bulk {
        return Err(ScimError::invalid_syntax(format!("'schemas' must contain \"{BULK_REQUEST_SCHEMA}\"")));
    }
    let fail_on_errors = match get_ci(object, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64().filter(|n| *n > 0) {
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => {
                return Err(ScimError::invalid_value(format!("'failOnErrors' must be a positive integer, not {value}")))
            }
        },
    };
    let operations = get_ci(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("'Operations' must be an array of operations"))?;
    if operations.len() as u64 > max_operations {
        return Err(ScimError::new(
            413,
            None,
            format!(
                "the bulk request has {} operations; at most {max_operations} are allowed (maxOperations)",
                operations.len()
            ),
        ));
    }
    let entries: Vec<BulkEntry> = operations.iter().enumerate().map(|(index, raw)| parse_entry(index, raw)).collect();
    let mut seen = HashSet::new();
    for bulk_id in entries.iter().filter_map(|entry| entry.bulk_id.as_deref()) {
        if !seen.insert(bulk_id) {
            return Err(ScimError::invalid_value(format!(
                "bulkId \"{bulk_id}\" is used by more than one operation; each must be unique (RFC 7644 §3.7)"
            )));
        }
    }
    Ok(BulkRequest { fail_on_errors, entries })
}

fn parse_entry(index: usize, raw: &Value) -> BulkEntry {
    let Some(object) = raw.as_object() else {
        let error = ScimError::invalid_syntax(format!("operation {index} must be a JSON object"));
        return BulkEntry { method: None, bulk_id: None, operation: Err(error) };
    };
    let text = |name: &str| get_ci(object, name).and_then(Value::as_str).map(str::to_string);
    let sent_method = text("method");
    let method = sent_method.as_deref().and_then(BulkMethod::parse);
    let bulk_id = text("bulkId");
    let operation = parse_operation(index, object, method);
    BulkEntry { method: method.map(|m| m.as_str().to_string()).or(sent_method), bulk_id, operation }
}

fn parse_operation(
    index: usize,
    object: &Map<String, Value>,
    method: Option<BulkMethod>,
) -> Result<BulkOperation, ScimError> {
    let syntax = |detail: String| ScimError::invalid_syntax(format!("operation {index}: {detail}"));
    let method = method.ok_or_else(|| syntax("'method' must be POST, PUT, PATCH or DELETE".into()))?;
    for name in ["bulkId", "version", "path"] {
        match get_ci(object, name) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) if !text.is_empty() => {}
            Some(_) => return Err(syntax(format!("'{name}' must be a non-empty string"))),
        }
    }
    let text = |name: &str| get_ci(object, name).and_then(Value::as_str).map(str::to_string);
    let path = text("path").ok_or_else(|| syntax("'path' is required, e.g. \"/Users\" or \"/Users/{id}\"".into()))?;
    let (kind, target) = parse_path(&path).ok_or_else(|| {
        ScimError::not_found(format!(
            "operation {index}: no resource at \"{path}\" (expected /Users, /Groups or /Users/{{id}})"
        ))
    })?;
    let wrong_method = |expected: &str| {
        ScimError::new(
            405,
            None,
            format!("operation {index}: {} is not allowed on \"{path}\"; {expected}", method.as_str()),
        )
    };
    let data = || match get_ci(object, "data") {
        Some(data @ Value::Object(_)) => Ok(data.clone()),
        _ => Err(syntax(format!("{} needs 'data', a JSON object", method.as_str()))),
    };
    let action = match (method, target) {
        (BulkMethod::Post, None) => BulkAction::Create(data()?),
        (BulkMethod::Post, Some(_)) => return Err(wrong_method("POST takes a resource type endpoint such as /Users")),
        (_, None) => return Err(wrong_method("it needs the path of one resource, e.g. /Users/{id}")),
        (BulkMethod::Put, Some(target)) => BulkAction::Replace(target, data()?),
        (BulkMethod::Patch, Some(target)) => BulkAction::Patch(target, data()?),
        (BulkMethod::Delete, Some(target)) => BulkAction::Delete(target),
    };
    Ok(BulkOperation { kind, action, version: text("version") })
}

/// `/Users`, `/Groups/{id}`, `/Users/bulkId:{bulkId}` (the leading `/` optional, the endpoint name
/// case-insensitive).
fn parse_path(path: &str) -> Option<(ResourceKind, Option<ResourceRef>)> {
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    let name = segments.next()?;
    let kind =
        [ResourceKind::User, ResourceKind::Group].into_iter().find(|k| endpoint(*k).eq_ignore_ascii_case(name))?;
    let target = match segments.next() {
        None => None,
        Some("") => return None,
        Some(id) => Some(match id.strip_prefix(BULK_ID_PREFIX) {
            Some(bulk_id) => ResourceRef::BulkId(bulk_id.to_string()),
            None => ResourceRef::Id(id.to_string()),
        }),
    };
    segments.next().is_none().then_some((kind, target))
}

fn get_ci<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
}

/// The `bulkId`s an operation refers to, in order of appearance: its path, then every string value
/// of its data that is exactly `bulkId:<id>` (a group member's `value`, a PATCH value, ...).
pub fn referenced_bulk_ids(operation: &BulkOperation) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(ResourceRef::BulkId(bulk_id)) = operation.action.target() {
        found.push(bulk_id.clone());
    }
    if let Some(data) = operation.action.data() {
        collect_references(data, &mut found);
    }
    let mut seen = HashSet::new();
    found.retain(|bulk_id| seen.insert(bulk_id.clone()));
    found
}

fn collect_references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            if let Some(bulk_id) = text.strip_prefix(BULK_ID_PREFIX) {
                found.push(bulk_id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, found)),
        Value::Object(members) => members.values().for_each(|member| collect_references(member, found)),
        _ => {}
    }
}

/// One step of running a bulk request: run the operation at this index, or report it failed unrun.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'a> {
    Run(usize, &'a BulkOperation),
    Fail(usize, ScimError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    Active,
    Done,
}

/// The order in which to run the entries: request order, except that the POST defining a `bulkId`
/// runs before every operation that refers to it, wherever it appears (RFC 7644 §3.7.2).
///
/// Entries that cannot run are `Fail` steps in their place: malformed ones with their parse error;
/// ones referring to a `bulkId` that no POST of the request defines with 400 `invalidValue`; and
/// the POSTs of a reference cycle (A's data names B, B's names A) with 409 Conflict, which
/// RFC 7644 §3.7.2 allows instead of resolving the cycle.
pub fn execution_order(entries: &[BulkEntry]) -> Vec<Step<'_>> {
    let definer: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| match (&entry.operation, &entry.bulk_id) {
            (Ok(operation), Some(bulk_id)) if operation.action.method() == BulkMethod::Post => {
                Some((bulk_id.as_str(), index))
            }
            _ => None,
        })
        .collect();
    let references: Vec<Vec<String>> =
        entries.iter().map(|entry| entry.operation.as_ref().map(referenced_bulk_ids).unwrap_or_default()).collect();
    let mut state = vec![Visit::New; entries.len()];
    let mut failures: HashMap<usize, ScimError> = HashMap::new();
    let mut steps = Vec::with_capacity(entries.len());
    for root in 0..entries.len() {
        if state[root] != Visit::New {
            continue;
        }
        state[root] = Visit::Active;
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = stack.last_mut() {
            let (index, position) = *top;
            top.1 += 1;
            if let (Ok(_), Some(bulk_id)) = (&entries[index].operation, references[index].get(position)) {
                match definer.get(bulk_id.as_str()) {
                    None => {
                        failures.entry(index).or_insert_with(|| undefined_bulk_id(bulk_id));
                    }
                    Some(&dependency) => match state[dependency] {
                        Visit::Done => {}
                        Visit::New => {
                            state[dependency] = Visit::Active;
                            stack.push((dependency, 0));
                        }
                        Visit::Active => {
                            let start = stack.iter().position(|(i, _)| *i == dependency).unwrap_or(0);
                            let cycle: Vec<usize> = stack[start..].iter().map(|(i, _)| *i).collect();
                            let error = circular(entries, &cycle);
                            for member in cycle {
                                failures.entry(member).or_insert_with(|| error.clone());
                            }
                        }
                    },
                }
                continue;
            }
            stack.pop();
            state[index] = Visit::Done;
            steps.push(match (&entries[index].operation, failures.remove(&index)) {
                (Err(error), _) => Step::Fail(index, error.clone()),
                (Ok(_), Some(error)) => Step::Fail(index, error),
                (Ok(operation), None) => Step::Run(index, operation),
            });
        }
    }
    steps
}

fn undefined_bulk_id(bulk_id: &str) -> ScimError {
    ScimError::invalid_value(format!("bulkId \"{bulk_id}\" is not defined by any POST operation of this request"))
}

fn circular(entries: &[BulkEntry], cycle: &[usize]) -> ScimError {
    let names: Vec<String> = cycle
        .iter()
        .chain(cycle.first())
        .map(|index| format!("\"{}\"", entries[*index].bulk_id.as_deref().unwrap_or_default()))
        .collect();
    ScimError::new(
        409,
        None,
        format!("circular bulkId references ({}): create these resources first, then link them", names.join(" -> ")),
    )
}

/// An operation whose `bulkId` references are replaced by the ids of the resources they created.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedOperation {
    pub kind: ResourceKind,
    /// The action on the resource with this id.
    pub action: BulkAction<String>,
    pub version: Option<String>,
}

/// The ids created so far in one bulk request, by `bulkId`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreatedIds(HashMap<String, String>);

impl CreatedIds {
    /// Records that the POST with `bulk_id` created the resource `id`.
    pub fn record(&mut self, bulk_id: &str, id: &str) {
        self.0.insert(bulk_id.to_string(), id.to_string());
    }

    /// Replaces every `bulkId:<id>` in the operation's path and data with the created resource's id.
    ///
    /// A reference to a POST that did not create anything (it failed, or has not run) is 400
    /// `invalidValue`.
    pub fn resolve(&self, operation: &BulkOperation) -> Result<ResolvedOperation, ScimError> {
        let id = |target: &ResourceRef| match target {
            ResourceRef::Id(id) => Ok(id.clone()),
            ResourceRef::BulkId(bulk_id) => self.lookup(bulk_id).map(str::to_string),
        };
        let data = |data: &Value| {
            let mut data = data.clone();
            self.replace_references(&mut data).map(|()| data)
        };
        let action = match &operation.action {
            BulkAction::Create(body) => BulkAction::Create(data(body)?),
            BulkAction::Replace(target, body) => BulkAction::Replace(id(target)?, data(body)?),
            BulkAction::Patch(target, body) => BulkAction::Patch(id(target)?, data(body)?),
            BulkAction::Delete(target) => BulkAction::Delete(id(target)?),
        };
        Ok(ResolvedOperation { kind: operation.kind, action, version: operation.version.clone() })
    }

    /// The resource id a reference names, if known yet.
    pub fn id_of<'s>(&'s self, target: &'s ResourceRef) -> Option<&'s str> {
        match target {
            ResourceRef::Id(id) => Some(id),
            ResourceRef::BulkId(bulk_id) => self.0.get(bulk_id).map(String::as_str),
        }
    }

    fn lookup(&self, bulk_id: &str) -> Result<&str, ScimError> {
        self.0.get(bulk_id).map(String::as_str).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "bulkId \"{bulk_id}\" has no resource: the POST operation that defines it failed"
            ))
        })
    }

    fn replace_references(&self, value: &mut Value) -> Result<(), ScimError> {
        match value {
            Value::String(text) => {
                if let Some(bulk_id) = text.strip_prefix(BULK_ID_PREFIX) {
                    *text = self.lookup(bulk_id)?.to_string();
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.replace_references(item)?;
                }
            }
            Value::Object(members) => {
                for member in members.values_mut() {
                    self.replace_references(member)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The outcome of one operation in a BulkResponse (RFC 7644 §3.7.3).
#[derive(Debug, Clone, PartialEq)]
pub struct OperationResponse {
    pub method: Option<String>,
    pub bulk_id: Option<String>,
    /// The resource's URL; absent when a POST failed or the path named no resource.
    pub location: Option<String>,
    /// The resource's ETag after a successful POST, PUT or PATCH.
    pub version: Option<String>,
    /// The HTTP status the operation would have had alone.
    pub status: u16,
    /// The SCIM error body of a failed operation (RFC 7644 §3.12).
    pub response: Option<Value>,
}

impl OperationResponse {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut put = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                out.insert(name.to_string(), Value::String(value.clone()));
            }
        };
        put("location", &self.location);
        put("method", &self.method);
        put("bulkId", &self.bulk_id);
        put("version", &self.version);
        out.insert("status".into(), Value::String(self.status.to_string()));
        if let Some(response) = &self.response {
            out.insert("response".into(), response.clone());
        }
        Value::Object(out)
    }
}

/// The BulkResponse message (RFC 7644 §3.7.3); `status` is a string, as in the RFC's examples.
pub fn bulk_response(operations: &[OperationResponse]) -> Value {
    let operations: Vec<Value> = operations.iter().map(OperationResponse::to_json).collect();
    json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": operations})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;

    fn request(operations: Value) -> Value {
        json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": operations})
    }

    fn parse(operations: Value) -> BulkRequest {
        parse_bulk_request(&request(operations), 1000).unwrap()
    }

    /// RFC 7644 §3.7.2: a User and a Group naming it as a member through its bulkId.
    fn rfc7644_user_and_group() -> Value {
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "qwerty",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides",
                      "members": [{"type": "User", "value": "bulkId:qwerty"}]}}
        ])
    }

    fn order(request: &BulkRequest) -> Vec<String> {
        execution_order(&request.entries)
            .iter()
            .map(|step| match step {
                Step::Run(index, _) => format!("run {index}"),
                Step::Fail(index, error) => format!("fail {index} {}", error.status),
            })
            .collect()
    }

    #[test]
    fn the_rfc7644_example_parses_and_runs_in_order() {
        let parsed = parse(rfc7644_user_and_group());
        assert_eq!(parsed.fail_on_errors, None);
        let group = parsed.entries[1].operation.as_ref().unwrap();
        assert_eq!(
            (group.action.method(), group.kind, group.action.target()),
            (BulkMethod::Post, ResourceKind::Group, None)
        );
        assert_eq!(referenced_bulk_ids(group), ["qwerty"]);
        assert_eq!(order(&parsed), ["run 0", "run 1"]);
    }

    #[test]
    fn a_reference_to_a_later_post_runs_that_post_first() {
        let mut operations = rfc7644_user_and_group();
        operations.as_array_mut().unwrap().reverse();
        let chain = json!([
            {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}]}},
            {"method": "DELETE", "path": "/Users/42"},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}}
        ]);
        assert_eq!(order(&parse(operations)), ["run 1", "run 0"]);
        assert_eq!(order(&parse(chain)), ["run 2", "run 3", "run 0", "run 1"]);
    }

    #[test]
    fn cycles_are_409_and_unknown_bulk_ids_400_while_the_rest_runs() {
        let operations = json!([
            {"method": "POST", "path": "/Groups", "bulkId": "qwerty",
             "data": {"displayName": "Group A", "members": [{"type": "Group", "value": "bulkId:ytrewq"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"displayName": "Group B", "members": [{"type": "Group", "value": "bulkId:qwerty"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "self", "data": {"displayName": "bulkId:self"}},
            {"method": "PATCH", "path": "/Groups/bulkId:qwerty", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "fine", "data": {"userName": "x"}},
            {"method": "PUT", "path": "/Users/bulkId:nowhere", "data": {"userName": "x"}},
            {"method": "POST", "path": "/Users", "data": {"manager": {"value": "bulkId:nowhere"}}}
        ]);
        let parsed = parse(operations);
        assert_eq!(
            order(&parsed),
            ["fail 1 409", "fail 0 409", "fail 2 409", "run 3", "run 4", "fail 5 400", "fail 6 400"]
        );
        let steps = execution_order(&parsed.entries);
        let Step::Fail(_, cycle) = &steps[0] else { panic!("{steps:?}") };
        assert!(cycle.detail.contains("\"qwerty\" -> \"ytrewq\" -> \"qwerty\""), "{}", cycle.detail);
        let Step::Fail(_, unknown) = &steps[5] else { panic!("{steps:?}") };
        assert_eq!(unknown.scim_type, Some(ScimType::InvalidValue));
        assert!(unknown.detail.contains("\"nowhere\" is not defined"), "{}", unknown.detail);
    }

    #[test]
    fn resolving_replaces_references_in_path_members_and_patch_values() {
        let parsed = parse(json!([
            {"method": "PATCH", "path": "/Groups/bulkId:g", "version": "W/\"1\"", "data": {"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "bulkId:u"}, {"value": "bulkId:u"}]},
                {"op": "replace", "path": "displayName", "value": "bulkId and more"}]}},
            {"method": "DELETE", "path": "/Users/bulkId:gone"}
        ]));
        let mut created = CreatedIds::default();
        created.record("g", "group-1");
        created.record("u", "user-1");
        let patch = created.resolve(parsed.entries[0].operation.as_ref().unwrap()).unwrap();
        let BulkAction::Patch(id, data) = &patch.action else { panic!("{patch:?}") };
        assert_eq!((id.as_str(), patch.version.as_deref()), ("group-1", Some("W/\"1\"")));
        assert_eq!(
            data["Operations"],
            json!([{"op": "add", "path": "members", "value": [{"value": "user-1"}, {"value": "user-1"}]},
                   {"op": "replace", "path": "displayName", "value": "bulkId and more"}])
        );
        let error = created.resolve(parsed.entries[1].operation.as_ref().unwrap()).unwrap_err();
        assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidValue)));
        assert!(error.detail.contains("\"gone\" has no resource"), "{}", error.detail);
    }

    #[test]
    fn malformed_entries_fail_alone_with_the_status_they_would_get_alone() {
        let parsed = parse(json!([
            "POST /Users",
            {"method": "GET", "path": "/Users"},
            {"path": "/Users", "data": {}},
            {"method": "post", "path": "/Printers", "data": {}},
            {"method": "POST", "path": "/Users/123", "data": {}},
            {"method": "DELETE", "path": "/Users"},
            {"method": "PUT", "path": "/Users/1"},
            {"method": "PATCH", "path": "/Users/1", "data": "x"},
            {"method": "POST", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": 7, "data": {}},
            {"method": "POST", "path": "/Users/", "data": {}},
            {"method": "POST", "path": "/Users/1/2", "data": {}},
            {"method": "delete", "path": "users/1", "data": "ignored"}
        ]));
        let statuses: Vec<(Option<&str>, u16)> = parsed
            .entries
            .iter()
            .map(|entry| (entry.method.as_deref(), entry.operation.as_ref().map_or_else(|e| e.status, |_| 0)))
            .collect();
        assert_eq!(
            statuses,
            [
                (None, 400),
                (Some("GET"), 400),
                (None, 400),
                (Some("POST"), 404),
                (Some("POST"), 405),
                (Some("DELETE"), 405),
                (Some("PUT"), 400),
                (Some("PATCH"), 400),
                (Some("POST"), 400),
                (Some("POST"), 400),
                (Some("POST"), 404),
                (Some("POST"), 404),
                (Some("DELETE"), 0),
            ]
        );
        assert_eq!(order(&parsed).len(), 13);
    }

    #[test]
    fn envelope_errors_reject_the_whole_request() {
        let cases = [
            (json!([]), 400, "JSON object"),
            (json!({"Operations": []}), 400, "'schemas' must contain"),
            (json!({"schemas": [BULK_REQUEST_SCHEMA]}), 400, "'Operations' must be an array"),
            (json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": 0, "Operations": []}), 400, "positive integer"),
            (json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": "1", "Operations": []}), 400, "positive integer"),
            (
                request(json!([{"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
                               {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {}}])),
                400,
                "bulkId \"a\" is used by more than one operation",
            ),
            (request(json!([{}, {}, {}])), 413, "has 3 operations; at most 2"),
        ];
        for (body, status, detail) in cases {
            let error = parse_bulk_request(&body, 2).expect_err(&body.to_string());
            assert_eq!(error.status, status, "{body}");
            assert!(error.detail.contains(detail), "{body}: {}", error.detail);
        }
        let lower_case = json!({"SCHEMAS": [BULK_REQUEST_SCHEMA], "failonerrors": 2, "operations": []});
        assert_eq!(parse_bulk_request(&lower_case, 2).unwrap().fail_on_errors, Some(2));
    }

    #[test]
    fn the_response_has_the_rfc7644_shape() {
        let response = bulk_response(&[
            OperationResponse {
                method: Some("POST".into()),
                bulk_id: Some("qwerty".into()),
                location: Some("https://example.com/v2/Users/92b7".into()),
                version: Some("W/\"1\"".into()),
                status: 201,
                response: None,
            },
            OperationResponse {
                method: Some("PUT".into()),
                bulk_id: None,
                location: None,
                version: None,
                status: 400,
                response: Some(json!({"status": "400"})),
            },
        ]);
        assert_eq!(
            response,
            json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": [
                {"location": "https://example.com/v2/Users/92b7", "method": "POST", "bulkId": "qwerty",
                 "version": "W/\"1\"", "status": "201"},
                {"method": "PUT", "status": "400", "response": {"status": "400"}}
            ]})
        );
    }
}
