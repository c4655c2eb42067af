//! Okta provisioning, replayed request by request.
//!
//! Bodies and query strings are those of Okta's SCIM 2.0 protocol reference
//! (https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/) and of Okta's
//! "Okta SCIM 2.0 SPEC Test" Runscope suite that integrations must pass (an export of it:
//! https://github.com/BerriAI/litellm/blob/main/tests/scim_tests/scim_e2e_test.json).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// The user body of Okta's "Create the User" request.
fn okta_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn existence_check(user_name: &str) -> String {
    let encoded = user_name.replace('@', "%40");
    format!("/Users?filter=userName%20eq%20%22{encoded}%22&startIndex=1&count=100")
}

fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().unwrap()
}

#[test]
fn the_existence_check_matches_the_user_name_in_any_case() {
    let app = TestApp::spawn();
    let missing = app.list(&existence_check("test.user@okta.local"));
    assert_eq!(missing["totalResults"], 0);
    assert_eq!(missing["Resources"], json!([]));
    let created = app.create_user_with(okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"));
    assert!(created.get("password").is_none(), "{created}");
    for spelling in ["test.user@okta.local", "TEST.USER@OKTA.LOCAL", "Test.User@Okta.Local"] {
        let found = app.list(&existence_check(spelling));
        assert_eq!(found["totalResults"], 1, "{spelling}");
        assert_eq!(found["startIndex"], 1);
        assert_eq!(found["Resources"][0]["id"], created["id"], "{spelling}");
        assert_eq!(found["Resources"][0]["userName"], "test.user@okta.local");
    }
}

#[test]
fn creating_a_user_that_exists_is_409_uniqueness() {
    let app = TestApp::spawn();
    app.create_user_with(okta_user("dupe@okta.local", "00u1"));
    let again = app.post("/Users", &okta_user("DUPE@okta.local", "00u2"));
    assert_scim_error(again, 409, Some("uniqueness"));
    assert_eq!(app.list("/Users")["totalResults"], 1);
}

#[test]
fn a_full_user_put_replaces_the_profile_and_omitting_active_does_not_deactivate() {
    let app = TestApp::spawn();
    let created = app.create_user_with(okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"));
    let path = format!("/Users/{}", id_of(&created));
    let fetched = get_json(&app, &path);
    let replaced = app.put(
        &path,
        &json!({
            "schemas": [USER_SCHEMA],
            "id": fetched["id"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
            "groups": [],
            "meta": {"resourceType": "User"}
        }),
    );
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().unwrap();
    assert_eq!(replaced["name"], json!({"familyName": "User", "givenName": "Another", "middleName": "Excited"}));
    assert_eq!(replaced["active"], true);
    assert!(replaced.get("displayName").is_none(), "PUT replaces: an omitted attribute is cleared");
    assert_eq!(get_json(&app, &path)["active"], true);

    let deactivated = app.put(
        &path,
        &json!({"schemas": [USER_SCHEMA], "id": fetched["id"], "userName": "test.user@okta.local", "active": false}),
    );
    assert_eq!(deactivated.json::<Value>().unwrap()["active"], false, "an explicit active still applies");
}

#[test]
fn a_no_path_replace_of_active_deactivates_and_reactivates() {
    let app = TestApp::spawn();
    let created = app.create_user_with(okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"));
    let path = format!("/Users/{}", id_of(&created));
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let response = app.patch(&path, &deactivate);
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!((body["active"].clone(), body["userName"].clone()), (json!(false), json!("test.user@okta.local")));
    assert_eq!(get_json(&app, &path)["active"], false);
    app.patch(&path, &patch_op(json!([{"op": "replace", "value": {"active": true}}])));
    assert_eq!(get_json(&app, &path)["active"], true);
}

#[test]
fn paging_one_hundred_at_a_time_returns_every_user_once_in_a_stable_order() {
    let app = TestApp::spawn();
    for i in 0..250 {
        app.create_user_with(
            json!({"schemas": [USER_SCHEMA], "userName": format!("user{:03}@okta.local", (i * 37) % 250)}),
        );
    }
    let page_through = || {
        let mut ids = Vec::new();
        let mut start = 1;
        loop {
            let page = app.list(&format!("/Users?startIndex={start}&count=100"));
            assert_eq!(page["totalResults"], 250);
            assert_eq!(page["startIndex"], start);
            let resources = page["Resources"].as_array().unwrap();
            assert_eq!(page["itemsPerPage"], resources.len());
            ids.extend(resources.iter().map(id_of));
            if resources.len() < 100 {
                break;
            }
            start += 100;
        }
        ids
    };
    let first = page_through();
    let second = page_through();
    assert_eq!(first.len(), 250);
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 250, "every user exactly once");
    assert_eq!(first, second, "the same order both times");
}

#[test]
fn a_pushed_group_starts_with_an_empty_member_list() {
    let app = TestApp::spawn();
    let created = app.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2", "members": []}));
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(created["displayName"], "Test SCIMv2");
    assert_eq!(created["members"], json!([]));
    assert_eq!(get_json(&app, &format!("/Groups/{}", id_of(&created)))["displayName"], "Test SCIMv2");
    let listed = app.list("/Groups?startIndex=1&count=100");
    assert_eq!(listed["totalResults"], 1);
}

#[test]
fn a_group_is_renamed_by_a_no_path_replace_that_carries_its_read_only_id() {
    let app = TestApp::spawn();
    let member = app.create_user("kept@okta.local");
    let group = app.create_group("Test SCIMv2", &[&id_of(&member)]);
    let path = format!("/Groups/{}", id_of(&group));
    let response = app.patch(
        &path,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv20"}}]
        }),
    );
    assert_eq!(response.status(), 200);
    let renamed = get_json(&app, &path);
    assert_eq!(renamed["displayName"], "Test SCIMv20");
    assert_eq!(renamed["id"], group["id"]);
    assert_eq!(app.member_ids(&id_of(&group)), [id_of(&member)], "a rename keeps the members");
}

#[test]
fn replacing_members_with_an_empty_list_empties_the_group() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_user("a@okta.local"), app.create_user("b@okta.local"));
    let group = app.create_group("Emptied", &[&id_of(&a), &id_of(&b)]);
    let response = app.patch(
        &format!("/Groups/{}", id_of(&group)),
        &patch_op(json!([{"op": "replace", "path": "members", "value": []}])),
    );
    assert_eq!(response.status(), 200);
    assert!(app.member_ids(&id_of(&group)).is_empty());
    assert_eq!(get_json(&app, &format!("/Users/{}", id_of(&a)))["userName"], "a@okta.local", "users stay");
}

