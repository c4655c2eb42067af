//! Schema rules on every write (RFC 7643 §2, §7; RFC 7644 §3.3, §3.5): readOnly attributes are
//! ignored, immutable ones cannot change, required ones must be there, values have their type,
//! canonical values hold where Roster enforces them, `password` never comes back, and a
//! multi-valued attribute has at most one primary value.

use serde_json::{json, Value};

use crate::extensions::{device_extension, spawn_with_extensions, DEVICE};
use crate::helpers::*;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

fn primaries(resource: &Value, attribute: &str) -> Vec<String> {
    resource[attribute]
        .as_array()
        .unwrap()
        .iter()
        .filter(|element| element["primary"] == json!(true))
        .map(|element| element["value"].as_str().unwrap().to_string())
        .collect()
}

/// An empty `groups` is unassigned and may be left out (RFC 7643 §2.5).
fn has_no_groups(user: &Value) -> bool {
    user.get("groups").is_none_or(|groups| groups == &json!([]))
}

#[test]
fn read_only_attributes_in_a_body_are_ignored_on_post_and_put() {
    let app = TestApp::spawn();
    let group = app.create_group("Existing", &[]);
    let group_ref = json!([{"value": id_of(&group), "display": "Existing"}]);
    let created = app.create_user_with(json!({
        "schemas": [USER_SCHEMA], "userName": "ro", "id": "chosen-by-client",
        "meta": {"created": "2001-01-01T00:00:00Z", "version": "W/\"77\"", "resourceType": "Group"},
        "groups": group_ref
    }));
    assert_ne!(created["id"], "chosen-by-client");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_ne!(created["meta"]["created"], "2001-01-01T00:00:00Z");
    assert_ne!(created["meta"]["version"], "W/\"77\"");
    assert!(has_no_groups(&created), "groups is derived from memberships only: {created}");

    let path = format!("/Users/{}", id_of(&created));
    let replaced = app.put(
        &path,
        &json!({"schemas": [USER_SCHEMA], "userName": "ro", "id": "another-id", "displayName": "RO",
                "meta": {"created": "2001-01-01T00:00:00Z"}, "groups": group_ref}),
    );
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().unwrap();
    assert_eq!((&replaced["id"], &replaced["displayName"]), (&created["id"], &json!("RO")));
    assert_eq!(replaced["meta"]["created"], created["meta"]["created"]);
    assert!(has_no_groups(&replaced), "{replaced}");
    assert_eq!(app.get(&format!("/Groups/{}", id_of(&group))).json::<Value>().unwrap()["members"], json!([]));

    let group_put = app.put(
        &format!("/Groups/{}", id_of(&group)),
        &json!({"schemas": [GROUP_SCHEMA], "id": "x", "displayName": "Renamed", "meta": {"version": "W/\"9\""}}),
    );
    assert_eq!(group_put.status(), 200);
    assert_eq!(group_put.json::<Value>().unwrap()["id"], group["id"]);
}

