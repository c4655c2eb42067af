//! `POST /.search`, `/Users/.search` and `/Groups/.search` (RFC 7644 §3.4.3).

use serde_json::{json, Value};

use crate::helpers::*;

const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn search(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post(path, &body);
    assert_eq!(response.status(), 200, "POST {path} {body}");
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    response.json().unwrap()
}

fn request(fields: Value) -> Value {
    let mut body = json!({"schemas": [SEARCH_REQUEST]});
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    body
}

fn field(page: &Value, key: &str) -> Vec<String> {
    page["Resources"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap_or("-").to_string()).collect()
}

/// Users ann, bob, cat (bob has a work email) and groups Admins (ann), Builders.
fn directory(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let users: Vec<Value> = ["ann", "bob", "cat"]
        .iter()
        .map(|name| {
            let mut body = json!({"schemas": [USER_SCHEMA], "userName": name, "displayName": format!("{name} B")});
            if *name == "bob" {
                body["emails"] = json!([{"value": "bob@example.com", "type": "work"}]);
            }
            app.create_user_with(body)
        })
        .collect();
    let groups = vec![app.create_group("Admins", &[&id_of(&users[0])]), app.create_group("Builders", &[])];
    (users, groups)
}

#[test]
fn users_search_takes_the_query_parameters_in_the_body() {
    let app = TestApp::spawn();
    directory(&app);
    let page = search(
        &app,
        "/Users/.search",
        request(json!({
            "filter": "userName ne \"cat\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "attributes": ["userName", "emails.value"],
            "startIndex": 1,
            "count": 10
        })),
    );
    assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["startIndex"], 1);
    assert_eq!(field(&page, "userName"), ["bob", "ann"]);
    let bob = &page["Resources"][0];
    let mut keys: Vec<&str> = bob.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["emails", "id", "schemas", "userName"]);
    assert_eq!(bob["emails"], json!([{"value": "bob@example.com"}]));

    let excluded = search(&app, "/Users/.search", request(json!({"excludedAttributes": ["displayName", "meta"]})));
    assert_eq!(excluded["totalResults"], 3);
    assert!(excluded["Resources"][0].get("displayName").is_none() && excluded["Resources"][0].get("meta").is_none());
    let get_equivalent = app.list("/Users?excludedAttributes=displayName,meta");
    assert_eq!(excluded, get_equivalent, "the body means what the query string means");
}

#[test]
fn groups_search_excludes_members_and_pages_by_cursor() {
    let app = TestApp::spawn();
    directory(&app);
    let first = search(
        &app,
        "/Groups/.search",
        request(json!({"excludedAttributes": ["members"], "sortBy": "displayName", "cursor": "", "count": 1})),
    );
    assert_eq!(field(&first, "displayName"), ["Admins"]);
    assert!(first["Resources"][0].get("members").is_none());
    let next = first["nextCursor"].as_str().unwrap();
    let second = search(
        &app,
        "/Groups/.search",
        request(json!({"excludedAttributes": ["members"], "sortBy": "displayName", "cursor": next, "count": 1})),
    );
    assert_eq!(field(&second, "displayName"), ["Builders"]);
    assert!(second.get("nextCursor").is_none());
    let via_get = app.list(&format!("/Groups?excludedAttributes=members&sortBy=displayName&count=1&cursor={next}"));
    assert_eq!(field(&via_get, "displayName"), ["Builders"], "a .search cursor continues a GET listing");
}

