//! Bad input gets a precise SCIM error and stored data stays exactly as it was.

use serde_json::json;

use crate::helpers::*;

#[test]
fn malformed_json_is_400_invalid_syntax_and_stores_nothing() {
    let app = TestApp::spawn();
    for body in ["{\"userName\": ", "[1,2", "not json", ""] {
        let response = app
            .client
            .post(app.scim("/Users"))
            .bearer_auth(&app.token)
            .header("Content-Type", "application/scim+json")
            .body(body)
            .send()
            .unwrap();
        assert_scim_error(response, 400, Some("invalidSyntax"));
    }
    let not_object = app.post("/Users", &json!(["userName"]));
    assert_scim_error(not_object, 400, Some("invalidSyntax"));
    assert_eq!(app.list("/Users")["totalResults"], 0);
}

#[test]
fn unknown_routes_are_scim_404_and_wrong_methods_are_405_with_allow() {
    let app = TestApp::spawn();
    let missing = app.client.get(app.url("/scim/v2/Nope")).bearer_auth(&app.token).send().unwrap();
    assert_scim_error(missing, 404, None);
    let wrong = app.client.delete(app.scim("/Users")).bearer_auth(&app.token).send().unwrap();
    let allow = wrong.headers()["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert_scim_error(wrong, 405, None);
}

#[test]
fn unsupported_media_types_are_415_and_json_variants_identity_providers_send_are_accepted() {
    let app = TestApp::spawn();
    let body = json!({"schemas": [USER_SCHEMA], "userName": "media"}).to_string();
    let xml = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/xml")
        .body(body.clone())
        .send()
        .unwrap();
    assert_scim_error(xml, 415, None);
    for (i, content_type) in
        ["application/json", "text/json", "application/scim+json; charset=utf-8"].iter().enumerate()
    {
        let body = json!({"schemas": [USER_SCHEMA], "userName": format!("media{i}")}).to_string();
        let ok = app
            .client
            .post(app.scim("/Users"))
            .bearer_auth(&app.token)
            .header("Content-Type", *content_type)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(ok.status(), 201, "{content_type}");
    }
}

#[test]
fn an_oversized_body_is_413_and_stores_nothing() {
    let app = TestApp::spawn_with(&[("ROSTER_MAX_BODY_BYTES", "2048")]);
    let big = json!({"schemas": [USER_SCHEMA], "userName": "big", "displayName": "x".repeat(4096)});
    assert_scim_error(app.post("/Users", &big), 413, None);
    let chunked = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/scim+json")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(big.to_string().into_bytes())))
        .send()
        .unwrap();
    assert_scim_error(chunked, 413, None);
    assert_eq!(app.list("/Users")["totalResults"], 0);
}

#[test]
fn a_bad_filter_is_400_invalid_filter_naming_the_problem() {
    let app = TestApp::spawn();
    for (filter, fragment) in [
        ("userName eq", "value"),
        ("userName zz \"x\"", "zz"),
        ("(userName eq \"x\"", ")"),
        ("noSuchAttribute eq \"x\"", "noSuchAttribute"),
    ] {
        let response = app.get(&format!("/Users?filter={}", crate::users::urlencode(filter)));
        let body = assert_scim_error(response, 400, Some("invalidFilter"));
        assert!(body["detail"].as_str().unwrap().contains(fragment), "{filter}: {body}");
    }
    let deep = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
    assert_scim_error(
        app.get(&format!("/Users?filter={}", crate::users::urlencode(&deep))),
        400,
        Some("invalidFilter"),
    );
}

#[test]
fn bad_query_parameters_are_400_invalid_value() {
    let app = TestApp::spawn();
    assert_scim_error(app.get("/Users?count=many"), 400, Some("invalidValue"));
    assert_scim_error(app.get("/Users?sortOrder=sideways"), 400, Some("invalidValue"));
}