#[test]
fn one_patch_removes_and_adds_members_and_a_full_replace_sets_the_list() {
    let app = TestApp::spawn();
    let leaving = app.create_user("leaving@okta.local");
    let joining = app.create_user("test.user@okta.local");
    let staying = app.create_user("staying@okta.local");
    let group = app.create_group("Test SCIMv2", &[&id_of(&leaving), &id_of(&staying)]);
    let path = format!("/Groups/{}", id_of(&group));
    let response = app.patch(
        &path,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{}\"]", id_of(&leaving))},
                {"op": "add", "path": "members", "value": [{"value": id_of(&joining), "display": "test.user@okta.local"}]}
            ]
        }),
    );
    assert_eq!(response.status(), 200);
    let mut expected = vec![id_of(&joining), id_of(&staying)];
    expected.sort();
    assert_eq!(app.member_ids(&id_of(&group)), expected);

    let full_push = app.patch(
        &path,
        &patch_op(json!([{"op": "replace", "path": "members", "value": [
            {"value": id_of(&joining), "display": "test.user@okta.local"},
            {"value": id_of(&leaving), "display": "test.user@okta.local"}
        ]}])),
    );
    assert_eq!(full_push.status(), 200);
    let mut expected = vec![id_of(&joining), id_of(&leaving)];
    expected.sort();
    assert_eq!(app.member_ids(&id_of(&group)), expected);
}