#[test]
fn a_read_only_attribute_cannot_be_patched() {
    let app = TestApp::spawn();
    let user = app.create_user("ro-patch");
    let path = format!("/Users/{}", id_of(&user));
    for operation in [
        json!({"op": "replace", "path": "groups", "value": [{"value": "g"}]}),
        json!({"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}),
        json!({"op": "add", "path": "id", "value": "mine"}),
    ] {
        assert_scim_error(app.patch(&path, &patch(json!([operation]))), 400, Some("mutability"));
    }
    assert_eq!(app.get(&path).json::<Value>().unwrap(), user);
}

#[test]
fn an_immutable_attribute_can_be_set_once_and_never_changed() {
    let app = spawn_with_extensions(&[device_extension()]);
    let user = app.create_user_with(
        json!({"schemas": [USER_SCHEMA, DEVICE], "userName": "imm", DEVICE: {"serialNumber": "SN-1"}}),
    );
    let path = format!("/Users/{}", id_of(&user));
    let put =
        |device: Value| app.put(&path, &json!({"schemas": [USER_SCHEMA, DEVICE], "userName": "imm", DEVICE: device}));

    let body = assert_scim_error(put(json!({"serialNumber": "SN-2"})), 400, Some("mutability"));
    assert!(body["detail"].as_str().unwrap().contains("serialNumber"), "{body}");
    assert_scim_error(put(json!({"serialNumber": "sn-1"})), 400, Some("mutability"));
    let same = put(json!({"serialNumber": "SN-1", "deviceName": "kept"}));
    assert_eq!(same.status(), 200);
    let omitted: Value = put(json!({"deviceName": "renamed"})).json().unwrap();
    assert_eq!(omitted[DEVICE], json!({"deviceName": "renamed", "serialNumber": "SN-1"}), "PUT keeps it when omitted");
    let without_extension =
        app.put(&path, &json!({"schemas": [USER_SCHEMA], "userName": "imm"})).json::<Value>().unwrap();
    assert_eq!(without_extension[DEVICE], json!({"serialNumber": "SN-1"}));
    let patched = app.patch(&path, &patch(json!([{"op": "remove", "path": format!("{DEVICE}:serialNumber")}])));
    assert_scim_error(patched, 400, Some("mutability"));

    let unset = app.create_user("imm-later");
    let later = format!("/Users/{}", id_of(&unset));
    let first =
        app.patch(&later, &patch(json!([{"op": "add", "path": format!("{DEVICE}:serialNumber"), "value": "SN-9"}])));
    assert_eq!(first.status(), 200, "an unset immutable attribute can be set");
    let second = app
        .patch(&later, &patch(json!([{"op": "replace", "path": format!("{DEVICE}:serialNumber"), "value": "SN-10"}])));
    assert_scim_error(second, 400, Some("mutability"));
}

#[test]
fn group_member_sub_attributes_are_immutable() {
    let app = TestApp::spawn();
    let member = app.create_user("member");
    let group = app.create_group("Immutable members", &[&id_of(&member)]);
    let path = format!("/Groups/{}", id_of(&group));
    let filtered = format!("members[value eq \"{}\"].display", id_of(&member));
    let response = app.patch(&path, &patch(json!([{"op": "replace", "path": filtered, "value": "Someone else"}])));
    assert_scim_error(response, 400, Some("mutability"));
}

#[test]
fn required_attributes_are_enforced_on_every_write() {
    let app = TestApp::spawn();
    for body in [json!({"schemas": [USER_SCHEMA]}), json!({"schemas": [USER_SCHEMA], "userName": "  "})] {
        assert_scim_error(app.post("/Users", &body), 400, Some("invalidValue"));
    }
    assert_scim_error(app.post("/Groups", &json!({"schemas": [GROUP_SCHEMA]})), 400, Some("invalidValue"));

    let user = app.create_user("required");
    let path = format!("/Users/{}", id_of(&user));
    let put = app.put(&path, &json!({"schemas": [USER_SCHEMA], "displayName": "No userName"}));
    let body = assert_scim_error(put, 400, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains("userName"), "{body}");
    let removed = app.patch(&path, &patch(json!([{"op": "remove", "path": "userName"}])));
    assert_scim_error(removed, 400, Some("mutability"));
    let nulled = app.patch(&path, &patch(json!([{"op": "replace", "path": "userName", "value": null}])));
    assert_scim_error(nulled, 400, Some("mutability"));

    let group = app.create_group("Needs a name", &[]);
    let group_path = format!("/Groups/{}", id_of(&group));
    assert_scim_error(app.put(&group_path, &json!({"schemas": [GROUP_SCHEMA]})), 400, Some("invalidValue"));
    let removed = app.patch(&group_path, &patch(json!([{"op": "remove", "path": "displayName"}])));
    assert_scim_error(removed, 400, Some("mutability"));
    assert_eq!(app.get(&path).json::<Value>().unwrap(), user);
}

#[test]
fn values_must_have_the_type_their_schema_declares() {
    let app = TestApp::spawn();
    let bad_values = [
        ("userName", json!(42)),
        ("active", json!("yes")),
        ("active", json!(1)),
        ("name", json!("Barbara Jensen")),
        ("displayName", json!(["a", "b"])),
        ("emails", json!([{"value": true}])),
        ("emails", json!(["b@example.com"])),
        ("x509Certificates", json!([{"value": "not base64!"}])),
        ("profileUrl", json!({"href": "x"})),
    ];
    for (attribute, value) in &bad_values {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": "typed"});
        body[*attribute] = value.clone();
        let body = assert_scim_error(app.post("/Users", &body), 400, Some("invalidValue"));
        assert!(body["detail"].as_str().unwrap().contains(attribute), "{attribute}: {body}");
    }
    let user = app.create_user("typed");
    let path = format!("/Users/{}", id_of(&user));
    for (attribute, value) in &bad_values {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": "typed"});
        body[*attribute] = value.clone();
        assert_scim_error(app.put(&path, &body), 400, Some("invalidValue"));
    }
    for (path_name, value) in [("active", json!("maybe")), ("title", json!(7)), ("emails", json!([{"value": 1}]))] {
        let response = app.patch(&path, &patch(json!([{"op": "replace", "path": path_name, "value": value}])));
        assert_scim_error(response, 400, Some("invalidValue"));
    }
    assert_eq!(app.get(&path).json::<Value>().unwrap(), user, "no failed write changed anything");
    let stringly = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "entra", "active": "True"}));
    assert_eq!(stringly["active"], true, "Entra ID's string booleans are read as booleans");
}

