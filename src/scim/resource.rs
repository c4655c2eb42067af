//! Validation and normalisation of a User or Group body for create (POST, RFC 7644 §3.3) and
//! replace (PUT, RFC 7644 §3.5.1) into the stored resource shape.

use serde_json::{Map, Value};

use crate::scim::error::{ScimError, ScimType};
use crate::scim::quirks;
use crate::scim::schema::{
    common_attributes, AttrType, AttributeDef, Mutability, ResourceKind, ResourceSchema, SchemaDef,
};

/// Which write the body is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WriteMode<'a> {
    /// POST: a new resource.
    Create,
    /// PUT: replaces `existing`, a stored resource, so immutable values are checked against it.
    Replace { existing: &'a Value },
}

/// A reference to a Group member taken from a Group body's `members` (RFC 7643 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    /// `"User"` or `"Group"` when the client said which.
    pub member_type: Option<String>,
    pub display: Option<String>,
}

/// A request body turned into the stored resource shape, plus what the store keeps elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedResource {
    /// Canonical attribute names, extension attributes under their URN key, `schemas` recomputed;
    /// no `id`, `meta`, `password`, User `groups` or Group `members`.
    pub data: Value,
    /// The cleartext `password`, to be hashed by the caller (RFC 7643 §4.1.1).
    pub password: Option<String>,
    /// Group members: `None` when the body has no `members`, `Some(vec![])` when it is null or empty.
    pub members: Option<Vec<MemberRef>>,
    /// Attributes the body had that no schema defines, as paths, for logging.
    pub ignored: Vec<String>,
}

/// Validates and normalises a POST or PUT body against `schema`.
///
/// Names are matched case-insensitively and rewritten to their canonical spelling (RFC 7643 §2.1);
/// readOnly attributes, nulls (unassigned, §2.5) and unknown attributes are dropped; values are
/// type-checked (§2.3) with the tolerances of `scim::quirks`; required attributes must be
/// non-blank; at most one `primary: true` per multi-valued attribute (§2.4); on replace, a set
/// immutable value must not change (RFC 7644 §3.5.1) and is kept when the body omits it.
pub fn normalize_resource(
    schema: &ResourceSchema,
    body: &Value,
    mode: WriteMode,
) -> Result<NormalizedResource, ScimError> {
    let body = body.as_object().ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let mut ignored = Vec::new();
    let mut password = None;
    let mut members = None;
    let mut core_values = Map::new();
    let mut extension_values: Vec<Map<String, Value>> = vec![Map::new(); schema.extensions.len()];
    let mut seen: Vec<String> = Vec::new();

    for (key, value) in body {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(index) = extension_index(schema, key) {
            let extension = &schema.extensions[index].0;
            mark_seen(&mut seen, &extension.id)?;
            let attributes = match value {
                Value::Null => continue,
                Value::Object(attributes) => attributes,
                other => {
                    return Err(wrong_type(&extension.id, "a JSON object", other));
                }
            };
            let mut seen_in_extension = Vec::new();
            for (name, attr_value) in attributes {
                let path = format!("{}:{name}", extension.id);
                let Some(def) = extension.attribute(name) else {
                    ignored.push(path);
                    continue;
                };
                mark_seen(&mut seen_in_extension, &def.name)?;
                if def.mutability == Mutability::ReadOnly {
                    continue;
                }
                let path = format!("{}:{}", extension.id, def.name);
                if let Some(mut v) = normalize_value(def, attr_value, &path, &mut ignored)? {
                    enforce_canonical_values(def, &mut v, &path)?;
                    extension_values[index].insert(def.name.clone(), v);
                }
            }
            continue;
        }
        let Some(def) = schema
            .core
            .attribute(key)
            .or_else(|| common_attributes().iter().find(|a| a.name.eq_ignore_ascii_case(key)))
        else {
            ignored.push(key.clone());
            continue;
        };
        mark_seen(&mut seen, &def.name)?;
        if def.mutability == Mutability::ReadOnly {
            continue;
        }
        if schema.kind == ResourceKind::User && def.name == "password" {
            password = match value {
                Value::Null => None,
                Value::String(p) => Some(p.clone()),
                other => return Err(wrong_type("password", "a string", other)),
            };
            continue;
        }
        if schema.kind == ResourceKind::Group && def.name == "members" {
            members = Some(member_refs(def, value, &mut ignored)?);
            continue;
        }
        if let Some(v) = normalize_value(def, value, &def.name, &mut ignored)? {
            core_values.insert(def.name.clone(), v);
        }
    }

    if matches!(mode, WriteMode::Create) && schema.kind == ResourceKind::User {
        // A new user is active unless the body says otherwise; stored, so that what `active eq
        // true` matches and what a response shows agree.
        core_values.entry("active").or_insert(Value::Bool(true));
    }
    let mut data = Map::new();
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    let mut ordered_core = Map::new();
    for def in common_attributes().iter().chain(&schema.core.attributes) {
        if let Some(v) = core_values.remove(&def.name) {
            ordered_core.insert(def.name.clone(), v);
        }
    }
    let mut ordered_extensions = Vec::new();
    for ((extension, _), mut values) in schema.extensions.iter().zip(extension_values) {
        if values.is_empty() {
            continue;
        }
        let mut ordered = Map::new();
        for def in &extension.attributes {
            if let Some(v) = values.remove(&def.name) {
                ordered.insert(def.name.clone(), v);
            }
        }
        schemas.push(Value::String(extension.id.clone()));
        ordered_extensions.push((extension.id.clone(), Value::Object(ordered)));
    }
    data.insert("schemas".into(), Value::Array(schemas));
    data.extend(ordered_core);
    data.extend(ordered_extensions);

    if let WriteMode::Replace { existing } = mode {
        keep_immutable_values(schema, existing, &mut data)?;
    }
    check_required(schema, &data)?;

    Ok(NormalizedResource { data: Value::Object(data), password, members, ignored })
}

