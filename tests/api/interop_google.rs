//! Google Workspace automated user provisioning.
//!
//! Google documents that provisioning covers active, suspended and deleted users and syncs every
//! few hours (https://support.google.com/a/answer/7681608); when auto-provisioning is turned on it
//! probes the endpoint with `GET /Users?count=1`
//! (https://authn-sh-docs.pages.dev/guides/scim/google-workspace/). Google maps the primary email
//! to `userName` and a work email, and deprovisioning either suspends (`active: false`) or deletes.

use serde_json::{json, Value};

use crate::helpers::*;

fn google_user(email: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "displayName": "Grace Hopper",
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

#[test]
fn the_connection_probe_answers_a_list_response_on_an_empty_and_a_filled_tenant() {
    let app = TestApp::spawn();
    let empty = app.list("/Users?count=1");
    assert_eq!(empty["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!((empty["totalResults"].clone(), empty["Resources"].clone()), (json!(0), json!([])));
    app.create_user_with(google_user("grace@example.com"));
    app.create_user_with(google_user("ada@example.com"));
    let filled = app.list("/Users?count=1");
    assert_eq!(filled["totalResults"], 2);
    assert_eq!(filled["itemsPerPage"], 1);
    assert_eq!(filled["Resources"].as_array().unwrap().len(), 1);
}

#[test]
fn a_user_is_provisioned_found_by_primary_email_suspended_restored_and_deleted() {
    let app = TestApp::spawn();
    let created = app.create_user_with(google_user("grace@example.com"));
    let path = format!("/Users/{}", id_of(&created));
    let lookup = "/Users?filter=userName%20eq%20%22grace%40example.com%22";
    assert_eq!(app.list(lookup)["Resources"][0]["id"], created["id"]);
    let by_email = app.list("/Users?filter=emails.value%20eq%20%22Grace%40Example.com%22");
    assert_eq!(by_email["totalResults"], 1);

    let suspended = app.patch(&path, &patch_op(json!([{"op": "replace", "path": "active", "value": false}])));
    assert_eq!(suspended.status(), 200);
    assert_eq!(app.list(lookup)["Resources"][0]["active"], false, "a suspended user is still listed");
    let restored = app.patch(&path, &patch_op(json!([{"op": "replace", "path": "active", "value": true}])));
    assert_eq!(restored.json::<Value>().unwrap()["active"], true);

    let renamed = app.patch(&path, &patch_op(json!([{"op": "replace", "path": "name.familyName", "value": "Murray"}])));
    assert_eq!(renamed.json::<Value>().unwrap()["name"]["familyName"], "Murray");

    assert_eq!(app.delete(&path).status(), 204);
    assert_eq!(app.list(lookup)["totalResults"], 0);
}