#[test]
fn core_type_labels_are_open_and_extension_canonical_values_are_closed() {
    let app = spawn_with_extensions(&[device_extension()]);
    let user = app.create_user_with(json!({
        "schemas": [USER_SCHEMA], "userName": "labels",
        "emails": [{"value": "a@example.com", "type": "Work"}, {"value": "b@example.com", "type": "alumni"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "satellite"}]
    }));
    assert_eq!(user["emails"][0]["type"], "Work", "core type labels are kept as sent");
    assert_eq!(user["emails"][1]["type"], "alumni");
    assert_eq!(user["phoneNumbers"][0]["type"], "satellite");

    let path = format!("/Users/{}", id_of(&user));
    let put = |device: Value| {
        app.put(&path, &json!({"schemas": [USER_SCHEMA, DEVICE], "userName": "labels", DEVICE: device}))
    };
    assert_scim_error(put(json!({"ownership": "Leased"})), 400, Some("invalidValue"));
    let canonical: Value = put(json!({"ownership": "personal", "platform": "WINDOWS"})).json().unwrap();
    assert_eq!(canonical[DEVICE], json!({"platform": "Windows", "ownership": "Personal"}));
}

#[test]
fn password_is_written_but_never_returned() {
    let app = TestApp::spawn();
    let created =
        app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "secret", "password": "t0p-Secret"}));
    let path = format!("/Users/{}", id_of(&created));
    let mut seen = vec![created];
    seen.push(app.get(&path).json().unwrap());
    seen.push(app.get(&format!("{path}?attributes=password,userName")).json().unwrap());
    seen.push(app.list("/Users?attributes=password"));
    seen.push(
        app.put(&path, &json!({"schemas": [USER_SCHEMA], "userName": "secret", "password": "n3w"})).json().unwrap(),
    );
    let patched = app.patch(
        &format!("{path}?attributes=password"),
        &patch(json!([{"op": "replace", "path": "password", "value": "n3wer"}])),
    );
    assert_eq!(patched.status(), 200);
    seen.push(patched.json().unwrap());
    for body in seen {
        assert!(!body.to_string().contains("password"), "{body}");
        assert!(!body.to_string().contains("n3w") && !body.to_string().contains("t0p"), "{body}");
    }
}

#[test]
fn one_primary_value_per_multi_valued_attribute() {
    let app = TestApp::spawn();
    let two = json!([{"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]);
    let body = assert_scim_error(
        app.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "prim", "emails": two})),
        400,
        Some("invalidValue"),
    );
    assert!(body["detail"].as_str().unwrap().contains("primary"), "{body}");

    let user = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "prim",
        "emails": [{"value": "a@example.com", "primary": true}, {"value": "b@example.com"}],
        "phoneNumbers": [{"value": "1", "primary": true}]}));
    let path = format!("/Users/{}", id_of(&user));
    assert_scim_error(
        app.put(&path, &json!({"schemas": [USER_SCHEMA], "userName": "prim", "emails": two})),
        400,
        Some("invalidValue"),
    );

    let added = app.patch(
        &path,
        &patch(json!([{"op": "add", "path": "emails", "value": [{"value": "c@example.com", "primary": true}]}])),
    );
    assert_eq!(added.status(), 200);
    let added: Value = added.json().unwrap();
    assert_eq!(primaries(&added, "emails"), ["c@example.com"], "the new primary clears the old one");
    assert_eq!(added["emails"].as_array().unwrap().len(), 3);

    let moved = app.patch(
        &path,
        &patch(json!([{"op": "replace", "path": "emails[value eq \"b@example.com\"].primary", "value": true}])),
    );
    let moved: Value = moved.json().unwrap();
    assert_eq!(primaries(&moved, "emails"), ["b@example.com"]);
    assert_eq!(primaries(&moved, "phoneNumbers"), ["1"], "other attributes keep their primary");

    let both = app.patch(&path, &patch(json!([{"op": "add", "path": "emails", "value": two}])));
    assert_scim_error(both, 400, Some("invalidValue"));
    let replaced = app.patch(&path, &patch(json!([{"op": "replace", "path": "phoneNumbers", "value": [{"value": "2", "primary": true}, {"value": "3"}]}])));
    assert_eq!(primaries(&replaced.json::<Value>().unwrap(), "phoneNumbers"), ["2"]);
}
