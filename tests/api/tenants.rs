//! Tenant isolation: the tenant comes only from the token, and another tenant's data is
//! indistinguishable from missing data.

use serde_json::json;

use crate::helpers::*;

#[test]
fn another_tenants_user_is_invisible_and_untouchable() {
    let app = TestApp::spawn();
    let user = app.create_user("shared-name@example.com");
    let id = id_of(&user);
    let other = token("globex", ALL_SCOPES);
    let path = format!("/Users/{id}");

    assert_scim_error(app.get_as(&path, &other), 404, None);
    let replacement = json!({"schemas": [USER_SCHEMA], "userName": "stolen"});
    assert_scim_error(app.send_json_as(reqwest::Method::PUT, &path, &replacement, &other), 404, None);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_scim_error(app.send_json_as(reqwest::Method::PATCH, &path, &patch, &other), 404, None);
    let delete = app.client.delete(app.scim(&path)).bearer_auth(&other).send().unwrap();
    assert_scim_error(delete, 404, None);

    let listed: serde_json::Value =
        app.get_as("/Users?filter=userName%20eq%20%22shared-name@example.com%22", &other).json().unwrap();
    assert_eq!(listed["totalResults"], 0);
    let all: serde_json::Value = app.get_as("/Users", &other).json().unwrap();
    assert_eq!(all["totalResults"], 0);

    // The same userName is free in the other tenant, and the owner still sees the original.
    let created = app.send_json_as(
        reqwest::Method::POST,
        "/Users",
        &json!({"schemas": [USER_SCHEMA], "userName": "shared-name@example.com"}),
        &other,
    );
    assert_eq!(created.status(), 201);
    let mine = app.get(&path).json::<serde_json::Value>().unwrap();
    assert_eq!(mine["userName"], "shared-name@example.com");
    assert_eq!(app.list("/Users")["totalResults"], 1);
}

#[test]
fn a_group_cannot_take_members_from_another_tenant() {
    let app = TestApp::spawn();
    let foreign = app.send_json_as(
        reqwest::Method::POST,
        "/Users",
        &json!({"schemas": [USER_SCHEMA], "userName": "outsider"}),
        &token("globex", ALL_SCOPES),
    );
    let foreign_id = id_of(&foreign.json().unwrap());
    let response = app.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Team", "members": [{"value": foreign_id}]}),
    );
    assert_scim_error(response, 400, Some("invalidValue"));
    assert_eq!(app.list("/Groups")["totalResults"], 0, "nothing was stored");
}