#[test]
fn a_whole_group_put_sets_name_and_members() {
    let app = TestApp::spawn();
    let (a, b, c) = (app.create_user("a@okta.local"), app.create_user("b@okta.local"), app.create_user("c@okta.local"));
    let group = app.create_group("Test SCIMv2", &[&id_of(&a), &id_of(&b)]);
    let path = format!("/Groups/{}", id_of(&group));
    let response = app.put(
        &path,
        &json!({
            "schemas": [GROUP_SCHEMA],
            "id": group["id"],
            "displayName": "Test SCIMv2 renamed",
            "members": [{"value": id_of(&b), "display": "b@okta.local"}, {"value": id_of(&c), "display": "c@okta.local"}],
            "meta": {"resourceType": "Group"}
        }),
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().unwrap()["displayName"], "Test SCIMv2 renamed");
    let mut expected = vec![id_of(&b), id_of(&c)];
    expected.sort();
    assert_eq!(app.member_ids(&id_of(&group)), expected);
}

#[test]
fn text_json_and_scim_json_with_a_charset_are_accepted() {
    let app = TestApp::spawn();
    let created =
        app.send_raw(Method::POST, "/Users", "text/json", &okta_user("textjson@okta.local", "00u3").to_string());
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    let patched = app.send_raw(
        Method::PATCH,
        &format!("/Users/{}", id_of(&created)),
        "application/scim+json; charset=utf-8",
        &patch_op(json!([{"op": "replace", "value": {"active": false}}])).to_string(),
    );
    assert_eq!(patched.status(), 200);
    let group = app.send_raw(
        Method::POST,
        "/Groups",
        "application/scim+json; charset=utf-8",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Charset", "members": []}).to_string(),
    );
    assert_eq!(group.status(), 201);
    let replaced = app.send_raw(
        Method::PUT,
        &format!("/Groups/{}", id_of(&group.json::<Value>().unwrap())),
        "text/json;charset=UTF-8",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Charset 2"}).to_string(),
    );
    assert_eq!(replaced.status(), 200);
}

#[test]
fn the_spec_test_reads_answer_as_okta_asserts() {
    let app = TestApp::spawn();
    app.create_user_with(okta_user("first@okta.local", "00u4"));
    let page = app.list("/Users?count=1&startIndex=1");
    assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    for number in ["itemsPerPage", "startIndex", "totalResults"] {
        assert!(page[number].is_u64(), "{number} is an integer: {page}");
    }
    let first = &page["Resources"][0];
    for field in ["/id", "/name/familyName", "/name/givenName", "/userName", "/active", "/emails/0/value"] {
        assert!(first.pointer(field).is_some(), "{field}: {first}");
    }
    let by_id = get_json(&app, &format!("/Users/{}", id_of(first)));
    assert_eq!(by_id["id"], first["id"]);
    let missing = app.get("/Users/010101010101010101010101");
    let body = assert_scim_error(missing, 404, None);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let groups = app.list("/Groups?count=100&startIndex=1");
    assert_eq!(groups["totalResults"], 0);
}

#[test]
fn a_member_display_okta_sends_is_returned_as_sent() {
    let app = TestApp::spawn();
    let named = app.create_user("test.user@okta.local");
    let plain = app.create_user("plain@okta.local");
    let group = app.create_group("Test SCIMv2", &[]);
    let path = format!("/Groups/{}", id_of(&group));
    let response = app.patch(
        &path,
        &patch_op(json!([{"op": "add", "path": "members", "value": [
            {"value": id_of(&named), "display": "Test User (Okta)"},
            {"value": id_of(&plain)}
        ]}])),
    );
    assert_eq!(response.status(), 200);
    let members = get_json(&app, &path)["members"].clone();
    let display_of =
        |id: String| members.as_array().unwrap().iter().find(|m| m["value"] == id.as_str()).unwrap()["display"].clone();
    assert_eq!(display_of(id_of(&named)), "Test User (Okta)");
    assert_eq!(display_of(id_of(&plain)), "plain@okta.local", "without a display the member's name is shown");
}
