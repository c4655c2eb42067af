//! Operator-registered schema extensions (RFC 7643 §3.3, §7): the definition file format, the checks
//! that keep an extension usable in paths, filters and PATCH, and its registration.
//!
//! A definition file is one JSON object (documented in `docs/custom-schemas.md`):
//! `{"resourceType": "User" | "Group", "required": false, "schema": { <RFC 7643 §7 schema> }}`.

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{
    AttrType, AttributeDef, Mutability, ResourceKind, Returned, SchemaDef, SchemaRegistry, Uniqueness,
};

/// The members a definition file may have.
const DEFINITION_KEYS: [&str; 3] = ["resourceType", "required", "schema"];

/// One extension schema, the resource type it extends and whether that type requires it
/// (RFC 7643 §6, `schemaExtensions`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionDefinition {
    pub kind: ResourceKind,
    pub required: bool,
    pub schema: SchemaDef,
}

impl ExtensionDefinition {
    /// Parses and checks a definition file's JSON.
    ///
    /// Beyond `SchemaDef::from_json`, the schema id must be a URN (RFC 7643 §3, §8.7: the filter and
    /// PATCH path grammars of RFC 7644 §3.4.2.2 and §3.5.2 recognise `urn:...:attr`), attribute names
    /// must follow the ATTRNAME grammar of RFC 7643 §2.1, `uniqueness` must be `none` (Roster does
    /// not enforce it on extension attributes, so it does not advertise it), a `writeOnly` attribute
    /// must be `returned: never` (RFC 7643 §7), and `canonicalValues` may only be declared on
    /// string attributes, where Roster enforces them.
    pub fn from_json(value: &Value) -> Result<ExtensionDefinition, ScimError> {
        let object = value.as_object().ok_or_else(|| invalid("the file must hold one JSON object"))?;
        if let Some(unknown) = object.keys().find(|key| !DEFINITION_KEYS.contains(&key.as_str())) {
            return Err(invalid(format!(
                "unknown member \"{unknown}\" (a definition has \"resourceType\", \"required\" and \"schema\")"
            )));
        }
        let kind = match object.get("resourceType").and_then(Value::as_str) {
            Some(name) if name.eq_ignore_ascii_case("User") => ResourceKind::User,
            Some(name) if name.eq_ignore_ascii_case("Group") => ResourceKind::Group,
            _ => return Err(invalid("\"resourceType\" must be \"User\" or \"Group\"")),
        };
        let required = match object.get("required") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(required)) => *required,
            Some(_) => return Err(invalid("\"required\" must be true or false")),
        };
        let schema_json = object
            .get("schema")
            .filter(|schema| schema.is_object())
            .ok_or_else(|| invalid("\"schema\" must be an RFC 7643 §7 schema object"))?;
        let schema = SchemaDef::from_json(&without_server_members(schema_json))?;
        check_schema_id(&schema.id)?;
        for attribute in &schema.attributes {
            check_attribute(&schema.id, attribute, None)?;
        }
        Ok(ExtensionDefinition { kind, required, schema })
    }

    /// Adds the extension to `registry`; a URN that is already known is 400 invalidValue.
    pub fn register(self, registry: SchemaRegistry) -> Result<SchemaRegistry, ScimError> {
        registry.with_extension(self.kind, self.schema, self.required)
    }
}

