//! `/Users`: create, read, replace, delete, list.

use serde_json::{json, Value};

use crate::helpers::*;

#[test]
fn creating_a_user_returns_201_with_location_etag_and_meta() {
    let app = TestApp::spawn();
    let response = app.post(
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "bjensen@example.com",
            "externalId": "ext-1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true,
            "password": "t1meMa$heen",
            ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"}
        }),
    );
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let user: Value = response.json().unwrap();
    let id = id_of(&user);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "id is a UUID");
    assert_eq!(location, app.scim(&format!("/Users/{id}")));
    assert_eq!(user["meta"]["location"], location);
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(user["meta"]["version"], etag);
    assert!(etag.starts_with("W/\""));
    assert_eq!(user["meta"]["created"], user["meta"]["lastModified"]);
    assert!(user.get("password").is_none(), "password is never returned");
    assert_eq!(user[ENTERPRISE]["department"], "Tour Operations");
    assert_eq!(user["externalId"], "ext-1");

    let fetched: Value = app.get(&format!("/Users/{id}")).json().unwrap();
    assert_eq!(fetched, user);
}

#[test]
fn user_names_are_unique_per_tenant_ignoring_case() {
    let app = TestApp::spawn();
    app.create_user("Alice@Example.com");
    let duplicate = app.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "alice@example.COM"}));
    let body = assert_scim_error(duplicate, 409, Some("uniqueness"));
    assert!(body["detail"].as_str().unwrap().contains("alice@example.COM"));
    assert_eq!(app.list("/Users")["totalResults"], 1);
}

#[test]
fn a_user_without_user_name_is_rejected_and_nothing_is_stored() {
    let app = TestApp::spawn();
    let response = app.post("/Users", &json!({"schemas": [USER_SCHEMA], "displayName": "No Name"}));
    assert_scim_error(response, 400, Some("invalidValue"));
    let wrong_type = app.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "x", "active": "maybe"}));
    assert_scim_error(wrong_type, 400, Some("invalidValue"));
    assert_eq!(app.list("/Users")["totalResults"], 0);
}

#[test]
fn replacing_a_user_changes_its_version_and_keeps_id_and_created() {
    let app = TestApp::spawn();
    let user = app.create_user("carol");
    let id = id_of(&user);
    let replaced = app.put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "carol", "displayName": "Carol C", "id": "ignored", "meta": {"version": "bogus"}}));
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().unwrap();
    assert_eq!(replaced["id"], user["id"]);
    assert_eq!(replaced["displayName"], "Carol C");
    assert_eq!(replaced["meta"]["created"], user["meta"]["created"]);
    assert_ne!(replaced["meta"]["version"], user["meta"]["version"]);
    assert_ne!(replaced["meta"]["lastModified"], user["meta"]["lastModified"]);
}

#[test]
fn a_put_that_omits_active_does_not_deactivate_the_user() {
    let app = TestApp::spawn();
    let user = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "okta-user", "active": false}));
    let id = id_of(&user);
    let replaced: Value = app
        .put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "okta-user", "title": "Engineer"}))
        .json()
        .unwrap();
    assert_eq!(replaced["active"], false);
    let reactivated: Value = app
        .put(&format!("/Users/{id}"), &json!({"schemas": [USER_SCHEMA], "userName": "okta-user", "active": true}))
        .json()
        .unwrap();
    assert_eq!(reactivated["active"], true);
}

#[test]
fn a_put_to_a_taken_user_name_is_409_and_changes_nothing() {
    let app = TestApp::spawn();
    app.create_user("dave");
    let erin = app.create_user("erin");
    let response = app.put(&format!("/Users/{}", id_of(&erin)), &json!({"schemas": [USER_SCHEMA], "userName": "DAVE"}));
    assert_scim_error(response, 409, Some("uniqueness"));
    let still: Value = app.get(&format!("/Users/{}", id_of(&erin))).json().unwrap();
    assert_eq!(still, erin);
}

