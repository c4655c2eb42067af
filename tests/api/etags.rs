//! Versions and conditional requests (RFC 7644 §3.14): `meta.version` / `ETag` change on every
//! write, `If-None-Match` answers 304, a stale `If-Match` answers 412 and changes nothing.

use reqwest::blocking::Response;
use serde_json::{json, Value};

use crate::helpers::*;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn etag(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_string()
}

fn version(resource: &Value) -> String {
    resource["meta"]["version"].as_str().unwrap().to_string()
}

fn conditional(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    header: (&str, &str),
    body: Option<&Value>,
) -> Response {
    let mut request = app.client.request(method, app.scim(path)).bearer_auth(&app.token).header(header.0, header.1);
    if let Some(body) = body {
        request = request.header("Content-Type", "application/scim+json").body(body.to_string());
    }
    request.send().unwrap()
}

fn replace_title(title: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": title}]})
}

#[test]
fn every_write_changes_the_version_and_the_etag_header_matches_it() {
    let app = TestApp::spawn();
    let created = app.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "vera"}));
    let created_etag = etag(&created);
    let user: Value = created.json().unwrap();
    let path = format!("/Users/{}", id_of(&user));
    assert_eq!(version(&user), created_etag);

    let fetched = app.get(&path);
    assert_eq!(etag(&fetched), created_etag, "a read changes nothing");

    let put = app.put(&path, &json!({"schemas": [USER_SCHEMA], "userName": "vera", "title": "A"}));
    let put_etag = etag(&put);
    assert_eq!(version(&put.json().unwrap()), put_etag);
    assert_ne!(put_etag, created_etag);

    let patched = app.patch(&path, &replace_title("B"));
    let patch_etag = etag(&patched);
    assert_eq!(version(&patched.json().unwrap()), patch_etag);
    assert_ne!(patch_etag, put_etag);

    let group = app.create_group("Versioned", &[]);
    let group_path = format!("/Groups/{}", id_of(&group));
    let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": id_of(&user)}]}]});
    let added = app.patch(&group_path, &add);
    assert_eq!(added.status(), 200);
    let after_add = etag(&added);
    assert_ne!(after_add, version(&group), "a membership change is a write of the group");
    let remove = json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", id_of(&user))}]});
    let after_remove = etag(&app.patch(&group_path, &remove));
    assert_ne!(after_remove, after_add);
    let replaced = app.put(
        &group_path,
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Versioned", "members": [{"value": id_of(&user)}]}),
    );
    assert_ne!(etag(&replaced), after_remove);
    assert_eq!(etag(&app.get(&group_path)), etag(&replaced));
}

#[test]
fn if_none_match_on_get_answers_304_while_the_version_is_current() {
    let app = TestApp::spawn();
    let user = app.create_user("nina");
    let path = format!("/Users/{}", id_of(&user));
    let current = version(&user);

    for header in [current.as_str(), current.trim_start_matches("W/"), "*", &format!("W/\"999\", {current}")] {
        let response = conditional(&app, reqwest::Method::GET, &path, ("If-None-Match", header), None);
        assert_eq!(response.status(), 304, "If-None-Match: {header}");
        assert_eq!(etag(&response), current);
        assert!(response.text().unwrap().is_empty());
    }
    let stale = conditional(&app, reqwest::Method::GET, &path, ("If-None-Match", "W/\"999\""), None);
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.json::<Value>().unwrap()["userName"], "nina");

    app.patch(&path, &replace_title("changed"));
    let after_write = conditional(&app, reqwest::Method::GET, &path, ("If-None-Match", &current), None);
    assert_eq!(after_write.status(), 200, "the old version no longer matches");
}

#[test]
fn a_stale_if_match_is_412_and_changes_nothing() {
    let app = TestApp::spawn();
    let user = app.create_user("otto");
    let path = format!("/Users/{}", id_of(&user));
    let stale = version(&user);
    app.patch(&path, &replace_title("current"));
    let before: Value = app.get(&path).json().unwrap();

    let put_body = json!({"schemas": [USER_SCHEMA], "userName": "otto", "title": "lost update"});
    let attempts = [
        conditional(&app, reqwest::Method::PUT, &path, ("If-Match", &stale), Some(&put_body)),
        conditional(&app, reqwest::Method::PATCH, &path, ("If-Match", &stale), Some(&replace_title("lost update"))),
        conditional(&app, reqwest::Method::DELETE, &path, ("If-Match", &stale), None),
        conditional(&app, reqwest::Method::PATCH, &path, ("If-Match", "W/\"1\", W/\"7\""), Some(&replace_title("x"))),
    ];
    for response in attempts {
        assert_scim_error(response, 412, None);
    }
    let after: Value = app.get(&path).json().unwrap();
    assert_eq!(after, before, "nothing changed: data, version and lastModified");
}

#[test]
fn a_current_or_wildcard_if_match_lets_the_write_through() {
    let app = TestApp::spawn();
    let user = app.create_user("paul");
    let path = format!("/Users/{}", id_of(&user));
    let current = version(&user);

    let patched = conditional(&app, reqwest::Method::PATCH, &path, ("If-Match", &current), Some(&replace_title("one")));
    assert_eq!(patched.status(), 200);
    let next = etag(&patched);
    let strong_form = next.trim_start_matches("W/").to_string();
    let put_body = json!({"schemas": [USER_SCHEMA], "userName": "paul", "title": "two"});
    let put = conditional(&app, reqwest::Method::PUT, &path, ("If-Match", &strong_form), Some(&put_body));
    assert_eq!(put.status(), 200, "weak comparison: \"n\" matches W/\"n\"");
    let wildcard = conditional(&app, reqwest::Method::PATCH, &path, ("If-Match", "*"), Some(&replace_title("three")));
    assert_eq!(wildcard.status(), 200);
    assert_eq!(wildcard.json::<Value>().unwrap()["title"], "three");
    let deleted = conditional(&app, reqwest::Method::DELETE, &path, ("If-Match", "*"), None);
    assert_eq!(deleted.status(), 204);
    assert_scim_error(app.get(&path), 404, None);
}