fn extension_index(schema: &ResourceSchema, key: &str) -> Option<usize> {
    schema.extensions.iter().position(|(extension, _)| extension.id.eq_ignore_ascii_case(key))
}

fn mark_seen(seen: &mut Vec<String>, canonical: &str) -> Result<(), ScimError> {
    if seen.iter().any(|s| s == canonical) {
        return Err(ScimError::invalid_syntax(format!(
            "attribute '{canonical}' appears more than once (attribute names are case-insensitive)"
        )));
    }
    seen.push(canonical.to_string());
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!("attribute '{path}': expected {expected}, got {}", json_kind(got)))
}

/// Normalises one attribute's value; `Ok(None)` means unassigned (RFC 7643 §2.5).
fn normalize_value(
    def: &AttributeDef,
    value: &Value,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        if value.is_array() {
            return Err(wrong_type(path, &format!("a single {}", def.attr_type.as_str()), value));
        }
        return normalize_single(def, value, path, ignored);
    }
    let mut values = Vec::new();
    for item in quirks::single_value_as_array(value.clone()) {
        if item.is_null() {
            continue;
        }
        if item.is_array() {
            return Err(wrong_type(path, &format!("{} values", def.attr_type.as_str()), &item));
        }
        if let Some(v) = normalize_single(def, &item, path, ignored)? {
            values.push(v);
        }
    }
    if values.is_empty() {
        return Ok(None);
    }
    let primaries = values.iter().filter(|v| v.get("primary") == Some(&Value::Bool(true))).count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "attribute '{path}': {primaries} values have \"primary\": true, at most one may (RFC 7643 §2.4)"
        )));
    }
    Ok(Some(Value::Array(values)))
}

fn normalize_single(
    def: &AttributeDef,
    value: &Value,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Option<Value>, ScimError> {
    if def.attr_type != AttrType::Complex {
        return check_scalar(def, value, path).map(Some);
    }
    let Value::Object(fields) = value else {
        return Err(wrong_type(path, "a complex object", value));
    };
    let mut values = Map::new();
    let mut seen = Vec::new();
    for (name, field) in fields {
        let Some(sub) = def.sub_attribute(name) else {
            ignored.push(format!("{path}.{name}"));
            continue;
        };
        mark_seen(&mut seen, &format!("{path}.{}", sub.name))?;
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        if let Some(v) = normalize_value(sub, field, &sub_path, ignored)? {
            values.insert(sub.name.clone(), v);
        }
    }
    if values.is_empty() {
        return Ok(None);
    }
    let mut ordered = Map::new();
    for sub in &def.sub_attributes {
        let sub_value = values.remove(&sub.name);
        if sub.required && sub.mutability != Mutability::ReadOnly && sub_value.as_ref().is_none_or(is_blank) {
            return Err(ScimError::invalid_value(format!(
                "attribute '{path}.{}' is required and must not be empty",
                sub.name
            )));
        }
        if let Some(v) = sub_value {
            ordered.insert(sub.name.clone(), v);
        }
    }
    Ok(Some(Value::Object(ordered)))
}

fn check_scalar(def: &AttributeDef, value: &Value, path: &str) -> Result<Value, ScimError> {
    let ok = match def.attr_type {
        AttrType::String | AttrType::Reference => value.is_string(),
        AttrType::Boolean => {
            if value.is_boolean() {
                true
            } else if let Some(b) = quirks::boolean_from_string(value) {
                return Ok(Value::Bool(b));
            } else {
                false
            }
        }
        AttrType::Integer => value.is_i64() || value.is_u64(),
        AttrType::Decimal => value.is_number(),
        AttrType::DateTime => value.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        AttrType::Binary => value.as_str().is_some_and(is_base64),
        AttrType::Complex => false,
    };
    if ok {
        return Ok(value.clone());
    }
    let expected = match def.attr_type {
        AttrType::String => "a string",
        AttrType::Reference => "a reference (a URI string)",
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a decimal number",
        AttrType::DateTime => "a dateTime (an RFC 3339 string such as 2015-09-15T08:00:00Z)",
        AttrType::Binary => "binary data (a base64 string)",
        AttrType::Complex => "a complex object",
    };
    if value.is_string() && !matches!(def.attr_type, AttrType::String | AttrType::Reference) {
        return Err(ScimError::invalid_value(format!(
            "attribute '{path}': expected {expected}, got the string {value}"
        )));
    }
    Err(wrong_type(path, expected, value))
}

/// Holds a value of an extension attribute to its `canonicalValues` (sub-attributes included),
/// rewriting each to the canonical spelling; anything else is 400 invalidValue.
///
/// RFC 7643 §7 lets a service provider ignore values it does not support. Roster treats the
/// canonical values of extension schemas, which an operator registers to constrain a value, as a
/// closed list (matched case-insensitively unless `caseExact`), and the `type` labels of the core
/// schemas (RFC 7643 §2.4, `"work"`, `"home"`, ...) as suggestions: identity providers send others.
pub(crate) fn enforce_canonical_values(def: &AttributeDef, value: &mut Value, path: &str) -> Result<(), ScimError> {
    match value {
        Value::Array(items) => {
            for item in items {
                enforce_canonical_values(def, item, path)?;
            }
        }
        Value::Object(fields) if def.attr_type == AttrType::Complex => {
            for (name, field) in fields.iter_mut() {
                if let Some(sub) = def.sub_attribute(name) {
                    enforce_canonical_values(sub, field, &format!("{path}.{}", sub.name))?;
                }
            }
        }
        Value::String(text) if !def.canonical_values.is_empty() => {
            let canonical = def
                .canonical_values
                .iter()
                .find(|c| if def.case_exact { *c == text } else { c.to_lowercase() == text.to_lowercase() })
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "attribute '{path}': \"{text}\" is not one of its canonical values {}",
                        def.canonical_values.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
                    ))
                })?;
            *text = canonical.clone();
        }
        _ => {}
    }
    Ok(())
}

