//! `/Bulk` (RFC 7644 §3.7): bulkId references, per-operation outcomes, failOnErrors, limits and
//! tenant isolation, end to end.

use serde_json::{json, Value};

use crate::extensions::refused_start;
use crate::helpers::*;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn bulk(operations: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": operations})
}

/// Sends a bulk request as `token`'s tenant and returns the BulkResponse (asserting 200).
fn run_as(app: &TestApp, body: &Value, token: &str) -> Value {
    let response = app.send_json_as(reqwest::Method::POST, "/Bulk", body, token);
    assert_eq!(response.status(), 200, "POST /Bulk {body}");
    let response: Value = response.json().expect("json");
    assert_eq!(response["schemas"], json!([BULK_RESPONSE]), "{response}");
    response
}

fn run(app: &TestApp, body: &Value) -> Value {
    run_as(app, body, &app.token)
}

fn statuses(response: &Value) -> Vec<String> {
    response["Operations"].as_array().unwrap().iter().map(|op| op["status"].as_str().unwrap().to_string()).collect()
}

fn id_from_location(operation: &Value) -> String {
    operation["location"].as_str().expect("location").rsplit('/').next().unwrap().to_string()
}

fn member_ids(app: &TestApp, group_id: &str) -> Vec<String> {
    let group: Value = app.get(&format!("/Groups/{group_id}")).json().expect("json");
    let mut ids: Vec<String> =
        group["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

fn new_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"schemas": [USER_SCHEMA], "userName": user_name}})
}

/// RFC 7644 §3.7.2: a User, and a Group naming it as a member through its bulkId.
#[test]
fn the_rfc7644_example_creates_a_user_and_a_group_that_names_it() {
    let app = TestApp::spawn();
    let response = run(
        &app,
        &bulk(json!([
            {"method": "POST", "path": "/Users", "bulkId": "qwerty",
             "data": {"schemas": [USER_SCHEMA], "userName": "Alice"}},
            {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides",
                      "members": [{"type": "User", "value": "bulkId:qwerty"}]}}
        ])),
    );
    let [user_op, group_op] = [&response["Operations"][0], &response["Operations"][1]];
    assert_eq!((user_op["method"].as_str(), user_op["bulkId"].as_str()), (Some("POST"), Some("qwerty")));
    assert_eq!((group_op["method"].as_str(), group_op["bulkId"].as_str()), (Some("POST"), Some("ytrewq")));
    assert_eq!(statuses(&response), ["201", "201"]);
    let user_id = id_from_location(user_op);
    assert_eq!(user_op["location"], app.scim(&format!("/Users/{user_id}")));
    let user: Value = app.get(&format!("/Users/{user_id}")).json().unwrap();
    assert_eq!(user["userName"], "Alice");
    assert!(user_op["version"].as_str().is_some_and(|v| v.starts_with("W/")), "{user_op}");
    assert_ne!(
        user_op["version"], user["meta"]["version"],
        "joining the group in the next operation changed the user's groups"
    );
    let group_id = id_from_location(group_op);
    assert_eq!(member_ids(&app, &group_id), std::slice::from_ref(&user_id));
    assert_eq!(user["groups"][0]["value"], group_id);
    assert!(user_op.get("response").is_none(), "successes carry no response body: {user_op}");
}

#[test]
fn references_resolve_whatever_the_order_of_the_operations() {
    let app = TestApp::spawn();
    let response = run(
        &app,
        &bulk(json!([
            {"method": "PATCH", "path": "/Groups/bulkId:team", "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:bob"}]}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "team", "data": {
                "schemas": [GROUP_SCHEMA], "displayName": "Team", "members": [{"value": "bulkId:ann"}]}},
            new_user("ann", "ann"),
            new_user("bob", "bob"),
            {"method": "POST", "path": "/Users", "bulkId": "carl", "data": {
                "schemas": [USER_SCHEMA, ENTERPRISE], "userName": "carl",
                ENTERPRISE: {"manager": {"value": "bulkId:ann"}}}}
        ])),
    );
    assert_eq!(statuses(&response), ["200", "201", "201", "201", "201"], "{response}");
    let operations = response["Operations"].as_array().unwrap();
    assert_eq!(operations[0]["location"], operations[1]["location"], "the PATCH addressed the new group");
    let group_id = id_from_location(&operations[1]);
    let (ann, bob) = (id_from_location(&operations[2]), id_from_location(&operations[3]));
    let mut expected = vec![ann.clone(), bob];
    expected.sort();
    assert_eq!(member_ids(&app, &group_id), expected);
    let carl: Value = app.get(&format!("/Users/{}", id_from_location(&operations[4]))).json().unwrap();
    assert_eq!(carl[ENTERPRISE]["manager"]["value"], ann);
}

