//! SCIM attribute paths as column targets, and the stored shape of the values they set.
//!
//! A target is written like a PATCH path (RFC 7644 §3.5.2): `displayName`, `name.givenName`,
//! `emails[type eq "work"].value`, or a full extension path such as
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department` (RFC 7643 §3.3). Being
//! a PATCH path, a target can also name the attribute to remove when a cell empties it.
//! Only the value filter form `[subAttr eq "literal"]` is accepted: it is what a column needs to say
//! which element of a multi-valued attribute it fills.
//!
//! Parsing is the SCIM core's ([`parse_patch_path`]); names of core and Enterprise User attributes
//! are checked against, and spelled as, the standard User schema ([`SchemaRegistry::standard`]).
//! Attributes of other extensions are checked against the server's registry when a profile is
//! used (`provision::import`), since only the server knows which extensions it has.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::scim::filter::{parse_patch_path, CompareOp, Filter};
use crate::scim::schema::{AttrType, AttributeDef, Mutability, SchemaDef, SchemaRegistry, ENTERPRISE_USER_SCHEMA};

/// The SCIM enterprise user extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER: &str = ENTERPRISE_USER_SCHEMA;
/// Roster's own extension for attributes that only the importer sets (e.g. `upn`); the server
/// always registers it ([`import_user_schema`]), so the default profile's columns can be stored.
pub const ROSTER_IMPORT_USER: &str = "urn:roster:params:scim:schemas:extension:import:2.0:User";

/// The schema of [`ROSTER_IMPORT_USER`] (an extension in the sense of RFC 7643 §3.3): `upn`, the
/// user principal name as the file wrote it (case kept, so `caseExact`).
pub fn import_user_schema() -> SchemaDef {
    SchemaDef {
        id: ROSTER_IMPORT_USER.to_string(),
        name: "RosterImportUser".to_string(),
        description: "Attributes of users that CSV imports carry and SCIM has no place for".to_string(),
        attributes: vec![AttributeDef::new("upn", AttrType::String, "The user principal name, as written").exact()],
    }
}

/// Attributes an import must not set, with the reason shown to the admin: server-assigned, or
/// secrets that never travel in a CSV.
const FORBIDDEN: &[(&str, &str)] = &[
    ("id", "\"id\" is assigned by Roster; use \"externalId\" for an identifier from another system"),
    ("meta", "\"meta\" is maintained by Roster"),
    ("schemas", "\"schemas\" is maintained by Roster"),
    ("password", "passwords cannot be imported; people set theirs through the invitation link"),
    ("groups", "a user's groups are set with a column whose target is \"groups\""),
];

/// `[attribute eq "value"]`: which element of a multi-valued attribute a path selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFilter {
    /// The sub-attribute compared, e.g. `type`.
    pub attribute: String,
    /// The literal it must equal, e.g. `work`.
    pub value: String,
}

/// A parsed column target; its `Display` is the canonical PATCH-path form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The extension schema URN, `None` for core attributes.
    pub schema: Option<String>,
    /// The attribute, e.g. `emails` or `department`.
    pub attribute: String,
    /// The element selector of a multi-valued attribute.
    pub filter: Option<ValueFilter>,
    /// The sub-attribute set, e.g. `value` or `givenName`.
    pub sub_attribute: Option<String>,
}

/// The standard User schema: core attributes, `externalId`, and the Enterprise User extension.
fn standard_user() -> &'static (SchemaDef, SchemaDef) {
    static USER: OnceLock<(SchemaDef, SchemaDef)> = OnceLock::new();
    USER.get_or_init(|| {
        let registry = SchemaRegistry::standard();
        let enterprise = registry.user.extension(ENTERPRISE_USER).expect("the standard registry has it").clone();
        (registry.user.core, enterprise)
    })
}

/// The definition of a core User attribute, `externalId` included.
fn core_attribute(name: &str) -> Option<&'static AttributeDef> {
    let (core, _) = standard_user();
    core.attribute(name)
        .or_else(|| crate::scim::schema::common_attributes().iter().find(|a| a.name.eq_ignore_ascii_case(name)))
}

impl FromStr for AttrPath {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let input = input.trim();
        let parsed = parse_patch_path(input).map_err(|e| explain_syntax(input, &e.detail))?;
        let filter = parsed.filter.as_ref().map(|f| value_filter(f, input)).transpose()?;
        if parsed.filter.is_some() && parsed.attr.sub_attr.is_some() {
            return Err(unsupported_filter(input));
        }
        let sub = parsed.sub_attr.or(parsed.attr.sub_attr);
        let urn = parsed.attr.urn.filter(|urn| !urn.eq_ignore_ascii_case(&standard_user().0.id));
        let definition = match &urn {
            None => {
                if let Some((_, why)) = FORBIDDEN.iter().find(|(name, _)| name.eq_ignore_ascii_case(&parsed.attr.name))
                {
                    return Err((*why).to_owned());
                }
                Some(core_attribute(&parsed.attr.name).ok_or_else(|| {
                    format!(
                        "\"{}\" is not a core SCIM User attribute; put custom attributes under an extension schema, \
                         e.g. \"urn:roster:params:scim:schemas:extension:custom:2.0:User:{}\"",
                        parsed.attr.name, parsed.attr.name
                    )
                })?)
            }
            Some(urn) if urn.eq_ignore_ascii_case(ENTERPRISE_USER) => {
                let enterprise = &standard_user().1;
                Some(enterprise.attribute(&parsed.attr.name).ok_or_else(|| {
                    let known: Vec<&str> = enterprise.attributes.iter().map(|a| a.name.as_str()).collect();
                    format!(
                        "\"{}\" is not an attribute of the enterprise extension (known: {})",
                        parsed.attr.name,
                        known.join(", ")
                    )
                })?)
            }
            Some(_) => None,
        };
        if let Some(definition) = definition {
            if definition.mutability == Mutability::ReadOnly {
                return Err(format!("\"{}\" is read-only: Roster maintains it", definition.name));
            }
        }
        let sub_attribute = match (definition, sub) {
            (Some(definition), Some(sub)) => Some(
                definition
                    .sub_attribute(&sub)
                    .map(|s| s.name.clone())
                    .ok_or_else(|| format!("\"{sub}\" is not a sub-attribute of \"{}\"", definition.name))?,
            ),
            (_, sub) => sub,
        };
        let filter = match (definition, filter) {
            (Some(definition), Some(filter)) => Some(ValueFilter {
                attribute: definition.sub_attribute(&filter.attribute).map_or(filter.attribute, |s| s.name.clone()),
                value: filter.value,
            }),
            (_, filter) => filter,
        };
        Ok(Self {
            schema: urn
                .map(|urn| if urn.eq_ignore_ascii_case(ENTERPRISE_USER) { ENTERPRISE_USER.to_owned() } else { urn }),
            attribute: definition.map_or(parsed.attr.name, |d| d.name.clone()),
            filter,
            sub_attribute,
        })
    }
}

fn unsupported_filter(input: &str) -> String {
    format!("only filters of the form [type eq \"work\"] are supported in a column target, not \"{input}\"")
}

/// The parser's complaint, with the hint a spreadsheet admin needs.
fn explain_syntax(input: &str, detail: &str) -> String {
    if input.contains('[') {
        let trailing =
            input.rsplit_once(']').map(|(_, rest)| rest).filter(|rest| !rest.is_empty() && !rest.starts_with('.'));
        return match trailing {
            Some(rest) => format!("unexpected \"{rest}\" after \"]\" in \"{input}\""),
            None => unsupported_filter(input),
        };
    }
    format!("\"{input}\" is not a valid attribute name: {detail}")
}

/// Accepts exactly `[subAttr eq "literal"]`, the filter a column uses to pick an element.
fn value_filter(filter: &Filter, input: &str) -> Result<ValueFilter, String> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value: Value::String(literal) }
            if path.urn.is_none() && path.sub_attr.is_none() && !literal.contains('"') =>
        {
            Ok(ValueFilter { attribute: path.name.clone(), value: literal.clone() })
        }
        _ => Err(unsupported_filter(input)),
    }
}

/// True for a core attribute that is multi-valued and complex (`emails`, `roles`, ...).
fn is_multi_valued_complex_core(attribute: &str) -> bool {
    core_attribute(attribute).is_some_and(|d| d.multi_valued && d.attr_type == AttrType::Complex)
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attribute)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{} eq \"{}\"]", filter.attribute, filter.value)?;
        }
        if let Some(sub) = &self.sub_attribute {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl AttrPath {
    /// A core attribute path without filter or sub-attribute.
    pub fn core(attribute: &str) -> Self {
        Self { schema: None, attribute: attribute.to_owned(), filter: None, sub_attribute: None }
    }

    /// True for a core attribute with this (canonical) name, whatever its filter or sub-attribute.
    pub fn is_core(&self, attribute: &str) -> bool {
        self.schema.is_none() && self.attribute == attribute
    }

    /// True for an attribute of the enterprise extension with this name.
    pub fn is_enterprise(&self, attribute: &str) -> bool {
        self.schema.as_deref() == Some(ENTERPRISE_USER) && self.attribute == attribute
    }

    /// True when the attribute is one of the core multi-valued complex attributes.
    pub fn is_multi_valued_complex(&self) -> bool {
        self.schema.is_none() && is_multi_valued_complex_core(&self.attribute)
    }

    /// True when the path targets an email address (`emails`, any filter or sub-attribute `value`).
    pub fn is_email(&self) -> bool {
        self.is_core("emails") && self.sub_attribute.as_deref().is_none_or(|sub| sub == "value")
    }

    /// True when the path targets a personal name part that name capitalisation applies to.
    pub fn is_person_name(&self) -> bool {
        self.is_core("name") && matches!(self.sub_attribute.as_deref(), Some("givenName" | "familyName" | "middleName"))
    }

    /// True when a cell can hold only one value here (a singular core attribute or sub-attribute
    /// of `name`).
    pub fn is_singular(&self) -> bool {
        self.schema.is_none() && !self.is_multi_valued_complex()
    }

    /// Sets `value` at this path in a resource in stored shape: nested objects for sub-attributes,
    /// arrays of `{"value": ...}` objects for multi-valued attributes (one element per array item),
    /// extension attributes under their schema URN key.
    pub fn set(&self, resource: &mut Map<String, Value>, value: Value) {
        let container = match &self.schema {
            Some(urn) => object_entry(resource, urn),
            None => resource,
        };
        if !self.is_multi_valued_complex() {
            match &self.sub_attribute {
                None => {
                    container.insert(self.attribute.clone(), value);
                }
                Some(sub) => {
                    object_entry(container, &self.attribute).insert(sub.clone(), value);
                }
            }
            return;
        }
        let sub = self.sub_attribute.clone().unwrap_or_else(|| "value".to_owned());
        let items = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        let elements = array_entry(container, &self.attribute);
        let single_item = items.len() == 1;
        for item in items {
            let existing = match (&self.filter, single_item) {
                (Some(filter), true) => elements.iter_mut().find(|e| element_matches(e, filter)),
                _ => None,
            };
            match existing {
                Some(Value::Object(element)) => {
                    element.insert(sub.clone(), item);
                }
                _ => {
                    let mut element = Map::new();
                    if let Some(filter) = &self.filter {
                        element.insert(filter.attribute.clone(), Value::String(filter.value.clone()));
                    }
                    element.insert(sub.clone(), item);
                    elements.push(Value::Object(element));
                }
            }
        }
    }

    /// Reads the value at this path from a resource in stored shape: for a filtered multi-valued
    /// path, the matching element's sub-attribute; for an unfiltered one, the list of values.
    pub fn get<'a>(&self, resource: &'a Map<String, Value>) -> Option<&'a Value> {
        let container = match &self.schema {
            Some(urn) => resource.get(urn)?.as_object()?,
            None => resource,
        };
        let value = container.get(&self.attribute)?;
        match (&self.filter, &self.sub_attribute) {
            (Some(filter), sub) => {
                let element = value.as_array()?.iter().find(|e| element_matches(e, filter))?;
                element.get(sub.as_deref().unwrap_or("value"))
            }
            (None, Some(sub)) if !value.is_array() => value.get(sub),
            _ => Some(value),
        }
    }
}

/// True when an element of a multi-valued attribute matches a value filter; string comparison is
/// case-insensitive, as `type` values are (RFC 7643 §2.4, canonical values are caseExact=false).
pub fn element_matches(element: &Value, filter: &ValueFilter) -> bool {
    element.get(&filter.attribute).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(&filter.value))
}

fn slot<'a>(map: &'a mut Map<String, Value>, key: &str, empty: fn() -> Value) -> &'a mut Value {
    let fits = |value: &Value| std::mem::discriminant(value) == std::mem::discriminant(&empty());
    if !map.get(key).is_some_and(fits) {
        map.insert(key.to_owned(), empty());
    }
    map.get_mut(key).expect("the slot was just filled")
}

fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    match slot(map, key, || Value::Object(Map::new())) {
        Value::Object(object) => object,
        _ => unreachable!("the slot holds an object"),
    }
}

fn array_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    match slot(map, key, || Value::Array(Vec::new())) {
        Value::Array(array) => array,
        _ => unreachable!("the slot holds an array"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(s: &str) -> AttrPath {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_canonicalises_targets() {
        let cases = [
            ("userName", "userName"),
            ("USERNAME", "userName"),
            ("name.givenname", "name.givenName"),
            ("emails[type eq \"work\"].value", "emails[type eq \"work\"].value"),
            ("phonenumbers[Type EQ \"mobile\"].Value", "phoneNumbers[type eq \"mobile\"].value"),
            ("roles", "roles"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            (
                "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeenumber",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            ),
            ("urn:acme:scim:2.0:User:serialNumber", "urn:acme:scim:2.0:User:serialNumber"),
            ("externalId", "externalId"),
        ];
        for (input, expected) in cases {
            assert_eq!(path(input).to_string(), expected, "{input}");
        }
    }

    #[test]
    fn rejects_targets_an_import_cannot_set() {
        let cases = [
            ("password", "passwords cannot be imported"),
            ("id", "assigned by Roster"),
            ("ownership", "not a core SCIM User attribute"),
            ("emails[type co \"work\"].value", "only filters of the form"),
            ("emails[type eq work].value", "only filters of the form"),
            ("emails[type eq \"work\"]x", "unexpected"),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize", "enterprise extension"),
            ("na me", "not a valid attribute name"),
            ("", "not a valid attribute name"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<AttrPath>().expect_err(input);
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn set_builds_the_stored_shape() {
        let mut user = Map::new();
        path("userName").set(&mut user, json!("jdoe"));
        path("name.givenName").set(&mut user, json!("Jane"));
        path("name.familyName").set(&mut user, json!("Doe"));
        path("emails[type eq \"work\"].value").set(&mut user, json!("jane@example.com"));
        path("emails[type eq \"home\"].value").set(&mut user, json!("jane@home.example"));
        path("phoneNumbers[type eq \"mobile\"].value").set(&mut user, json!("+1 555"));
        path("roles").set(&mut user, json!(["Admin", "Supervisor"]));
        path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").set(&mut user, json!("IT"));
        path("urn:acme:2.0:User:areas").set(&mut user, json!(["A", "B"]));
        assert_eq!(
            Value::Object(user),
            json!({
                "userName": "jdoe",
                "name": {"givenName": "Jane", "familyName": "Doe"},
                "emails": [
                    {"type": "work", "value": "jane@example.com"},
                    {"type": "home", "value": "jane@home.example"}
                ],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555"}],
                "roles": [{"value": "Admin"}, {"value": "Supervisor"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "IT"},
                "urn:acme:2.0:User": {"areas": ["A", "B"]}
            })
        );
    }

    #[test]
    fn a_filtered_multi_valued_cell_adds_one_element_per_value() {
        let mut user = Map::new();
        path("phoneNumbers[type eq \"mobile\"].value").set(&mut user, json!(["1", "2"]));
        assert_eq!(
            Value::Object(user),
            json!({"phoneNumbers": [{"type": "mobile", "value": "1"}, {"type": "mobile", "value": "2"}]})
        );
    }

    #[test]
    fn get_reads_back_what_set_wrote() {
        let user = json!({
            "name": {"givenName": "Jane"},
            "emails": [{"type": "Work", "value": "jane@example.com", "primary": true}],
            "roles": [{"value": "Admin"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "IT"}
        });
        let user = user.as_object().unwrap();
        assert_eq!(path("name.givenName").get(user), Some(&json!("Jane")));
        assert_eq!(path("emails[type eq \"work\"].value").get(user), Some(&json!("jane@example.com")));
        assert_eq!(path("emails[type eq \"home\"].value").get(user), None);
        assert_eq!(path("roles").get(user), Some(&json!([{"value": "Admin"}])));
        assert_eq!(
            path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").get(user),
            Some(&json!("IT"))
        );
        assert_eq!(path("title").get(user), None);
    }
}
