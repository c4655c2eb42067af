//! Response projection: which attributes of a resource a response carries, from the schema's
//! `returned` characteristic and the `attributes`/`excludedAttributes` parameters
//! (RFC 7643 §7, RFC 7644 §3.4.2.5, §3.9).

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::{parse_attr_path, AttrPath};
use crate::scim::schema::{common_attributes, AttributeDef, ResourceSchema, Returned};

/// Parses an `attributes` or `excludedAttributes` parameter: comma-separated attribute paths,
/// each trimmed; empty items are skipped (RFC 7644 §3.9).
pub fn parse_attribute_list(param: &str) -> Result<Vec<AttrPath>, ScimError> {
    param.split(',').map(str::trim).filter(|item| !item.is_empty()).map(parse_attr_path).collect()
}

/// Projects a full response resource (with `id`, `meta`, `groups`, `members`) for a response.
///
/// `returned` decides first (RFC 7643 §7): `always` attributes (`id`, `schemas`, ...) are never
/// removed, `never` attributes (`password`) never appear, `request` attributes appear only when
/// named in `attributes`. Then, when `attributes` is non-empty only the named attributes (and
/// sub-attributes) remain and `excluded` is not consulted; otherwise `default` attributes remain
/// unless named in `excluded` (RFC 7644 §3.4.2.5). Paths may carry a schema URN prefix; a bare
/// extension URN names the whole extension.
pub fn project(schema: &ResourceSchema, resource: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    project_owned(schema, resource.clone(), attributes, excluded)
}

/// [`project`] of a resource the caller no longer needs: its values move into the result
/// instead of being copied.
pub fn project_owned(
    schema: &ResourceSchema,
    resource: Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Value::Object(fields) = resource else {
        return resource;
    };
    let selection = if attributes.is_empty() {
        Selection::Exclude(targets(schema, excluded))
    } else {
        Selection::Include(targets(schema, attributes))
    };
    let mut out = Map::new();
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
            continue;
        }
        if let Some(extension) = schema.extension(&key) {
            let Value::Object(extension_fields) = value else {
                continue;
            };
            let scope = extension.id.as_str();
            let mut projected = Map::new();
            for (name, attr_value) in extension_fields {
                let def = extension.attribute(&name);
                if let Some(v) = project_attribute(&selection, scope, &name, def, attr_value) {
                    projected.insert(name, v);
                }
            }
            if !projected.is_empty() {
                out.insert(key, Value::Object(projected));
            }
            continue;
        }
        let def = schema
            .core
            .attribute(&key)
            .or_else(|| common_attributes().iter().find(|a| a.name.eq_ignore_ascii_case(&key)));
        let scope = schema.core.id.as_str();
        if let Some(v) = project_attribute(&selection, scope, &key, def, value) {
            out.insert(key, v);
        }
    }
    Value::Object(out)
}

