//! `/Groups` and memberships.

use serde_json::{json, Value};

use crate::helpers::*;

#[test]
fn a_group_lists_its_members_and_users_show_their_groups() {
    let app = TestApp::spawn();
    let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann", "displayName": "Ann A"}));
    let bob = app.create_user("bob");
    let group = app.create_group("Engineering", &[&id_of(&ann), &id_of(&bob)]);
    let members = group["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let ann_entry = members.iter().find(|m| m["value"] == ann["id"]).unwrap();
    assert_eq!(ann_entry["display"], "Ann A");
    assert_eq!(ann_entry["type"], "User");
    assert_eq!(ann_entry["$ref"], app.scim(&format!("/Users/{}", id_of(&ann))));

    let fetched: Value = app.get(&format!("/Users/{}", id_of(&ann))).json().unwrap();
    assert_eq!(
        fetched["groups"],
        json!([{"value": group["id"], "$ref": app.scim(&format!("/Groups/{}", id_of(&group))), "display": "Engineering", "type": "direct"}])
    );
}

#[test]
fn excluded_members_are_not_returned() {
    let app = TestApp::spawn();
    let user = app.create_user("carl");
    let group = app.create_group("Ops", &[&id_of(&user)]);
    let fetched: Value = app.get(&format!("/Groups/{}?excludedAttributes=members", id_of(&group))).json().unwrap();
    assert!(fetched.get("members").is_none(), "{fetched}");
    assert_eq!(fetched["displayName"], "Ops");
    let listed = app.list("/Groups?filter=displayName%20eq%20%22ops%22&excludedAttributes=members");
    assert_eq!(listed["totalResults"], 1);
    assert!(listed["Resources"][0].get("members").is_none());
}

#[test]
fn replacing_a_group_replaces_its_members_and_omitting_members_keeps_them() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_user("a"), app.create_user("b"));
    let group = app.create_group("Team", &[&id_of(&a)]);
    let path = format!("/Groups/{}", id_of(&group));
    let replaced: Value = app
        .put(&path, &json!({"schemas": [GROUP_SCHEMA], "displayName": "Team", "members": [{"value": id_of(&b)}]}))
        .json()
        .unwrap();
    let ids: Vec<&str> = replaced["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(ids, [id_of(&b)]);
    let renamed: Value = app.put(&path, &json!({"schemas": [GROUP_SCHEMA], "displayName": "Team B"})).json().unwrap();
    assert_eq!(renamed["displayName"], "Team B");
    assert_eq!(renamed["members"].as_array().unwrap().len(), 1);
    let emptied: Value =
        app.put(&path, &json!({"schemas": [GROUP_SCHEMA], "displayName": "Team B", "members": []})).json().unwrap();
    assert_eq!(emptied["members"], json!([]));
}

#[test]
fn a_group_with_an_unknown_member_is_rejected_and_nothing_is_stored() {
    let app = TestApp::spawn();
    let response = app.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Ghosts", "members": [{"value": "no-such-id"}]}),
    );
    let body = assert_scim_error(response, 400, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains("no-such-id"));
    assert_eq!(app.list("/Groups")["totalResults"], 0);
}

#[test]
fn groups_can_be_deleted_and_listed_by_display_name_and_external_id() {
    let app = TestApp::spawn();
    let first = app
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "externalId": "g-1"}))
        .json::<Value>()
        .unwrap();
    app.create_group("Support", &[]);
    assert_eq!(app.list("/Groups?filter=externalId%20eq%20%22g-1%22")["Resources"][0]["id"], first["id"]);
    assert_eq!(app.list("/Groups?filter=displayName%20eq%20%22SALES%22")["totalResults"], 1);
    assert_eq!(app.delete(&format!("/Groups/{}", id_of(&first))).status(), 204);
    assert_eq!(app.list("/Groups")["totalResults"], 1);
}

#[test]
fn deleting_a_group_removes_its_membership_rows_and_no_others() {
    let app = TestApp::spawn();
    let user = id_of(&app.create_user("hana"));
    let inner = id_of(&app.create_group("Inner", &[&user]));
    let doomed = id_of(&app.create_group("Doomed", &[&user, &inner]));
    let kept = id_of(&app.create_group("Kept", &[&user]));
    let rows = |column: &str, id: &str| {
        app.db.count(&format!("SELECT COUNT(*) AS n FROM memberships WHERE {column} = '{id}'"))
    };
    assert_eq!((rows("group_id", &doomed), rows("member_id", &user)), (2, 3));
    assert_eq!(app.delete(&format!("/Groups/{doomed}")).status(), 204);
    assert_eq!((rows("group_id", &doomed), rows("member_id", &user)), (0, 2));
    assert_eq!((rows("group_id", &inner), rows("group_id", &kept)), (1, 1));
    let groups: Vec<String> = app.get(&format!("/Users/{user}")).json::<Value>().unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(!groups.contains(&"Doomed".to_string()), "{groups:?}");
}

#[test]
fn a_group_can_contain_a_group() {
    let app = TestApp::spawn();
    let inner = app.create_group("Inner", &[]);
    let outer = app.create_group("Outer", &[&id_of(&inner)]);
    assert_eq!(outer["members"][0]["type"], "Group");
    assert_eq!(outer["members"][0]["display"], "Inner");
    assert_eq!(app.delete(&format!("/Groups/{}", id_of(&inner))).status(), 204);
    let outer: Value = app.get(&format!("/Groups/{}", id_of(&outer))).json().unwrap();
    assert_eq!(outer["members"], json!([]));
}