/// Standard base64 (RFC 4648 §4), padding optional, as RFC 7643 §2.3.6 requires for binary.
fn is_base64(text: &str) -> bool {
    let unpadded = text.trim_end_matches('=');
    let padding = text.len() - unpadded.len();
    padding <= 2
        && unpadded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && unpadded.len() % 4 != 1
        && (padding == 0 || text.len() % 4 == 0)
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

fn member_refs(def: &AttributeDef, value: &Value, ignored: &mut Vec<String>) -> Result<Vec<MemberRef>, ScimError> {
    let Some(Value::Array(items)) = normalize_value(def, value, &def.name, ignored)? else {
        return Ok(Vec::new());
    };
    let mut refs: Vec<MemberRef> = Vec::new();
    for item in items {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
        let member_value = text("value").filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "attribute 'members.value' is required for every member, missing in {item}"
            ))
        })?;
        let member_type = match text("type") {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("User") => Some("User".to_string()),
            Some(t) if t.eq_ignore_ascii_case("Group") => Some("Group".to_string()),
            Some(t) => {
                return Err(ScimError::invalid_value(format!(
                    "attribute 'members.type': expected \"User\" or \"Group\", got \"{t}\""
                )))
            }
        };
        if refs.iter().any(|r| r.value == member_value) {
            continue;
        }
        refs.push(MemberRef { value: member_value, member_type, display: text("display") });
    }
    Ok(refs)
}

fn check_required(schema: &ResourceSchema, data: &Map<String, Value>) -> Result<(), ScimError> {
    let check = |definitions: &[AttributeDef], values: Option<&Map<String, Value>>, prefix: &str| {
        for def in definitions {
            if !def.required || def.mutability == Mutability::ReadOnly {
                continue;
            }
            if values.and_then(|v| v.get(&def.name)).is_none_or(is_blank) {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{prefix}{}' is required and must not be empty",
                    def.name
                )));
            }
        }
        Ok(())
    };
    check(&schema.core.attributes, Some(data), "")?;
    for (extension, required) in &schema.extensions {
        match data.get(&extension.id).and_then(Value::as_object) {
            Some(values) => check(&extension.attributes, Some(values), &format!("{}:", extension.id))?,
            None if *required => {
                return Err(ScimError::invalid_value(format!(
                    "the schema extension '{}' is required for this resource type",
                    extension.id
                )))
            }
            None => {}
        }
    }
    Ok(())
}

fn get_ci<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| !v.is_null())
}

