//! JumpCloud's Custom SCIM Identity Management connector.
//!
//! JumpCloud documents that "Test Connection" creates a real test user (with the administrator's
//! test email) and a test group, then deletes both when the service provider supports DELETE
//! (https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration),
//! and it removes group members with a value list rather than a value filter
//! (https://app.uni-moni.com/en/kb/sso-setup-jumpcloud).

use serde_json::{json, Value};

use crate::helpers::*;

#[test]
fn test_connection_creates_and_deletes_a_real_user_and_group() {
    let app = TestApp::spawn();
    assert_eq!(app.get("/Users?count=1&startIndex=1").status(), 200);
    let user = app.post(
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA],
            "userName": "it-admin@example.com",
            "name": {"givenName": "JumpCloud", "familyName": "Test"},
            "emails": [{"value": "it-admin@example.com", "type": "work", "primary": true}],
            "displayName": "JumpCloud Test",
            "active": true
        }),
    );
    assert_eq!(user.status(), 201);
    let user: Value = user.json().unwrap();
    let group = app.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "JumpCloud Test Group", "members": [{"value": user["id"]}]}),
    );
    assert_eq!(group.status(), 201);
    let group: Value = group.json().unwrap();
    assert_eq!(group["members"][0]["value"], user["id"]);

    let group_path = format!("/Groups/{}", id_of(&group));
    let user_path = format!("/Users/{}", id_of(&user));
    assert_eq!(app.delete(&group_path).status(), 204);
    assert_eq!(app.delete(&user_path).status(), 204);
    assert_scim_error(app.get(&group_path), 404, None);
    assert_scim_error(app.get(&user_path), 404, None);
    assert_eq!(app.list("/Users")["totalResults"], 0);
    assert_eq!(app.list("/Groups")["totalResults"], 0);

    let again = app.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "it-admin@example.com"}));
    assert_eq!(again.status(), 201, "a second Test Connection can reuse the test email");
}

#[test]
fn group_members_are_pushed_and_removed_with_a_value_list() {
    let app = TestApp::spawn();
    let users: Vec<String> = (0..3).map(|i| id_of(&app.create_user(&format!("jc{i}@example.com")))).collect();
    let group = app.create_group("Engineering", &[]);
    let path = format!("/Groups/{}", id_of(&group));
    let add = app.patch(
        &path,
        &patch_op(json!([{"op": "add", "path": "members", "value": users.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()}])),
    );
    assert_eq!(add.status(), 200);
    let remove = app.patch(
        &path,
        &patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": users[0]}, {"value": users[2]}]}])),
    );
    assert_eq!(remove.status(), 200);
    assert_eq!(app.member_ids(&id_of(&group)), [users[1].clone()]);
}

#[test]
fn a_user_is_deactivated_then_deleted() {
    let app = TestApp::spawn();
    let user =
        app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "leaver@example.com", "active": true}));
    let path = format!("/Users/{}", id_of(&user));
    let deactivated = app.patch(&path, &patch_op(json!([{"op": "replace", "path": "active", "value": false}])));
    assert_eq!(deactivated.status(), 200);
    assert_eq!(deactivated.json::<Value>().unwrap()["active"], false);
    assert_eq!(app.delete(&path).status(), 204);
    assert_scim_error(app.delete(&path), 404, None);
}
