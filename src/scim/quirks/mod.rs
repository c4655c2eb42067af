//! Identity-provider tolerance, in one place: each function names the provider that needs it
//! and is applied at the edge (before the RFC logic), never as special cases in handlers.

pub mod patch;
pub mod values;

pub use values::*;

use serde_json::Value;

use super::schema::{ResourceKind, ResourceSchema};

/// Wraps a bare id given for a single-valued complex reference in a POST or PUT body into
/// `{"value": id}`, as `patch::wrap_bare_references` does for PATCH values.
///
/// Microsoft Entra ID's schema example sends
/// `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "123456"}`, while
/// RFC 7643 §4.3 makes `manager` a complex attribute.
pub fn wrap_bare_references_in_body(schema: &ResourceSchema, body: &Value) -> Value {
    let mut body = body.clone();
    patch::visit_resource(schema, &mut body, &patch::wrap_bare_reference);
    body
}

/// Okta sends full-user PUTs that omit `active` when it is not changing it; RFC 7644 §3.5.1
/// would clear it, which deactivates the user. A PUT that omits `active` keeps the stored value.
/// Likewise a group PUT without `members` keeps the memberships (Okta and Entra rename groups
/// with PUTs that leave `members` out); `members: []` still empties the group.
pub fn keep_omitted_on_replace(kind: ResourceKind, body: &Value, current: &Value) -> Value {
    let mut body = body.clone();
    if kind == ResourceKind::User {
        if let (Some(object), Some(active)) = (body.as_object_mut(), current.get("active")) {
            let mentioned = object.keys().any(|k| k.eq_ignore_ascii_case("active"));
            if !mentioned {
                object.insert("active".into(), active.clone());
            }
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entra_bare_manager_ids_in_bodies_are_wrapped() {
        let schema = crate::scim::schema::SchemaRegistry::standard().user;
        let enterprise = crate::scim::schema::ENTERPRISE_USER_SCHEMA;
        let cases = [
            (
                json!({"userName": "a", enterprise: {"manager": "123456"}}),
                json!({"userName": "a", enterprise: {"manager": {"value": "123456"}}}),
            ),
            (json!({enterprise: {"manager": {"value": "1"}}}), json!({enterprise: {"manager": {"value": "1"}}})),
            (json!({"name": "Jane", "title": "t"}), json!({"name": "Jane", "title": "t"})),
            (json!({"manager": "top-level, undeclared"}), json!({"manager": "top-level, undeclared"})),
        ];
        for (input, expected) in cases {
            assert_eq!(wrap_bare_references_in_body(&schema, &input), expected, "{input}");
        }
    }

    #[test]
    fn okta_put_without_active_keeps_the_stored_value() {
        let current = json!({"userName": "a", "active": false});
        let body = json!({"userName": "a", "name": {"givenName": "A"}});
        assert_eq!(keep_omitted_on_replace(ResourceKind::User, &body, &current)["active"], json!(false));
        let explicit = json!({"userName": "a", "Active": true});
        assert!(keep_omitted_on_replace(ResourceKind::User, &explicit, &current).get("active").is_none());
    }
}