/// RFC 7644 §3.5.1: a set immutable value must be sent unchanged; omitted, it is kept.
fn keep_immutable_values(
    schema: &ResourceSchema,
    existing: &Value,
    data: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let mut scopes: Vec<(Option<&SchemaDef>, Vec<&AttributeDef>)> =
        vec![(None, common_attributes().iter().chain(&schema.core.attributes).collect())];
    for (extension, _) in &schema.extensions {
        scopes.push((Some(extension), extension.attributes.iter().collect()));
    }
    for (extension, definitions) in scopes {
        let old_scope = match extension {
            None => Some(existing),
            Some(ext) => get_ci(existing, &ext.id),
        };
        let Some(old_scope) = old_scope else { continue };
        for def in definitions {
            if def.mutability == Mutability::ReadOnly || (schema.kind == ResourceKind::Group && def.name == "members") {
                continue;
            }
            let path = match extension {
                None => def.name.clone(),
                Some(ext) => format!("{}:{}", ext.id, def.name),
            };
            let Some(old) = get_ci(old_scope, &def.name) else {
                continue;
            };
            if def.mutability == Mutability::Immutable {
                let new = scope_mut(data, extension).get(&def.name);
                match new {
                    Some(new) if !same_value(def, old, new) => {
                        return Err(immutable_changed(&path));
                    }
                    Some(_) => {}
                    None => {
                        scope_mut(data, extension).insert(def.name.clone(), old.clone());
                    }
                }
                continue;
            }
            if def.attr_type != AttrType::Complex || def.multi_valued {
                continue;
            }
            for sub in &def.sub_attributes {
                if sub.mutability != Mutability::Immutable {
                    continue;
                }
                let Some(old_sub) = get_ci(old, &sub.name) else {
                    continue;
                };
                let scope = scope_mut(data, extension);
                let parent = scope.entry(def.name.clone()).or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(parent) = parent else {
                    continue;
                };
                match parent.get(&sub.name) {
                    Some(new_sub) if !same_value(sub, old_sub, new_sub) => {
                        return Err(immutable_changed(&format!("{path}.{}", sub.name)));
                    }
                    Some(_) => {}
                    None => {
                        parent.insert(sub.name.clone(), old_sub.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

fn scope_mut<'a>(data: &'a mut Map<String, Value>, extension: Option<&SchemaDef>) -> &'a mut Map<String, Value> {
    let Some(extension) = extension else {
        return data;
    };
    if !data.contains_key(&extension.id) {
        if let Some(Value::Array(schemas)) = data.get_mut("schemas") {
            schemas.push(Value::String(extension.id.clone()));
        }
    }
    let scope = data.entry(extension.id.clone()).or_insert_with(|| Value::Object(Map::new()));
    if !scope.is_object() {
        *scope = Value::Object(Map::new());
    }
    scope.as_object_mut().expect("scope was just made an object")
}

fn immutable_changed(path: &str) -> ScimError {
    ScimError::bad_request(
        ScimType::Mutability,
        format!("attribute '{path}' is immutable and already has a different value"),
    )
}

/// Equality under the attribute's `caseExact` characteristic (RFC 7643 §2.2).
fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_value(def, x, y))
        }
        (Value::Object(_), Value::Object(_)) if def.attr_type == AttrType::Complex => {
            def.sub_attributes.iter().all(|sub| match (get_ci(a, &sub.name), get_ci(b, &sub.name)) {
                (None, None) => true,
                (Some(x), Some(y)) => same_value(sub, x, y),
                _ => false,
            })
        }
        (Value::String(x), Value::String(y)) if !def.case_exact => x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{SchemaRegistry, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn registry() -> SchemaRegistry {
        SchemaRegistry::standard()
    }

    fn user_schema() -> ResourceSchema {
        registry().user
    }

    fn group_schema() -> ResourceSchema {
        registry().group
    }

    /// RFC 7643 §8.2, the full User representation.
    fn rfc7643_full_user() -> Value {
        json!({
          "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
          "id": "2819c223-7f76-453a-919d-413861904646",
          "externalId": "701984",
          "userName": "bjensen@example.com",
          "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
          },
          "displayName": "Babs Jensen",
          "nickName": "Babs",
          "profileUrl": "https://login.example.com/bjensen",
          "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
          ],
          "addresses": [
            {
              "type": "work",
              "streetAddress": "100 Universal City Plaza",
              "locality": "Hollywood",
              "region": "CA",
              "postalCode": "91608",
              "country": "USA",
              "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
              "primary": true
            },
            {
              "type": "home",
              "streetAddress": "456 Hollywood Blvd",
              "locality": "Hollywood",
              "region": "CA",
              "postalCode": "91608",
              "country": "USA",
              "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"
            }
          ],
          "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
          ],
          "ims": [{"value": "someaimhandle", "type": "aim"}],
          "photos": [
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
          ],
          "userType": "Employee",
          "title": "Tour Guide",
          "preferredLanguage": "en-US",
          "locale": "en-US",
          "timezone": "America/Los_Angeles",
          "active": true,
          "password": "t1meMa$heen",
          "groups": [
            {
              "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
              "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
              "display": "Tour Guides"
            },
            {
              "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
              "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
              "display": "Employees"
            },
            {
              "value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
              "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
              "display": "US Employees"
            }
          ],
          "x509Certificates": [
            {
              "value": concat!(
                "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx",
                "EzARBgNVBAgMCkNhbGlmb3JuaWExFDASBgNVBAoMC2V4YW1wbGUuY29tMRQwEgYD",
                "VQQDDAtleGFtcGxlLmNvbTAeFw0xMTEwMjIwNjI0MzFaFw0xMjEwMDQwNjI0MzFa",
                "MH8xCzAJBgNVBAYTAlVTMRMwEQYDVQQIDApDYWxpZm9ybmlhMRQwEgYDVQQKDAtl",
                "eGFtcGxlLmNvbTEhMB8GA1UEAwwYTXMuIEJhcmJhcmEgSiBKZW5zZW4gSUlJMSIw",
                "IAYJKoZIhvcNAQkBFhNiamVuc2VuQGV4YW1wbGUuY29tMIIBIjANBgkqhkiG9w0B",
                "AQEFAAOCAQ8AMIIBCgKCAQEA7Kr+Dcds/JQ5GwejJFcBIP682X3xpjis56AK02bc",
                "1FLgzdLI8auoR+cC9/Vrh5t66HkQIOdA4unHh0AaZ4xL5PhVbXIPMB5vAPKpzz5i",
                "PSi8xO8SL7I7SDhcBVJhqVqr3HgllEG6UClDdHO7nkLuwXq8HcISKkbT5WFTVfFZ",
                "zidPl8HZ7DhXkZIRtJwBweq4bvm3hM1Os7UQH05ZS6cVDgweKNwdLLrT51ikSQG3",
                "DYrl+ft781UQRIqxgwqCfXEuDiinPh0kkvIi5jivVu1Z9QiwlYEdRbLJ4zJQBmDr",
                "SGTMYn4lRc2HgHO4DqB/bnMVorHB0CC6AV1QoFK4GPe1LwIDAQABo3sweTAJBgNV",
                "HRMEAjAAMCwGCWCGSAGG+EIBDQQfFh1PcGVuU1NMIEdlbmVyYXRlZCBDZXJ0aWZp",
                "Y2F0ZTAdBgNVHQ4EFgQU8pD0U0vsZIsaA16lL8En8bx0F/gwHwYDVR0jBBgwFoAU",
                "dGeKitcaF7gnzsNwDx708kqaVt0wDQYJKoZIhvcNAQEFBQADgYEAA81SsFnOdYJt",
                "Ng5Tcq+/ByEDrBgnusx0jloUhByPMEVkoMZ3J7j1ZgI8rAbOkNngX8+pKfTiDz1R",
                "C4+dx8oU6Za+4NJXUjlL5CvV6BEYb1+QAEJwitTVvxB/A67g42/vzgAtoRUeDov1",
                "+GFiBZ+GNF/cAYKcMtGcrs2i97ZkJMo="
              )
            }
          ],
          "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"a330bc54f0671c9\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
          }
        })
    }

    /// RFC 7643 §8.3, the Enterprise extension part of the enterprise User example.
    fn rfc7643_enterprise_part() -> Value {
        json!({
          "employeeNumber": "701984",
          "costCenter": "4130",
          "organization": "Universal Studios",
          "division": "Theme Park",
          "department": "Tour Operations",
          "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
            "displayName": "John Smith"
          }
        })
    }

    fn create(schema: &ResourceSchema, body: Value) -> Result<NormalizedResource, ScimError> {
        normalize_resource(schema, &body, WriteMode::Create)
    }

    #[test]
    fn rfc7643_full_user_normalizes() {
        let full = rfc7643_full_user();
        let normalized = create(&user_schema(), full.clone()).unwrap();
        assert_eq!(normalized.password.as_deref(), Some("t1meMa$heen"));
        assert_eq!(normalized.members, None);
        assert!(normalized.ignored.is_empty(), "{:?}", normalized.ignored);

        let mut expected = full.as_object().unwrap().clone();
        for stored_elsewhere in ["id", "meta", "password", "groups"] {
            expected.remove(stored_elsewhere);
        }
        let data = normalized.data.as_object().unwrap();
        assert_eq!(data.len(), expected.len());
        for (key, value) in &expected {
            assert_eq!(data.get(key), Some(value), "{key}");
        }
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(&keys[..3], ["schemas", "externalId", "userName"]);
    }

    #[test]
    fn rfc7643_enterprise_user_keeps_extension_under_its_urn() {
        let mut body = rfc7643_full_user();
        body["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
        body[ENTERPRISE_USER_SCHEMA] = rfc7643_enterprise_part();
        let data = create(&user_schema(), body).unwrap().data;
        assert_eq!(data["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        let mut expected = rfc7643_enterprise_part();
        expected["manager"].as_object_mut().unwrap().remove("displayName");
        assert_eq!(data[ENTERPRISE_USER_SCHEMA], expected);
    }

    #[test]
    fn rfc7643_group_splits_members_out() {
        let body = json!({
          "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
          "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
          "displayName": "Tour Guides",
          "members": [
            {
              "value": "2819c223-7f76-453a-919d-413861904646",
              "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
              "display": "Babs Jensen"
            },
            {
              "value": "902c246b-6245-4190-8e05-00816be7344a",
              "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
              "display": "Mandy Pepperidge",
              "type": "user"
            }
          ]
        });
        let normalized = create(&group_schema(), body).unwrap();
        assert_eq!(normalized.data, json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"}));
        assert_eq!(
            normalized.members,
            Some(vec![
                MemberRef {
                    value: "2819c223-7f76-453a-919d-413861904646".into(),
                    member_type: None,
                    display: Some("Babs Jensen".into()),
                },
                MemberRef {
                    value: "902c246b-6245-4190-8e05-00816be7344a".into(),
                    member_type: Some("User".into()),
                    display: Some("Mandy Pepperidge".into()),
                },
            ])
        );
    }

    #[test]
    fn members_presence_cases() {
        let cases = [
            (json!({"displayName": "g"}), None),
            (json!({"displayName": "g", "members": null}), Some(vec![])),
            (json!({"displayName": "g", "members": []}), Some(vec![])),
            (
                json!({"displayName": "g", "members": {"value": "u1", "type": "Group"}}),
                Some(vec![MemberRef { value: "u1".into(), member_type: Some("Group".into()), display: None }]),
            ),
            (
                json!({"displayName": "g", "members": [{"value": "u1"}, {"VALUE": "u1"}]}),
                Some(vec![MemberRef { value: "u1".into(), member_type: None, display: None }]),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(create(&group_schema(), body.clone()).unwrap().members, expected, "{body}");
        }
    }

    #[test]
    fn accepted_inputs_normalize_to_canonical_shape() {
        let cases = [
            (
                "names are case-insensitive, also sub-attributes",
                json!({"USERNAME": "bjensen", "Name": {"GIVENNAME": "Barbara"}, "EMAILS": [{"Value": "b@example.com", "PRIMARY": true}]}),
                json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "name": {"givenName": "Barbara"},
                       "emails": [{"value": "b@example.com", "primary": true}]}),
            ),
            (
                "stringly booleans (Entra ID)",
                json!({"userName": "b", "active": "False", "emails": [{"value": "b@example.com", "primary": "True"}]}),
                json!({"schemas": [USER_SCHEMA], "userName": "b", "active": false,
                       "emails": [{"value": "b@example.com", "primary": true}]}),
            ),
            (
                "a single object for a multi-valued attribute (Okta, OneLogin)",
                json!({"userName": "b", "emails": {"value": "b@example.com", "type": "work"}}),
                json!({"schemas": [USER_SCHEMA], "userName": "b", "emails": [{"value": "b@example.com", "type": "work"}]}),
            ),
            (
                "readOnly attributes are ignored",
                json!({"userName": "b", "id": "abc", "meta": {"version": "W/\"1\""},
                       "groups": [{"value": "g1"}]}),
                json!({"schemas": [USER_SCHEMA], "userName": "b"}),
            ),
            (
                "nulls and empty arrays are unassigned",
                json!({"userName": "b", "displayName": null, "emails": [], "phoneNumbers": [null], "name": {"givenName": null}}),
                json!({"schemas": [USER_SCHEMA], "userName": "b"}),
            ),
            (
                "schemas is recomputed; unknown URIs are ignored",
                json!({"schemas": ["urn:example:unknown", ENTERPRISE_USER_SCHEMA], "userName": "b"}),
                json!({"schemas": [USER_SCHEMA], "userName": "b"}),
            ),
            (
                "extension URN matched case-insensitively",
                json!({"userName": "b", "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "Ops"}}),
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "b", ENTERPRISE_USER_SCHEMA: {"department": "Ops"}}),
            ),
            (
                "an extension with only readOnly values is absent",
                json!({"userName": "b", ENTERPRISE_USER_SCHEMA: {"manager": {"displayName": "John"}}}),
                json!({"schemas": [USER_SCHEMA], "userName": "b"}),
            ),
            (
                "externalId kept as sent",
                json!({"userName": "b", "EXTERNALID": "AbC-1"}),
                json!({"schemas": [USER_SCHEMA], "externalId": "AbC-1", "userName": "b"}),
            ),
            (
                "values are not trimmed",
                json!({"userName": " b ", "displayName": "  "}),
                json!({"schemas": [USER_SCHEMA], "userName": " b ", "displayName": "  "}),
            ),
        ];
        for (case, body, mut expected) in cases {
            let normalized = create(&user_schema(), body).unwrap_or_else(|e| panic!("{case}: {e}"));
            expected.as_object_mut().unwrap().entry("active").or_insert(json!(true));
            assert_eq!(normalized.data, expected, "{case}");
        }
    }

    #[test]
    fn unknown_attributes_are_ignored_and_listed() {
        let body = json!({
            "userName": "b",
            "favouriteColour": "blue",
            "name": {"givenName": "B", "nickname2": "x"},
            ENTERPRISE_USER_SCHEMA: {"badge": 7},
            "urn:example:unknown:1.0:User": {"a": 1}
        });
        let normalized = create(&user_schema(), body).unwrap();
        assert_eq!(
            normalized.ignored,
            vec![
                "favouriteColour".to_string(),
                "name.nickname2".to_string(),
                format!("{ENTERPRISE_USER_SCHEMA}:badge"),
                "urn:example:unknown:1.0:User".to_string(),
            ]
        );
        assert_eq!(
            normalized.data,
            json!({"schemas": [USER_SCHEMA], "userName": "b", "name": {"givenName": "B"}, "active": true})
        );
    }

    #[test]
    fn rejected_inputs() {
        let cases: Vec<(&str, Value, ScimType, &str)> = vec![
            ("not an object", json!(["userName"]), ScimType::InvalidSyntax, "JSON object"),
            ("userName missing", json!({"displayName": "b"}), ScimType::InvalidValue, "'userName' is required"),
            ("userName empty", json!({"userName": ""}), ScimType::InvalidValue, "'userName' is required"),
            ("userName blank", json!({"userName": "   "}), ScimType::InvalidValue, "'userName' is required"),
            ("userName null", json!({"userName": null}), ScimType::InvalidValue, "'userName' is required"),
            (
                "userName number",
                json!({"userName": 42}),
                ScimType::InvalidValue,
                "'userName': expected a string, got a number",
            ),
            (
                "active as word",
                json!({"userName": "b", "active": "yes"}),
                ScimType::InvalidValue,
                "'active': expected a boolean, got the string \"yes\"",
            ),
            (
                "active as number",
                json!({"userName": "b", "active": 1}),
                ScimType::InvalidValue,
                "'active': expected a boolean",
            ),
            (
                "name not complex",
                json!({"userName": "b", "name": "Barbara"}),
                ScimType::InvalidValue,
                "'name': expected a complex object, got a string",
            ),
            (
                "single-valued as array",
                json!({"userName": "b", "displayName": ["B"]}),
                ScimType::InvalidValue,
                "'displayName': expected a single string, got an array",
            ),
            (
                "sub-attribute wrong type",
                json!({"userName": "b", "emails": [{"value": true}]}),
                ScimType::InvalidValue,
                "'emails.value': expected a string, got a boolean",
            ),
            (
                "multi-valued element not complex",
                json!({"userName": "b", "emails": ["b@example.com"]}),
                ScimType::InvalidValue,
                "'emails': expected a complex object",
            ),
            (
                "binary not base64",
                json!({"userName": "b", "x509Certificates": [{"value": "not base64!"}]}),
                ScimType::InvalidValue,
                "'x509Certificates.value': expected binary data",
            ),
            (
                "reference not string",
                json!({"userName": "b", "profileUrl": {}}),
                ScimType::InvalidValue,
                "'profileUrl': expected a reference",
            ),
            (
                "two primaries",
                json!({"userName": "b", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": "true"}]}),
                ScimType::InvalidValue,
                "'emails': 2 values have \"primary\": true",
            ),
            (
                "extension not object",
                json!({"userName": "b", ENTERPRISE_USER_SCHEMA: "Ops"}),
                ScimType::InvalidValue,
                "expected a JSON object",
            ),
            (
                "extension attr wrong type",
                json!({"userName": "b", ENTERPRISE_USER_SCHEMA: {"manager": {"value": 7}}}),
                ScimType::InvalidValue,
                "enterprise:2.0:User:manager.value': expected a string",
            ),
            (
                "password not string",
                json!({"userName": "b", "password": 1234}),
                ScimType::InvalidValue,
                "'password': expected a string",
            ),
            (
                "duplicate names",
                json!({"userName": "b", "USERNAME": "c"}),
                ScimType::InvalidSyntax,
                "'userName' appears more than once",
            ),
        ];
        for (case, body, scim_type, detail) in cases {
            let err = create(&user_schema(), body).expect_err(case);
            assert_eq!((err.status, err.scim_type), (400, Some(scim_type)), "{case}: {err}");
            assert!(err.detail.contains(detail), "{case}: {}", err.detail);
        }
    }

    #[test]
    fn rejected_group_inputs() {
        let cases = [
            (json!({"members": [{"value": "u1"}]}), "'displayName' is required"),
            (json!({"displayName": ""}), "'displayName' is required"),
            (json!({"displayName": "g", "members": [{"display": "Babs"}]}), "'members.value' is required"),
            (json!({"displayName": "g", "members": [{"value": "u1", "type": "Device"}]}), "'members.type'"),
            (json!({"displayName": "g", "members": "u1"}), "'members': expected a complex object"),
        ];
        for (body, detail) in cases {
            let err = create(&group_schema(), body.clone()).expect_err(&body.to_string());
            assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{body}");
            assert!(err.detail.contains(detail), "{body}: {}", err.detail);
        }
    }

    fn lab_user_schema() -> ResourceSchema {
        let lab = SchemaDef::from_json(&json!({
            "id": "urn:example:params:scim:schemas:extension:lab:2.0:User",
            "name": "LabUser",
            "attributes": [
                {"name": "badgeNumber", "type": "string", "mutability": "immutable", "caseExact": true},
                {"name": "clearance", "type": "integer", "required": true},
                {"name": "hired", "type": "dateTime"},
                {"name": "ratio", "type": "decimal"},
                {"name": "site", "type": "complex", "subAttributes": [
                    {"name": "code", "type": "string", "mutability": "immutable", "required": true},
                    {"name": "label", "type": "string"}
                ]}
            ]
        }))
        .unwrap();
        registry().with_extension(ResourceKind::User, lab, true).unwrap().user
    }

    const LAB: &str = "urn:example:params:scim:schemas:extension:lab:2.0:User";

    #[test]
    fn extension_types_and_required_extension() {
        let schema = lab_user_schema();
        let ok = json!({"userName": "b", LAB: {"clearance": 3, "hired": "2015-09-15T08:00:00+02:00", "ratio": 0.5}});
        let data = create(&schema, ok).unwrap().data;
        assert_eq!(data["schemas"], json!([USER_SCHEMA, LAB]));
        assert_eq!(data[LAB]["clearance"], json!(3));

        let cases = [
            (
                json!({"userName": "b"}),
                "extension 'urn:example:params:scim:schemas:extension:lab:2.0:User' is required",
            ),
            (json!({"userName": "b", LAB: {"ratio": 1}}), "lab:2.0:User:clearance' is required"),
            (json!({"userName": "b", LAB: {"clearance": 1.5}}), "clearance': expected an integer"),
            (
                json!({"userName": "b", LAB: {"clearance": "3"}}),
                "clearance': expected an integer, got the string \"3\"",
            ),
            (json!({"userName": "b", LAB: {"clearance": 3, "hired": "15/09/2015"}}), "hired': expected a dateTime"),
            (
                json!({"userName": "b", LAB: {"clearance": 3, "site": {"label": "Paris"}}}),
                "lab:2.0:User:site.code' is required",
            ),
            (json!({"userName": "b", LAB: {"clearance": 3, "ratio": "0.5"}}), "ratio': expected a decimal number"),
        ];
        for (body, detail) in cases {
            let err = create(&schema, body.clone()).expect_err(&body.to_string());
            assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{body}");
            assert!(err.detail.contains(detail), "{body}: {}", err.detail);
        }
    }

    #[test]
    fn immutable_values_on_replace() {
        let schema = lab_user_schema();
        let existing = json!({
            "schemas": [USER_SCHEMA, LAB],
            "userName": "b",
            LAB: {"badgeNumber": "B-1", "clearance": 2, "site": {"code": "PAR", "label": "Paris"}}
        });
        let replace = |body: Value| normalize_resource(&schema, &body, WriteMode::Replace { existing: &existing });

        let same =
            replace(json!({"userName": "B", LAB: {"badgeNumber": "B-1", "clearance": 3, "site": {"code": "PAR"}}}))
                .unwrap();
        assert_eq!(same.data[LAB], json!({"badgeNumber": "B-1", "clearance": 3, "site": {"code": "PAR"}}));

        let omitted = replace(json!({"userName": "b", LAB: {"clearance": 3}})).unwrap();
        assert_eq!(omitted.data[LAB], json!({"badgeNumber": "B-1", "clearance": 3, "site": {"code": "PAR"}}));

        let changes = [
            (json!({"userName": "b", LAB: {"badgeNumber": "B-2", "clearance": 2}}), "badgeNumber"),
            (json!({"userName": "b", LAB: {"badgeNumber": "b-1", "clearance": 2}}), "badgeNumber"),
            (json!({"userName": "b", LAB: {"clearance": 2, "site": {"code": "LYS"}}}), "site.code"),
        ];
        for (body, attribute) in changes {
            let err = replace(body.clone()).expect_err(&body.to_string());
            assert_eq!((err.status, err.scim_type), (400, Some(ScimType::Mutability)), "{body}");
            assert!(err.detail.contains(attribute), "{body}: {}", err.detail);
        }

        let fresh = json!({"schemas": [USER_SCHEMA], "userName": "b"});
        let first_set = normalize_resource(
            &schema,
            &json!({"userName": "b", LAB: {"badgeNumber": "B-9", "clearance": 1}}),
            WriteMode::Replace { existing: &fresh },
        );
        assert!(first_set.is_ok());
    }

    #[test]
    fn extension_canonical_values_are_a_closed_list_and_core_type_labels_are_open() {
        const DEVICE: &str = "urn:example:params:scim:schemas:extension:device:2.0:User";
        let device = SchemaDef::from_json(&json!({
            "id": DEVICE,
            "attributes": [
                {"name": "platform", "canonicalValues": ["iOS", "macOS"]},
                {"name": "code", "caseExact": true, "canonicalValues": ["A1"]},
                {"name": "tags", "multiValued": true, "canonicalValues": ["red", "blue"]},
                {"name": "site", "type": "complex", "subAttributes": [{"name": "kind", "canonicalValues": ["Office"]}]}
            ]
        }))
        .unwrap();
        let schema = registry().with_extension(ResourceKind::User, device, false).unwrap().user;
        let accepted = create(
            &schema,
            json!({"userName": "b", "emails": [{"value": "b@x", "type": "Telepathy"}],
                   DEVICE: {"platform": "MACOS", "code": "A1", "tags": ["RED", "blue"], "site": {"kind": "office"}}}),
        )
        .unwrap();
        assert_eq!(
            accepted.data[DEVICE],
            json!({"platform": "macOS", "code": "A1", "tags": ["red", "blue"], "site": {"kind": "Office"}})
        );
        assert_eq!(accepted.data["emails"][0]["type"], "Telepathy");

        let cases = [
            (
                json!({"platform": "Android"}),
                "platform': \"Android\" is not one of its canonical values \"iOS\", \"macOS\"",
            ),
            (json!({"code": "a1"}), "code': \"a1\" is not one of"),
            (json!({"tags": ["red", "green"]}), "tags': \"green\" is not one of"),
            (json!({"site": {"kind": "Home"}}), "site.kind': \"Home\" is not one of"),
        ];
        for (values, detail) in cases {
            let err = create(&schema, json!({"userName": "b", DEVICE: values})).expect_err(&values.to_string());
            assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{values}");
            assert!(err.detail.contains(detail), "{values}: {}", err.detail);
        }
    }

    #[test]
    fn base64_cases() {
        let cases = [
            ("", true),
            ("TWFu", true),
            ("TWE=", true),
            ("TQ==", true),
            ("TWE", true),
            ("T", false),
            ("TQ===", false),
            ("TW E=", false),
            ("TW-_", false),
            ("TWE=TWE=", false),
        ];
        for (input, expected) in cases {
            assert_eq!(is_base64(input), expected, "{input:?}");
        }
    }
}