#[test]
fn root_search_lists_users_then_groups_and_treats_foreign_attributes_as_absent() {
    let app = TestApp::spawn();
    let (users, groups) = directory(&app);
    let all = search(&app, "/.search", request(json!({})));
    assert_eq!(all["totalResults"], 5);
    let types: Vec<&str> =
        all["Resources"].as_array().unwrap().iter().map(|r| r["meta"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(types, ["User", "User", "User", "Group", "Group"]);
    let mut expected: Vec<String> = users.iter().chain(&groups).map(id_of).collect();
    let got: Vec<String> = all["Resources"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(got, expected);

    let by_display =
        search(&app, "/.search", request(json!({"filter": "displayName sw \"b\"", "sortBy": "displayName"})));
    assert_eq!(field(&by_display, "displayName"), ["bob B", "Builders"]);
    let users_only = search(&app, "/.search", request(json!({"filter": "userName eq \"cat\""})));
    assert_eq!(field(&users_only, "userName"), ["cat"]);
    let groups_only = search(&app, "/.search", request(json!({"filter": "members pr"})));
    assert_eq!(field(&groups_only, "displayName"), ["Admins"]);
    let negated = search(&app, "/.search", request(json!({"filter": "not (userName eq \"cat\")"})));
    assert_eq!(negated["totalResults"], 4, "a group has no userName, so it is not \"cat\"");
    let mixed = search(
        &app,
        "/.search",
        request(json!({"filter": "emails[type eq \"work\"] or displayName eq \"builders\"", "sortBy": "userName"})),
    );
    assert_eq!(field(&mixed, "id"), [id_of(&users[1]), id_of(&groups[1])]);
    let sorted = search(&app, "/.search", request(json!({"sortBy": "userName", "sortOrder": "descending"})));
    assert_eq!(field(&sorted, "userName"), ["cat", "bob", "ann", "-", "-"], "users first, each type in sortBy order");

    let error = app.post("/.search", &request(json!({"filter": "nope eq \"x\""})));
    let body = assert_scim_error(error, 400, Some("invalidFilter"));
    assert!(body["detail"].as_str().unwrap().contains("nope"));
    assert_scim_error(app.post("/.search", &request(json!({"sortBy": "nope"}))), 400, Some("invalidValue"));
    assert_scim_error(
        app.post("/.search", &request(json!({"filter": "userName gt true"}))),
        400,
        Some("invalidFilter"),
    );

    expected.drain(..1);
    let paged = search(&app, "/.search", request(json!({"startIndex": 2, "count": 3})));
    assert_eq!(field(&paged, "id"), expected[..3].to_vec(), "an index page crosses from Users into Groups");
}

#[test]
fn root_search_pages_by_cursor_across_resource_types_both_ways() {
    let app = TestApp::spawn();
    let (users, groups) = directory(&app);
    let expected: Vec<String> = users.iter().chain(&groups).map(id_of).collect();
    let page = |cursor: &str| search(&app, "/.search", request(json!({"cursor": cursor, "count": 2})));
    let mut pages = vec![page("")];
    while let Some(next) = pages.last().unwrap()["nextCursor"].as_str().map(str::to_string) {
        pages.push(page(&next));
    }
    let walked: Vec<String> = pages.iter().flat_map(|p| field(p, "id")).collect();
    assert_eq!(walked, expected);
    assert_eq!(pages.len(), 3);
    let back = page(pages[2]["previousCursor"].as_str().unwrap());
    assert_eq!(field(&back, "id"), field(&pages[1], "id"), "back across the Users/Groups boundary");
}

#[test]
fn bad_search_requests_are_refused() {
    let app = TestApp::spawn();
    let no_schema = app.post("/Users/.search", &json!({"filter": "userName pr"}));
    let body = assert_scim_error(no_schema, 400, Some("invalidSyntax"));
    assert!(body["detail"].as_str().unwrap().contains("SearchRequest"));
    assert_scim_error(app.post("/Users/.search", &request(json!({"count": "ten"}))), 400, Some("invalidValue"));
    assert_scim_error(
        app.post("/Users/.search", &request(json!({"filter": "userName eq"}))),
        400,
        Some("invalidFilter"),
    );
    assert_scim_error(
        app.post("/Users/.search", &request(json!({"cursor": "", "startIndex": 1}))),
        400,
        Some("invalidValue"),
    );
    assert_scim_error(app.post("/Groups/.search", &request(json!({"cursor": "bogus"}))), 400, Some("invalidCursor"));
    let writer = token("acme", "scim:write");
    let forbidden = app.send_json_as(reqwest::Method::POST, "/Users/.search", &request(json!({})), &writer);
    assert_scim_error(forbidden, 403, None);
    let not_json = app
        .client
        .post(app.scim("/.search"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/scim+json")
        .body("{")
        .send()
        .unwrap();
    assert_scim_error(not_json, 400, Some("invalidSyntax"));
}