#[test]
fn each_operation_reports_the_status_it_would_have_alone() {
    let app = TestApp::spawn();
    let replaced = app.create_user("replaced");
    let patched = app.create_user("patched");
    let deleted = app.create_user("deleted");
    app.create_user("taken");
    let response = run(
        &app,
        &bulk(json!([
            new_user("fresh", "fresh"),
            {"method": "PUT", "path": format!("/Users/{}", id_of(&replaced)), "version": replaced["meta"]["version"],
             "data": {"schemas": [USER_SCHEMA], "userName": "replaced", "displayName": "Replaced"}},
            {"method": "PATCH", "path": format!("/Users/{}", id_of(&patched)),
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}},
            {"method": "DELETE", "path": format!("/Users/{}", id_of(&deleted))},
            {"method": "POST", "path": "/Users", "bulkId": "nameless", "data": {"schemas": [USER_SCHEMA]}},
            {"method": "PUT", "path": "/Users/no-such-id", "data": {"schemas": [USER_SCHEMA], "userName": "x"}},
            new_user("clash", "TAKEN"),
            {"method": "PATCH", "path": format!("/Users/{}", id_of(&patched)), "version": "W/\"999\"",
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "title", "value": "Stale"}]}},
            {"method": "POST", "path": "/Users/123", "data": {"userName": "x"}},
            {"method": "GET", "path": "/Users"}
        ])),
    );
    assert_eq!(statuses(&response), ["201", "200", "200", "204", "400", "404", "409", "412", "405", "400"]);
    let operations = response["Operations"].as_array().unwrap();
    let scim_types: Vec<Option<&str>> = operations.iter().map(|op| op["response"]["scimType"].as_str()).collect();
    assert_eq!(
        scim_types,
        [None, None, None, None, Some("invalidValue"), None, Some("uniqueness"), None, None, Some("invalidSyntax")]
    );
    for failed in &operations[4..] {
        let error = &failed["response"];
        assert_eq!(error["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{failed}");
        assert_eq!(error["status"], failed["status"], "{failed}");
        assert!(error["detail"].as_str().is_some_and(|d| !d.is_empty()), "{failed}");
        assert!(failed.get("version").is_none(), "{failed}");
    }
    assert!(operations[4].get("location").is_none(), "a failed POST has no location");
    assert_eq!(operations[7]["location"], app.scim(&format!("/Users/{}", id_of(&patched))));
    assert_eq!(operations[9]["method"], "GET");

    let after: Value = app.get(&format!("/Users/{}", id_of(&replaced))).json().unwrap();
    assert_eq!(
        (after["displayName"].as_str(), &operations[1]["version"]),
        (Some("Replaced"), &after["meta"]["version"])
    );
    let after: Value = app.get(&format!("/Users/{}", id_of(&patched))).json().unwrap();
    assert_eq!(after["title"], "Boss", "the stale PATCH changed nothing");
    assert_scim_error(app.get(&format!("/Users/{}", id_of(&deleted))), 404, None);
    assert!(operations[3].get("version").is_none());
}