/// One requested path, resolved to the schema it belongs to.
#[derive(Debug)]
enum Target<'a> {
    WholeSchema(&'a str),
    Attribute { schema_id: &'a str, name: &'a str, sub: Option<&'a str> },
}

enum Selection<'a> {
    Include(Vec<Target<'a>>),
    Exclude(Vec<Target<'a>>),
}

fn targets<'a>(schema: &'a ResourceSchema, paths: &'a [AttrPath]) -> Vec<Target<'a>> {
    let all_schemas = || std::iter::once(&schema.core).chain(schema.extensions.iter().map(|(s, _)| s));
    let mut out = Vec::new();
    for path in paths {
        let Some(urn) = &path.urn else {
            out.push(Target::Attribute { schema_id: &schema.core.id, name: &path.name, sub: path.sub_attr.as_deref() });
            continue;
        };
        if path.sub_attr.is_none() {
            let whole = format!("{urn}:{}", path.name);
            if let Some(named) = all_schemas().find(|s| s.id.eq_ignore_ascii_case(&whole)) {
                out.push(Target::WholeSchema(&named.id));
                continue;
            }
        }
        if let Some(owner) = all_schemas().find(|s| s.id.eq_ignore_ascii_case(urn)) {
            out.push(Target::Attribute { schema_id: &owner.id, name: &path.name, sub: path.sub_attr.as_deref() });
        }
    }
    out
}

/// What the selection says about one attribute.
enum Mention {
    None,
    WholeSchema,
    Whole,
    Subs(Vec<String>),
}

fn mention(targets: &[Target], scope_id: &str, name: &str) -> Mention {
    let mut subs = Vec::new();
    let mut whole_schema = false;
    for target in targets {
        match target {
            Target::WholeSchema(id) if *id == scope_id => whole_schema = true,
            Target::Attribute { schema_id, name: n, sub } if *schema_id == scope_id && n.eq_ignore_ascii_case(name) => {
                match sub {
                    None => return Mention::Whole,
                    Some(s) => subs.push(s.to_string()),
                }
            }
            _ => {}
        }
    }
    if !subs.is_empty() {
        Mention::Subs(subs)
    } else if whole_schema {
        Mention::WholeSchema
    } else {
        Mention::None
    }
}

fn returned_of(def: Option<&AttributeDef>) -> Returned {
    def.map_or(Returned::Default, |d| d.returned)
}

fn project_attribute(
    selection: &Selection,
    scope: &str,
    name: &str,
    def: Option<&AttributeDef>,
    value: Value,
) -> Option<Value> {
    let returned = returned_of(def);
    match returned {
        Returned::Never => return None,
        Returned::Always => return Some(filter_subs(def, value, &|_, _| true)),
        Returned::Default | Returned::Request => {}
    }
    match selection {
        Selection::Include(targets) => match mention(targets, scope, name) {
            Mention::None => None,
            Mention::WholeSchema if returned == Returned::Request => None,
            Mention::WholeSchema => Some(filter_subs(def, value, &|_, r| r != Returned::Request)),
            Mention::Whole => Some(filter_subs(def, value, &|_, r| r != Returned::Request)),
            Mention::Subs(subs) => {
                let keep =
                    |sub: &str, r: Returned| r == Returned::Always || subs.iter().any(|s| s.eq_ignore_ascii_case(sub));
                non_empty(filter_subs(def, value, &keep))
            }
        },
        Selection::Exclude(targets) => {
            if returned == Returned::Request {
                return None;
            }
            match mention(targets, scope, name) {
                Mention::Whole | Mention::WholeSchema => None,
                Mention::None => Some(filter_subs(def, value, &|_, r| r != Returned::Request)),
                Mention::Subs(subs) => {
                    let keep = |sub: &str, r: Returned| {
                        r == Returned::Always
                            || (r != Returned::Request && !subs.iter().any(|s| s.eq_ignore_ascii_case(sub)))
                    };
                    non_empty(filter_subs(def, value, &keep))
                }
            }
        }
    }
}

fn non_empty(value: Value) -> Option<Value> {
    match &value {
        Value::Object(fields) if fields.is_empty() => None,
        Value::Array(items) if items.is_empty() => None,
        _ => Some(value),
    }
}

/// Keeps the sub-attributes of a complex value (or of each element of a multi-valued one) that
/// `keep` accepts; `never` sub-attributes always go, elements left empty are dropped.
fn filter_subs(def: Option<&AttributeDef>, value: Value, keep: &dyn Fn(&str, Returned) -> bool) -> Value {
    let filter_object = |mut fields: Map<String, Value>| -> Map<String, Value> {
        fields.retain(|sub_name, _| {
            let returned = returned_of(def.and_then(|d| d.sub_attribute(sub_name)));
            returned != Returned::Never && keep(sub_name, returned)
        });
        fields
    };
    match value {
        Value::Object(fields) => Value::Object(filter_object(fields)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(fields) => {
                        let kept = filter_object(fields);
                        (!kept.is_empty()).then_some(Value::Object(kept))
                    }
                    other => Some(other),
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ResourceKind, SchemaDef, SchemaRegistry, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    const LAB: &str = "urn:example:params:scim:schemas:extension:lab:2.0:User";

    type PathParts<'a> = (Option<&'a str>, &'a str, Option<&'a str>);

    fn schema() -> ResourceSchema {
        let lab = SchemaDef::from_json(&json!({
            "id": LAB,
            "attributes": [
                {"name": "badge", "returned": "always"},
                {"name": "pin", "returned": "never"},
                {"name": "audit", "returned": "request"},
                {"name": "site", "type": "complex", "subAttributes": [
                    {"name": "code"},
                    {"name": "secret", "returned": "request"},
                    {"name": "key", "returned": "always"}
                ]}
            ]
        }))
        .unwrap();
        SchemaRegistry::standard().with_extension(ResourceKind::User, lab, false).unwrap().user
    }

    fn resource() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB],
            "id": "2819c223",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "password": "t1meMa$heen",
            "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
            ENTERPRISE_USER_SCHEMA: {"department": "Tour Operations", "manager": {"value": "26118915", "displayName": "John Smith"}},
            LAB: {"badge": "B-1", "pin": "1234", "audit": "ok", "site": {"code": "PAR", "secret": "s", "key": "k"}},
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    fn paths(list: &str) -> Vec<AttrPath> {
        parse_attribute_list(list).unwrap()
    }

    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn projection_cases() {
        let schema = schema();
        let resource = resource();
        let all_default = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB],
            "id": "2819c223",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
            ENTERPRISE_USER_SCHEMA: {"department": "Tour Operations", "manager": {"value": "26118915", "displayName": "John Smith"}},
            LAB: {"badge": "B-1", "site": {"code": "PAR", "key": "k"}},
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        });
        let request_paths = format!("{LAB}:audit,{LAB}:site.secret");
        let prefixed_paths = format!("{USER_SCHEMA}:userName,{ENTERPRISE_USER_SCHEMA}:manager.value");
        let cases: Vec<(&str, &str, &str, Value)> = vec![
            ("no parameters: default + always; never and request dropped", "", "", all_default.clone()),
            (
                "attributes: listed + always",
                "userName",
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223", "userName": "bjensen@example.com", LAB: {"badge": "B-1"}}),
            ),
            (
                "attributes: sub-attribute, case-insensitive",
                "NAME.givenname,emails.value",
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223",
                       "name": {"givenName": "Barbara"},
                       "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
                       LAB: {"badge": "B-1"}}),
            ),
            (
                "attributes: never stays out even when asked",
                "password",
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223", LAB: {"badge": "B-1"}}),
            ),
            (
                "attributes: request attribute when named",
                &request_paths,
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223",
                       LAB: {"badge": "B-1", "audit": "ok", "site": {"secret": "s", "key": "k"}}}),
            ),
            (
                "attributes: URN-prefixed core and extension paths",
                &prefixed_paths,
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223", "userName": "bjensen@example.com",
                       ENTERPRISE_USER_SCHEMA: {"manager": {"value": "26118915"}}, LAB: {"badge": "B-1"}}),
            ),
            (
                "attributes: whole extension by URN, request attributes still need naming",
                LAB,
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223",
                       LAB: {"badge": "B-1", "site": {"code": "PAR", "key": "k"}}}),
            ),
            (
                "attributes given: excludedAttributes is not consulted",
                "userName",
                "userName",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223", "userName": "bjensen@example.com", LAB: {"badge": "B-1"}}),
            ),
            (
                "attributes: unknown names are ignored",
                "nope,urn:example:unknown:attr",
                "",
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, LAB], "id": "2819c223", LAB: {"badge": "B-1"}}),
            ),
        ];
        for (case, attributes, excluded, expected) in cases {
            let got = project(&schema, &resource, &paths(attributes), &paths(excluded));
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn excluded_attributes_cases() {
        let schema = schema();
        let resource = resource();
        let project_excluding = |excluded: &str| project(&schema, &resource, &[], &paths(excluded));

        let got = project_excluding("emails, groups ,meta");
        assert_eq!(keys(&got), vec!["schemas", "id", "externalId", "userName", "name", ENTERPRISE_USER_SCHEMA, LAB]);

        let got = project_excluding("id,schemas");
        assert_eq!(got["id"], json!("2819c223"), "always is never excluded");
        assert_eq!(got["schemas"], resource["schemas"]);

        let got = project_excluding("name.givenName,emails.type");
        assert_eq!(got["name"], json!({"familyName": "Jensen"}));
        assert_eq!(
            got["emails"],
            json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
        );

        let got = project_excluding(ENTERPRISE_USER_SCHEMA);
        assert!(got.get(ENTERPRISE_USER_SCHEMA).is_none());

        let got = project_excluding(&format!("{LAB}:badge,{LAB}:site.key,{LAB}:site.code"));
        assert_eq!(got[LAB], json!({"badge": "B-1", "site": {"key": "k"}}), "always attributes survive");

        let got = project_excluding(&format!("{ENTERPRISE_USER_SCHEMA}:manager"));
        assert_eq!(got[ENTERPRISE_USER_SCHEMA], json!({"department": "Tour Operations"}));
    }

    #[test]
    fn group_members_are_default_returned() {
        let group = SchemaRegistry::standard().group;
        let resource = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [{"value": "2819c223", "display": "Babs Jensen"}]
        });
        let without_members = project(&group, &resource, &[], &paths("members"));
        assert_eq!(keys(&without_members), vec!["schemas", "id", "displayName"]);
        let only_values = project(&group, &resource, &paths("members.value"), &[]);
        assert_eq!(only_values["members"], json!([{"value": "2819c223"}]));
        assert!(only_values.get("displayName").is_none());
    }

    #[test]
    fn parse_attribute_list_cases() {
        let cases: Vec<(&str, Vec<PathParts>)> = vec![
            ("", vec![]),
            ("userName", vec![(None, "userName", None)]),
            (" userName , name.givenName ,", vec![(None, "userName", None), (None, "name", Some("givenName"))]),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                vec![(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value"))],
            ),
        ];
        for (input, expected) in cases {
            let got = parse_attribute_list(input).unwrap();
            let got: Vec<_> = got.iter().map(|p| (p.urn.as_deref(), p.name.as_str(), p.sub_attr.as_deref())).collect();
            assert_eq!(got, expected, "{input:?}");
        }
    }
}
