//! Identity-provider tolerance, in one place: each function names the provider that needs it
//! and is applied at the edge (before the RFC logic), never as special cases in handlers.

pub mod patch;
pub mod values;

pub use values::*;

use serde_json::Value;

use super::schema::ResourceKind;

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
    fn okta_put_without_active_keeps_the_stored_value() {
        let current = json!({"userName": "a", "active": false});
        let body = json!({"userName": "a", "name": {"givenName": "A"}});
        assert_eq!(keep_omitted_on_replace(ResourceKind::User, &body, &current)["active"], json!(false));
        let explicit = json!({"userName": "a", "Active": true});
        assert!(keep_omitted_on_replace(ResourceKind::User, &explicit, &current).get("active").is_none());
    }
}