#[test]
fn fail_on_errors_stops_after_that_many_failures() {
    let app = TestApp::spawn();
    let bad = json!({"method": "POST", "path": "/Users", "data": {"schemas": [USER_SCHEMA], "userName": 7}});
    let operations = json!([new_user("a", "a"), bad, new_user("b", "b"), bad, new_user("c", "c"), new_user("d", "d")]);
    let response = run(&app, &json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": operations}));
    assert_eq!(statuses(&response), ["201", "400", "201", "400"], "the operations after the 2nd failure did not run");
    let names = |app: &TestApp| {
        let mut names: Vec<String> = app.list("/Users")["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&app), ["a", "b"], "operations are not atomic as a whole: the successes stay");

    let other = TestApp::spawn();
    let response = run(&other, &bulk(operations));
    assert_eq!(statuses(&response), ["201", "400", "201", "400", "201", "201"], "without failOnErrors all run");
    assert_eq!(names(&other), ["a", "b", "c", "d"]);
}

#[test]
fn unknown_failed_and_circular_bulk_ids_fail_only_their_operations() {
    let app = TestApp::spawn();
    let response = run(
        &app,
        &bulk(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "lost",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "Lost", "members": [{"value": "bulkId:nobody"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "broken", "data": {"schemas": [USER_SCHEMA]}},
            {"method": "PATCH", "path": "/Users/bulkId:broken", "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "x"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "A",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "A", "members": [{"type": "Group", "value": "bulkId:B"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "B",
             "data": {"schemas": [GROUP_SCHEMA], "displayName": "B", "members": [{"type": "Group", "value": "bulkId:A"}]}},
            new_user("fine", "fine")
        ])),
    );
    assert_eq!(statuses(&response), ["400", "400", "400", "409", "409", "201"]);
    let operations = response["Operations"].as_array().unwrap();
    let detail = |index: usize| operations[index]["response"]["detail"].as_str().unwrap().to_string();
    assert_eq!(operations[0]["response"]["scimType"], "invalidValue");
    assert!(detail(0).contains("\"nobody\" is not defined"), "{}", detail(0));
    assert!(detail(2).contains("\"broken\" has no resource"), "{}", detail(2));
    assert!(detail(3).contains("circular"), "{}", detail(3));
    assert_eq!(app.list("/Groups")["totalResults"], 0);
    assert_eq!(app.list("/Users")["totalResults"], 1);
}

#[test]
fn limits_are_advertised_and_exceeding_them_is_413() {
    let app = TestApp::spawn_with(&[("ROSTER_BULK_MAX_OPERATIONS", "3"), ("ROSTER_BULK_MAX_PAYLOAD_BYTES", "2000")]);
    let config: Value = app.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(config["bulk"], json!({"supported": true, "maxOperations": 3, "maxPayloadSize": 2000}));

    let four = bulk(json!([new_user("a", "a"), new_user("b", "b"), new_user("c", "c"), new_user("d", "d")]));
    let body = assert_scim_error(app.post("/Bulk", &four), 413, None);
    assert!(body["detail"].as_str().unwrap().contains("maxOperations"), "{body}");

    let padding = "x".repeat(2000);
    let large =
        bulk(json!([{"method": "POST", "path": "/Users", "data": {"userName": "big", "displayName": padding}}]));
    let body = assert_scim_error(app.post("/Bulk", &large), 413, None);
    assert!(body["detail"].as_str().unwrap().contains("maxPayloadSize (2000 bytes)"), "{body}");
    assert_eq!(app.list("/Users")["totalResults"], 0, "nothing ran");
    let alone =
        app.post("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "big", "displayName": "x".repeat(2000)}));
    assert_eq!(alone.status(), 201, "the bulk limit applies to /Bulk only");
    assert_eq!(statuses(&run(&app, &bulk(json!([new_user("a", "a")])))), ["201"]);
}

#[test]
fn the_default_limits_and_a_payload_limit_above_the_body_limit() {
    let app = TestApp::spawn();
    let config: Value = app.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(config["bulk"], json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576}));

    let db = TestDatabase::new();
    let stderr = refused_start(&db, &[("ROSTER_MAX_BODY_BYTES", "1000"), ("ROSTER_BULK_MAX_PAYLOAD_BYTES", "5000")]);
    assert!(
        stderr.contains("ROSTER_BULK_MAX_PAYLOAD_BYTES (5000) must not exceed ROSTER_MAX_BODY_BYTES (1000)"),
        "{stderr}"
    );
    let small = TestApp::spawn_with(&[("ROSTER_MAX_BODY_BYTES", "1000")]);
    let config: Value = small.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(config["bulk"]["maxPayloadSize"], 1000, "the default follows a smaller body limit");
}

#[test]
fn a_bulk_request_cannot_touch_another_tenants_resources() {
    let app = TestApp::spawn();
    let victim = app.create_user("victim");
    let path = format!("/Users/{}", id_of(&victim));
    let globex = token("globex", ALL_SCOPES);
    let response = run_as(
        &app,
        &bulk(json!([
            {"method": "PUT", "path": path, "data": {"schemas": [USER_SCHEMA], "userName": "stolen"}},
            {"method": "PATCH", "path": path, "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                       "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "DELETE", "path": path},
            {"method": "POST", "path": "/Groups", "data": {"schemas": [GROUP_SCHEMA], "displayName": "Heist",
                                                          "members": [{"value": id_of(&victim)}]}},
            new_user("mine", "victim")
        ])),
        &globex,
    );
    assert_eq!(statuses(&response), ["404", "404", "404", "400", "201"]);
    let unchanged: Value = app.get(&path).json().unwrap();
    assert_eq!(unchanged, victim);
    assert_eq!(app.list("/Users")["totalResults"], 1);
    let theirs: Value = app.get_as("/Users", &globex).json().unwrap();
    assert_eq!(theirs["totalResults"], 1, "globex's own user was created in globex");
}

#[test]
fn bulk_needs_the_write_scope_and_a_bulk_request_message() {
    let app = TestApp::spawn();
    let reader = token("acme", "scim:read");
    let response = app.send_json_as(reqwest::Method::POST, "/Bulk", &bulk(json!([new_user("a", "a")])), &reader);
    assert_scim_error(response, 403, None);
    let no_schema = app.post("/Bulk", &json!({"Operations": [new_user("a", "a")]}));
    assert_scim_error(no_schema, 400, Some("invalidSyntax"));
    let duplicate = app.post("/Bulk", &bulk(json!([new_user("a", "a"), new_user("a", "b")])));
    assert_scim_error(duplicate, 400, Some("invalidValue"));
    assert_eq!(app.list("/Users")["totalResults"], 0);
}