#[test]
fn groups_honour_if_match_too() {
    let app = TestApp::spawn();
    let group = app.create_group("Guarded", &[]);
    let path = format!("/Groups/{}", id_of(&group));
    let stale = version(&group);
    let rename =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]});
    assert_eq!(conditional(&app, reqwest::Method::PATCH, &path, ("If-Match", &stale), Some(&rename)).status(), 200);
    let again =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Lost"}]});
    assert_scim_error(conditional(&app, reqwest::Method::PATCH, &path, ("If-Match", &stale), Some(&again)), 412, None);
    assert_eq!(app.get(&path).json::<Value>().unwrap()["displayName"], "Renamed");
    let config: Value = app.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(config["etag"]["supported"], true);
}

/// GET with `If-None-Match: current` must answer 200 with the new representation once `current`
/// is stale; returns the new ETag and the body.
fn changed_since(app: &TestApp, path: &str, current: &str, why: &str) -> (String, Value) {
    let response = conditional(app, reqwest::Method::GET, path, ("If-None-Match", current), None);
    assert_eq!(response.status(), 200, "{why}: the old ETag must not answer 304");
    let next = etag(&response);
    assert_ne!(next, current, "{why}");
    let body: Value = response.json().unwrap();
    assert_eq!(version(&body), next);
    (next, body)
}

fn group_names(user: &Value) -> Vec<String> {
    user["groups"]
        .as_array()
        .map(|g| g.iter().map(|g| g["display"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_users_version_changes_whenever_its_groups_change() {
    let app = TestApp::spawn();
    let user = app.create_user("quinn");
    let user_id = id_of(&user);
    let path = format!("/Users/{user_id}");
    let mut current = version(&user);

    let group = app.create_group("Readers", &[&user_id]);
    let group_path = format!("/Groups/{}", id_of(&group));
    let (next, body) = changed_since(&app, &path, &current, "created a group naming the user");
    assert_eq!(group_names(&body), ["Readers"]);
    current = next;
    let member = |op: &str| json!({"schemas": [PATCH_OP], "Operations": [{"op": op, "path": "members", "value": [{"value": user_id}]}]});

    assert_eq!(app.patch(&group_path, &member("remove")).status(), 200);
    let (next, body) = changed_since(&app, &path, &current, "removed from the group");
    assert!(group_names(&body).is_empty());
    assert_scim_error(
        conditional(
            &app,
            reqwest::Method::PUT,
            &path,
            ("If-Match", &current),
            Some(&json!({"schemas": [USER_SCHEMA], "userName": "quinn"})),
        ),
        412,
        None,
    );
    current = next;

    assert_eq!(app.patch(&group_path, &member("add")).status(), 200);
    current = changed_since(&app, &path, &current, "added by PATCH").0;
    let unchanged = conditional(&app, reqwest::Method::GET, &path, ("If-None-Match", &current), None);
    assert_eq!(unchanged.status(), 304, "no change, no new version");
    let rename =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Editors"}]});
    assert_eq!(app.patch(&group_path, &rename).status(), 200);
    let (next, body) = changed_since(&app, &path, &current, "the group was renamed");
    assert_eq!(group_names(&body), ["Editors"]);
    current = next;

    let put = json!({"schemas": [GROUP_SCHEMA], "displayName": "Editors", "members": []});
    assert_eq!(app.put(&group_path, &put).status(), 200);
    current = changed_since(&app, &path, &current, "emptied by PUT").0;
    let put = json!({"schemas": [GROUP_SCHEMA], "displayName": "Editors", "members": [{"value": user_id}]});
    assert_eq!(app.put(&group_path, &put).status(), 200);
    current = changed_since(&app, &path, &current, "added by PUT").0;

    assert_eq!(app.delete(&group_path).status(), 204);
    let (_, body) = changed_since(&app, &path, &current, "the group was deleted");
    assert!(group_names(&body).is_empty());
}

#[test]
fn a_groups_version_changes_when_a_member_is_deleted_not_when_it_is_renamed() {
    let app = TestApp::spawn();
    let user = app.create_user("rita");
    let path = format!("/Users/{}", id_of(&user));
    let group = app.create_group("Crew", &[&id_of(&user)]);
    let group_path = format!("/Groups/{}", id_of(&group));
    let current = version(&group);

    // Renames do not re-version the groups (store/dependent_versions.rs says why); the next
    // full read shows the new name.
    let rename =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Rita R."}]});
    assert_eq!(app.patch(&path, &rename).status(), 200);
    let unchanged = conditional(&app, reqwest::Method::GET, &group_path, ("If-None-Match", &current), None);
    assert_eq!(unchanged.status(), 304);
    assert_eq!(app.get(&group_path).json::<Value>().unwrap()["members"][0]["display"], "Rita R.");

    assert_eq!(app.delete(&path).status(), 204);
    let (_, body) = changed_since(&app, &group_path, &current, "the member was deleted");
    assert_eq!(body["members"], json!([]));
}
