//! Discovery endpoints describe what the server does.

use serde_json::Value;

use crate::helpers::*;

#[test]
fn service_provider_config_advertises_patch_filter_sort_etag_and_bearer_auth() {
    let app = TestApp::spawn();
    let config: Value = app.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(config["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig");
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 1000);
    assert_eq!(config["sort"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

#[test]
fn resource_types_and_schemas_are_listed_and_fetchable() {
    let app = TestApp::spawn();
    let types: Value = app.get("/ResourceTypes").json().unwrap();
    assert_eq!(types["totalResults"], 2);
    let user_type: Value = app.get("/ResourceTypes/User").json().unwrap();
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    assert_scim_error(app.get("/ResourceTypes/Printer"), 404, None);

    let schemas: Value = app.get("/Schemas").json().unwrap();
    let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    for expected in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE] {
        assert!(ids.contains(&expected), "{ids:?}");
    }
    let user: Value = app.get(&format!("/Schemas/{USER_SCHEMA}")).json().unwrap();
    let user_name = user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_scim_error(app.get("/Schemas/urn:nope"), 404, None);
}