/// A schema copied from another server's `/Schemas` carries `schemas` and `meta`; they describe the
/// copy, not the schema, and are dropped.
fn without_server_members(schema: &Value) -> Value {
    let mut members: Map<String, Value> = schema.as_object().cloned().unwrap_or_default();
    members.remove("schemas");
    members.remove("meta");
    Value::Object(members)
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

/// RFC 7643 §3: a schema URI; only URNs can prefix attribute paths (RFC 7644 §3.10).
fn check_schema_id(id: &str) -> Result<(), ScimError> {
    let is_urn = id.len() > 4 && id.get(..4).is_some_and(|scheme| scheme.eq_ignore_ascii_case("urn:"));
    let clean = !id.ends_with(':') && id.chars().all(|c| c.is_ascii_graphic() && !"\"[]()".contains(c));
    if is_urn && clean {
        return Ok(());
    }
    Err(invalid(format!(
        "schema id \"{id}\" must be a URN such as \"urn:example:params:scim:schemas:extension:device:2.0:User\" \
         (no spaces, quotes, brackets or trailing ':')"
    )))
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`, plus `$ref` (RFC 7643 §2.1).
fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    name == "$ref"
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

fn check_attribute(schema_id: &str, def: &AttributeDef, parent: Option<&str>) -> Result<(), ScimError> {
    let path = match parent {
        Some(parent) => format!("{parent}.{}", def.name),
        None => def.name.clone(),
    };
    let fail = |problem: &str| invalid(format!("schema '{schema_id}': attribute '{path}': {problem}"));
    if !is_attribute_name(&def.name) {
        return Err(fail("a name starts with a letter and has only letters, digits, '-' and '_' (RFC 7643 §2.1)"));
    }
    if def.uniqueness != Uniqueness::None {
        return Err(fail(
            "\"uniqueness\" must be \"none\": Roster does not enforce uniqueness on extension attributes",
        ));
    }
    if def.mutability == Mutability::WriteOnly && def.returned != Returned::Never {
        return Err(fail("a writeOnly attribute must have \"returned\": \"never\" (RFC 7643 §7)"));
    }
    if !def.canonical_values.is_empty() && def.attr_type != AttrType::String {
        return Err(fail("\"canonicalValues\" are only supported on string attributes"));
    }
    for sub in &def.sub_attributes {
        check_attribute(schema_id, sub, Some(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEVICE: &str = "urn:example:params:scim:schemas:extension:device:2.0:User";

    fn definition(schema: Value) -> Value {
        json!({"resourceType": "User", "required": false, "schema": schema})
    }

    #[test]
    fn a_definition_parses_and_registers() {
        let parsed = ExtensionDefinition::from_json(&json!({
            "resourceType": "group",
            "required": true,
            "schema": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
                "id": "urn:example:lab:2.0:Group",
                "name": "Lab",
                "attributes": [{"name": "costCode", "type": "integer"}],
                "meta": {"resourceType": "Schema", "location": "https://elsewhere/Schemas/x"}
            }
        }))
        .unwrap();
        assert_eq!((parsed.kind, parsed.required), (ResourceKind::Group, true));
        assert_eq!(parsed.schema.attributes[0].attr_type, AttrType::Integer);
        let registry = parsed.clone().register(SchemaRegistry::standard()).unwrap();
        assert!(registry.group.extension_required("urn:example:lab:2.0:Group"));
        let twice = parsed.register(registry).unwrap_err();
        assert!(twice.detail.contains("already registered"), "{}", twice.detail);
    }

    #[test]
    fn the_committed_example_file_is_valid() {
        let text = include_str!("../../examples/schemas/device-extension.json");
        let parsed = ExtensionDefinition::from_json(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(parsed.kind, ResourceKind::User);
        assert_eq!(parsed.schema.id, DEVICE);
        let names: Vec<&str> = parsed.schema.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["deviceName", "serialNumber", "platform", "ownership", "functionalAreas", "costCenterCode"]);
    }

    #[test]
    fn bad_definitions_are_rejected_with_the_reason() {
        let attribute = |attribute: Value| definition(json!({"id": DEVICE, "attributes": [attribute]}));
        let cases = [
            (json!([]), "one JSON object"),
            (json!({"resourceType": "User", "schema": {}, "extends": "User"}), "unknown member \"extends\""),
            (json!({"resourceType": "Device", "schema": {}}), "\"resourceType\" must be"),
            (json!({"schema": {}}), "\"resourceType\" must be"),
            (json!({"resourceType": "User", "required": "no", "schema": {}}), "\"required\" must be"),
            (json!({"resourceType": "User"}), "\"schema\" must be"),
            (definition(json!({"attributes": []})), "no \"id\""),
            (definition(json!({"id": "device", "attributes": []})), "must be a URN"),
            (definition(json!({"id": "urn:example:device:", "attributes": []})), "must be a URN"),
            (definition(json!({"id": "urn:example:my device", "attributes": []})), "must be a URN"),
            (attribute(json!({"name": "serial number"})), "attribute 'serial number': a name starts"),
            (attribute(json!({"name": "1st"})), "a name starts with a letter"),
            (attribute(json!({"name": "tag", "uniqueness": "server"})), "\"uniqueness\" must be \"none\""),
            (attribute(json!({"name": "pin", "mutability": "writeOnly"})), "must have \"returned\": \"never\""),
            (attribute(json!({"name": "level", "type": "integer", "canonicalValues": ["1"]})), "only supported"),
            (
                attribute(json!({"name": "site", "type": "complex", "subAttributes": [{"name": "a.b"}]})),
                "attribute 'site.a.b': a name starts",
            ),
            (attribute(json!({"name": "size", "type": "huge"})), "unknown type 'huge'"),
        ];
        for (input, expected) in cases {
            let error = ExtensionDefinition::from_json(&input).expect_err(&input.to_string());
            assert!(error.detail.contains(expected), "{input}: {}", error.detail);
        }
    }

    #[test]
    fn attribute_names_follow_rfc7643_attrname() {
        for good in ["deviceName", "a", "cost-center_2", "$ref"] {
            assert!(is_attribute_name(good), "{good}");
        }
        for bad in ["", "_x", "2fa", "a b", "a.b", "a:b", "é"] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }
}
