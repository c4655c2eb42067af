//! PATCH on Users and Groups (RFC 7644 §3.5.2), end to end.

use serde_json::{json, Value};

use crate::helpers::*;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

#[test]
fn patching_a_user_applies_every_operation_and_bumps_the_version() {
    let app = TestApp::spawn();
    let user = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "pat", "active": true}));
    let path = format!("/Users/{}", id_of(&user));
    let response = app.patch(
        &path,
        &ops(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "pat@example.com"},
            {"op": "replace", "value": {"name.givenName": "Pat", (ENTERPRISE.to_string() + ":department"): "R&D"}}
        ])),
    );
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().unwrap();
    assert_eq!(patched["active"], false);
    assert_eq!(patched["emails"], json!([{"type": "work", "value": "pat@example.com"}]));
    assert_eq!(patched["name"]["givenName"], "Pat");
    assert_eq!(patched[ENTERPRISE]["department"], "R&D");
    assert_ne!(patched["meta"]["version"], user["meta"]["version"]);
    let found = app.list("/Users?filter=emails.value%20eq%20%22PAT@example.com%22");
    assert_eq!(found["totalResults"], 1, "the emails index follows the patch");
}

#[test]
fn a_failing_operation_rolls_back_the_whole_patch() {
    let app = TestApp::spawn();
    let user = app.create_user("atomic");
    let path = format!("/Users/{}", id_of(&user));
    let response =
        app.patch(&path, &ops(json!([{"op": "replace", "path": "displayName", "value": "Changed"}, {"op": "remove"}])));
    assert_scim_error(response, 400, Some("noTarget"));
    let unchanged: Value = app.get(&path).json().unwrap();
    assert_eq!(unchanged, user);
}

#[test]
fn group_members_are_added_and_removed_by_patch() {
    let app = TestApp::spawn();
    let (a, b, c) = (app.create_user("ma"), app.create_user("mb"), app.create_user("mc"));
    let group = app.create_group("Patched", &[&id_of(&a)]);
    let path = format!("/Groups/{}", id_of(&group));
    let added = app.patch(
        &path,
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": id_of(&b)}, {"value": id_of(&c)}]}])),
    );
    assert_eq!(added.status(), 200);
    assert_eq!(added.json::<Value>().unwrap()["members"].as_array().unwrap().len(), 3);
    let removed = app.patch(
        &path,
        &ops(json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", id_of(&a))},
            {"op": "remove", "path": "members", "value": [{"value": id_of(&b)}]}
        ])),
    );
    let members: Vec<String> = removed.json::<Value>().unwrap()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(members, [id_of(&c)]);
    let mixed = app.patch(&path, &ops(json!([{"op": "replace", "path": "members", "value": []}, {"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}}])));
    let mixed: Value = mixed.json().unwrap();
    assert_eq!(mixed["members"], json!([]));
    assert_eq!(mixed["displayName"], "Renamed");
}