#[test]
fn deleting_a_user_answers_204_then_404_and_removes_its_memberships_and_email_rows() {
    let app = TestApp::spawn();
    let with_email = |name: &str| {
        let emails = json!([{"value": format!("{name}@example.com"), "primary": true}]);
        id_of(&app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": name, "emails": emails})))
    };
    let (id, kept) = (with_email("frank"), with_email("grace"));
    let group = app.create_group("Staff", &[&id, &kept]);
    let email_rows =
        |user: &str| app.db.count(&format!("SELECT COUNT(*) AS n FROM user_emails WHERE user_id = '{user}'"));
    assert_eq!((email_rows(&id), email_rows(&kept)), (1, 1));
    assert_eq!(app.delete(&format!("/Users/{id}")).status(), 204);
    assert_scim_error(app.get(&format!("/Users/{id}")), 404, None);
    assert_scim_error(app.delete(&format!("/Users/{id}")), 404, None);
    let group: Value = app.get(&format!("/Groups/{}", id_of(&group))).json().unwrap();
    let members: Vec<&str> =
        group["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [kept.as_str()]);
    assert_eq!(
        (email_rows(&id), email_rows(&kept)),
        (0, 1),
        "the deleted user's e-mail rows go with it, no one else's"
    );
}

#[test]
fn listing_pages_with_start_index_count_and_total_results() {
    let app = TestApp::spawn();
    for i in 0..7 {
        app.create_user(&format!("user{i}"));
    }
    let first = app.list("/Users?startIndex=1&count=3");
    assert_eq!(first["totalResults"], 7);
    assert_eq!(first["itemsPerPage"], 3);
    assert_eq!(first["startIndex"], 1);
    let last = app.list("/Users?startIndex=7&count=3");
    assert_eq!(last["Resources"].as_array().unwrap().len(), 1);
    let count_zero = app.list("/Users?count=0");
    assert_eq!(count_zero["totalResults"], 7);
    assert_eq!(count_zero["Resources"], json!([]));
    let below_one = app.list("/Users?startIndex=0&count=2");
    assert_eq!(below_one["startIndex"], 1);
    // Pages do not overlap and together cover every user exactly once.
    let mut seen = Vec::new();
    for start in [1, 3, 5, 7] {
        for user in app.list(&format!("/Users?startIndex={start}&count=2"))["Resources"].as_array().unwrap() {
            seen.push(user["userName"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
}

#[test]
fn filters_on_user_name_external_id_and_display_name_run_case_insensitively_where_the_schema_says() {
    let app = TestApp::spawn();
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "Grace@Example.com", "externalId": "EXT-7", "displayName": "Grace Hopper"}));
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "heidi@example.com", "externalId": "ext-8", "displayName": "Heidi"}));
    let names = |query: &str| -> Vec<String> {
        app.list(&format!("/Users?filter={}", urlencode(query)))["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(r#"userName eq "grace@example.com""#), ["Grace@Example.com"]);
    assert_eq!(names(r#"USERNAME Eq "GRACE@EXAMPLE.COM""#), ["Grace@Example.com"]);
    assert_eq!(names(r#"externalId eq "EXT-7""#), ["Grace@Example.com"]);
    assert!(names(r#"externalId eq "ext-7""#).is_empty(), "externalId is caseExact");
    assert_eq!(names(r#"displayName eq "heidi""#), ["heidi@example.com"]);
    assert!(names(r#"userName eq "nobody""#).is_empty());
}

pub fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[test]
fn not_matches_users_that_lack_the_attribute_and_plain_filters_use_the_index() {
    let app = TestApp::spawn();
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "titled", "title": "Boss"}));
    app.create_user("untitled");
    let names = |query: &str| -> Vec<String> {
        let mut names: Vec<String> = app.list(&format!("/Users?filter={}", urlencode(query)))["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(r#"not (title eq "Boss")"#), ["untitled"]);
    assert_eq!(names(r#"title eq "boss""#), ["titled"]);
    assert_eq!(names(r#"not (title pr) or userName eq "titled""#), ["titled", "untitled"]);
    assert_eq!(names(r#"not (emails[type eq "work"])"#), ["titled", "untitled"]);
}

#[test]
fn a_user_created_without_active_is_stored_active_and_a_removed_active_matches_neither_value() {
    let app = TestApp::spawn();
    let created = app.create_user("sam");
    assert_eq!(created["active"], true, "a new user is active unless it says otherwise");
    let path = format!("/Users/{}", id_of(&created));
    assert_eq!(app.get(&path).json::<Value>().unwrap()["active"], true);
    let users_where = |filter: &str| app.list(&format!("/Users?filter={}", urlencode(filter)));
    let active = users_where("active eq true");
    assert_eq!(active["totalResults"], 1);
    assert_eq!(active["Resources"][0]["active"], true);

    let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(app.patch(&path, &deactivate).json::<Value>().unwrap()["active"], false);
    assert_eq!(users_where("active eq true")["totalResults"], 0);
    assert_eq!(users_where("active eq false")["Resources"][0]["active"], false);

    let remove = patch_op(json!([{"op": "remove", "path": "active"}]));
    let removed: Value = app.patch(&path, &remove).json().unwrap();
    assert!(removed.get("active").is_none(), "removed means unassigned (RFC 7644 §3.5.2.2): {removed}");
    assert_eq!(users_where("active eq true")["totalResults"], 0, "what is not shown does not match");
    assert_eq!(users_where("active eq false")["totalResults"], 0);
    assert_eq!(users_where("not (active pr)")["totalResults"], 1);
    assert_eq!(app.list("/Users?attributes=userName")["Resources"][0].get("active"), None);
}

#[test]
fn users_stored_without_active_before_the_upgrade_are_shown_and_filtered_as_active_after_it() {
    let db = TestDatabase::new();
    let env = [("ROSTER_JWT_SECRET", SECRET)];
    let client = reqwest::blocking::Client::new();
    let token = token("acme", ALL_SCOPES);
    let server = start_server(&db, &env);
    let created = client
        .post(format!("{}/scim/v2/Users", server.base))
        .bearer_auth(&token)
        .header("Content-Type", "application/scim+json")
        .body(json!({"schemas": [USER_SCHEMA], "userName": "legacy"}).to_string())
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    drop(server);
    // The row as an older Roster stored it, and the migration not yet applied.
    let strip_active = if db.is_postgres() {
        "UPDATE scim_users SET data = data - 'active'"
    } else {
        "UPDATE scim_users SET data = json_remove(data, '$.active')"
    };
    crate::concurrency::execute(
        &db,
        &format!("{strip_active}; DELETE FROM __diesel_schema_migrations WHERE version = '20261124100000';"),
    );

    let upgraded = start_server(&db, &env);
    let active: Value = client
        .get(format!("{}/scim/v2/Users?filter={}", upgraded.base, urlencode("active eq true")))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(active["totalResults"], 1, "{active}");
    assert_eq!(active["Resources"][0]["userName"], "legacy");
    assert_eq!(active["Resources"][0]["active"], true);
}
