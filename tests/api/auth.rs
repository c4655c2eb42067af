//! Bearer-token authentication and scopes.

use serde_json::json;

use crate::helpers::*;

#[test]
fn a_request_without_authorization_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn();
    let response = app.client.get(app.scim("/Users")).send().unwrap();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    assert!(challenge.is_some_and(|c| c.starts_with("Bearer")));
    assert_scim_error(response, 401, None);
}

#[test]
fn a_malformed_authorization_header_is_401() {
    let app = TestApp::spawn();
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"] {
        let response = app.client.get(app.scim("/Users")).header("Authorization", header).send().unwrap();
        assert!(response.headers().contains_key("www-authenticate"), "{header}");
        assert_scim_error(response, 401, None);
    }
}

#[test]
fn tokens_with_a_bad_signature_no_algorithm_or_another_algorithm_are_401() {
    let app = TestApp::spawn();
    let valid = token("acme", ALL_SCOPES);
    let (head, rest) = valid.split_once('.').unwrap();
    let (claims, _) = rest.split_once('.').unwrap();
    let bad_signature = format!("{head}.{claims}.c2lnbmF0dXJl");
    let none_header = base64_url(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{claims}.");
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &json!({"sub": "t", "tenant": "acme", "scope": ALL_SCOPES, "exp": now() + 600, "jti": "x"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "t", "tenant": "acme", "scope": ALL_SCOPES, "exp": now() + 600, "jti": "y"}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-entirely"),
    )
    .unwrap();
    for bad in [bad_signature, alg_none, hs512, other_secret, "not.a.jwt".to_string()] {
        assert_scim_error(app.get_as("/Users", &bad), 401, None);
    }
    assert_eq!(app.get_as("/Users", &valid).status(), 200);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn an_expired_token_is_401() {
    let app = TestApp::spawn();
    let expired =
        token_with(json!({"sub": "t", "tenant": "acme", "scope": ALL_SCOPES, "exp": now() - 600, "jti": "e"}));
    let body = assert_scim_error(app.get_as("/Users", &expired), 401, None);
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");
}

#[test]
fn a_token_without_the_needed_scope_is_403() {
    let app = TestApp::spawn();
    let reader = token("acme", "scim:read");
    let writer = token("acme", "scim:write");
    assert_eq!(app.get_as("/Users", &reader).status(), 200);
    let create = json!({"schemas": [USER_SCHEMA], "userName": "x"});
    let body = assert_scim_error(app.send_json_as(reqwest::Method::POST, "/Users", &create, &reader), 403, None);
    assert!(body["detail"].as_str().unwrap().contains("scim:write"), "{body}");
    assert_scim_error(app.get_as("/Users", &writer), 403, None);
    assert_eq!(app.send_json_as(reqwest::Method::POST, "/Users", &create, &writer).status(), 201);
}

#[test]
fn a_revoked_token_stops_working_at_once() {
    let app = TestApp::spawn();
    let jti = uuid::Uuid::new_v4().to_string();
    let doomed = token_with(json!({"sub": "t", "tenant": "acme", "scope": ALL_SCOPES, "exp": now() + 600, "jti": jti}));
    assert_eq!(app.get_as("/Users", &doomed).status(), 200);
    let (ok, stdout, stderr) = run_cli(&app.db, &["token", "revoke", &jti], &[]);
    assert!(ok, "revoke failed: {stdout} {stderr}");
    let body = assert_scim_error(app.get_as("/Users", &doomed), 401, None);
    assert!(body["detail"].as_str().unwrap().contains("revoked"), "{body}");
    assert_eq!(app.get("/Users").status(), 200, "other tokens still work");
}

#[test]
fn a_revoked_token_is_refused_by_every_resource_operation_and_changes_nothing() {
    let app = TestApp::spawn();
    let user = app.create_user("kept");
    let path = format!("/Users/{}", id_of(&user));
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = |scope: &str| json!({"sub": "t", "tenant": "acme", "scope": scope, "exp": now() + 600, "jti": jti});
    let doomed = token_with(claims(ALL_SCOPES));
    let doomed_reader = token_with(claims("scim:read"));
    assert_eq!(app.get_as(&path, &doomed).status(), 200);
    assert!(run_cli(&app.db, &["token", "revoke", &jti], &[]).0);

    let replacement = json!({"schemas": [USER_SCHEMA], "userName": "kept", "title": "changed"});
    let patch = patch_op(json!([{"op": "add", "path": "title", "value": "changed"}]));
    let search =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"kept\""});
    let attempts = [
        ("GET by id", app.get_as(&path, &doomed)),
        ("GET by id with a bad attributes list", app.get_as(&format!("{path}?attributes=a..b"), &doomed)),
        ("GET filtered", app.get_as("/Users?filter=userName%20eq%20%22kept%22", &doomed)),
        ("GET with a bad filter", app.get_as("/Users?filter=userName%20zz", &doomed)),
        (
            "POST",
            app.send_json_as(
                reqwest::Method::POST,
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": "new"}),
                &doomed,
            ),
        ),
        (
            "POST without userName",
            app.send_json_as(reqwest::Method::POST, "/Users", &json!({"schemas": [USER_SCHEMA]}), &doomed),
        ),
        (
            "POST lacking scope",
            app.send_json_as(
                reqwest::Method::POST,
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": "new"}),
                &doomed_reader,
            ),
        ),
        ("PUT", app.send_json_as(reqwest::Method::PUT, &path, &replacement, &doomed)),
        ("PATCH", app.send_json_as(reqwest::Method::PATCH, &path, &patch, &doomed)),
        ("DELETE", app.client.delete(app.scim(&path)).bearer_auth(&doomed).send().unwrap()),
        ("POST /.search", app.send_json_as(reqwest::Method::POST, "/Users/.search", &search, &doomed)),
    ];
    for (what, response) in attempts {
        let body = assert_scim_error(response, 401, None);
        assert!(body["detail"].as_str().unwrap().contains("revoked"), "{what}: {body}");
    }
    let after = app.get(&path);
    assert_eq!(after.status(), 200, "the user is still there");
    let after: serde_json::Value = after.json().unwrap();
    assert!(after.get("title").is_none(), "{after}");
    assert_eq!(app.list("/Users")["totalResults"], 1, "nothing was created");
}

#[test]
fn rs256_tokens_from_an_external_issuer_verify_with_a_configured_public_key() {
    let db = TestDatabase::new();
    let key_path = db.dir().join("issuer.pub.pem");
    std::fs::write(&key_path, RSA_PUBLIC).unwrap();
    let server =
        start_server(&db, &[("ROSTER_JWT_ALGORITHM", "RS256"), ("ROSTER_JWT_PUBLIC_KEY", key_path.to_str().unwrap())]);
    let claims = json!({"sub": "idp", "tenant": "acme", "scope": "scim:read", "exp": now() + 600, "jti": "r1"});
    let rs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    let client = reqwest::blocking::Client::new();
    let ok = client.get(format!("{}/scim/v2/Users", server.base)).bearer_auth(&rs256).send().unwrap();
    assert_eq!(ok.status(), 200);
    // An HS256 token is refused when RS256 is configured, whatever its secret.
    let hs = token("acme", "scim:read");
    let refused = client.get(format!("{}/scim/v2/Users", server.base)).bearer_auth(&hs).send().unwrap();
    assert_scim_error(refused, 401, None);
}

const RSA_PRIVATE: &str = include_str!("fixtures/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/rsa_public.pem");
