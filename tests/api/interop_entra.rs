//! Microsoft Entra ID provisioning, replayed request by request.
//!
//! Bodies and query strings are those of Microsoft's SCIM guide
//! (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)
//! and of its SCIM compatibility notes, which show what Entra sends with and without the
//! `aadOptscim062020` flag
//! (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn entra_user(app: &TestApp, user_name: &str) -> Value {
    app.create_user_with(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("mail.{user_name}")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    }))
}

fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().unwrap()
}

fn patch_ok(app: &TestApp, path: &str, operations: Value) -> Value {
    let response = app.patch(path, &patch_op(operations.clone()));
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "PATCH {path} {operations}\n{body}");
    body
}

#[test]
fn the_documented_user_lifecycle_replays() {
    let app = TestApp::spawn();
    let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let lookup = format!("/Users?filter=userName%20eq%20%22{user_name}%22");
    assert_eq!(app.list(&lookup)["totalResults"], 0);
    let created = entra_user(&app, user_name);
    let path = format!("/Users/{}", id_of(&created));
    assert_eq!(created["active"], true);
    assert_eq!(get_json(&app, &path)["userName"], user_name);
    assert_eq!(app.list(&lookup)["Resources"][0]["id"], created["id"]);

    let updated = patch_ok(
        &app,
        &path,
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]),
    );
    assert_eq!(updated["emails"], json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}]));
    assert_eq!(updated["name"]["familyName"], "updatedFamilyName");

    let renamed = patch_ok(
        &app,
        &path,
        json!([{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]),
    );
    assert_eq!(renamed["userName"], "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com");

    let disabled = app.patch(
        &path,
        &json!({"Operations": [{"op": "Replace", "path": "active", "value": false}], "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
    );
    assert_eq!(disabled.status(), 200);
    assert_eq!(disabled.json::<Value>().unwrap()["active"], false);

    assert_eq!(app.delete(&path).status(), 204);
    assert_scim_error(app.get(&path), 404, None);
}

#[test]
fn the_documented_group_lifecycle_replays() {
    let app = TestApp::spawn();
    let member = app.create_user("member@testuser.com");
    let created = app.post(
        "/Groups",
        &json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }),
    );
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(created["schemas"], json!([GROUP_SCHEMA]), "the undeclared ADSCIM schema is not kept");
    assert_eq!(created["members"], json!([]));
    let path = format!("/Groups/{}", id_of(&created));

    let fetched = get_json(&app, &format!("{path}?excludedAttributes=members"));
    assert!(fetched.get("members").is_none(), "{fetched}");
    assert_eq!(fetched["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    let found = app.list("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22");
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none(), "{found}");

    patch_ok(
        &app,
        &path,
        json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]),
    );
    patch_ok(
        &app,
        &path,
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id_of(&member)}]}]),
    );
    assert_eq!(app.member_ids(&id_of(&created)), [id_of(&member)]);
    patch_ok(
        &app,
        &path,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id_of(&member)}]}]),
    );
    assert!(app.member_ids(&id_of(&created)).is_empty());
    assert_eq!(get_json(&app, &path)["displayName"], "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");

    assert_eq!(app.delete(&path).status(), 204);
    assert_scim_error(app.get(&path), 404, None);
}

#[test]
fn patch_op_names_are_accepted_in_any_letter_case() {
    let app = TestApp::spawn();
    let user =
        app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "cased", "title": "old", "nickName": "n"}));
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(
        &app,
        &path,
        json!([
            {"op": "Replace", "path": "title", "value": "new"},
            {"op": "Add", "path": "displayName", "value": "Cased User"},
            {"op": "Remove", "path": "nickName"},
            {"op": "REPLACE", "path": "locale", "value": "en-US"}
        ]),
    );
    let stored = get_json(&app, &path);
    assert_eq!((stored["title"].as_str(), stored["displayName"].as_str()), (Some("new"), Some("Cased User")));
    assert_eq!(stored["locale"], "en-US");
    assert!(stored.get("nickName").is_none(), "{stored}");
}

#[test]
fn booleans_sent_as_strings_are_stored_as_booleans() {
    let app = TestApp::spawn();
    let user = app.create_user_with(json!({
        "schemas": [USER_SCHEMA],
        "userName": "stringly",
        "active": "True",
        "emails": [{"value": "s@contoso.com", "type": "work", "primary": "True"}]
    }));
    assert_eq!((user["active"].clone(), user["emails"][0]["primary"].clone()), (json!(true), json!(true)));
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(&app, &path, json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(get_json(&app, &path)["active"], false);
    patch_ok(&app, &path, json!([{"op": "Replace", "value": {"active": "True"}}]));
    assert_eq!(get_json(&app, &path)["active"], true);
}

#[test]
fn a_no_path_replace_with_dotted_and_urn_prefixed_keys_sets_the_attributes_they_name() {
    let app = TestApp::spawn();
    let user = entra_user(&app, "dotted@testuser.com");
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(
        &app,
        &path,
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }}
        ]),
    );
    let stored = get_json(&app, &path);
    assert_eq!(stored["displayName"], "Bjfe");
    assert_eq!(stored["name"]["givenName"], "Kkom");
    assert_eq!(stored["name"]["familyName"], "Unua");
    assert_eq!(stored["name"]["formatted"], "givenName familyName", "sibling sub-attributes are kept");
    assert_eq!(stored[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(stored["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
    let keys: Vec<&String> = stored.as_object().unwrap().keys().collect();
    assert!(
        keys.iter().all(|key| !key.starts_with("name.") && !key.ends_with(":employeeNumber")),
        "no literal dotted or URN-prefixed key is stored: {keys:?}"
    );
    let added = app.patch(&path, &patch_op(json!([{"op": "Add", "value": {"name.middleName": "M", (ENTERPRISE.to_string() + ":department"): "Finance"}}])));
    assert_eq!(added.status(), 200);
    let stored = get_json(&app, &path);
    assert_eq!(
        (stored["name"]["middleName"].as_str(), stored[ENTERPRISE]["department"].as_str()),
        (Some("M"), Some("Finance"))
    );
    assert!(stored.get("name.middleName").is_none() && stored.get(format!("{ENTERPRISE}:department")).is_none());
}

#[test]
fn add_on_a_single_valued_attribute_replaces_its_value() {
    let app = TestApp::spawn();
    let user = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "babs", "nickName": "Barbara"}));
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(&app, &path, json!([{"op": "Add", "path": "nickName", "value": "Babs"}]));
    patch_ok(&app, &path, json!([{"op": "Add", "path": "name.givenName", "value": "Barbara"}]));
    patch_ok(&app, &path, json!([{"op": "Add", "path": "name.givenName", "value": "Babs"}]));
    let stored = get_json(&app, &path);
    assert_eq!(stored["nickName"], "Babs");
    assert_eq!(stored["name"], json!({"givenName": "Babs"}));
}

#[test]
fn a_filtered_path_creates_the_work_email_that_does_not_exist_yet() {
    let app = TestApp::spawn();
    let user = app.create_user_with(json!({
        "schemas": [USER_SCHEMA],
        "userName": "nowork",
        "emails": [{"value": "home@contoso.com", "type": "home"}]
    }));
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(
        &app,
        &path,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"}]),
    );
    let stored = get_json(&app, &path);
    assert_eq!(
        stored["emails"],
        json!([{"value": "home@contoso.com", "type": "home"}, {"value": "updatedEmail@microsoft.com", "type": "work"}])
    );
    let found =
        app.list("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22updatedEmail@microsoft.com%22");
    assert_eq!(found["totalResults"], 1, "{found}");
    patch_ok(
        &app,
        &path,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "second@microsoft.com"}]),
    );
    let stored = get_json(&app, &path);
    assert_eq!(stored["emails"].as_array().unwrap().len(), 2, "the existing work email is updated, not duplicated");
    assert_eq!(stored["emails"][1]["value"], "second@microsoft.com");
}

#[test]
fn several_work_address_operations_in_one_request_build_one_address() {
    let app = TestApp::spawn();
    let user = app.create_user("addressed");
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(
        &app,
        &path,
        json!([
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Microsoft Way"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
            {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
            {"op": "Add", "path": "addresses[type eq \"work\"].country", "value": "US"},
            {"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": "1 Microsoft Way\nRedmond, WA 98052\nUS"}
        ]),
    );
    let stored = get_json(&app, &path);
    assert_eq!(
        stored["addresses"],
        json!([{
            "type": "work",
            "formatted": "1 Microsoft Way\nRedmond, WA 98052\nUS",
            "streetAddress": "1 Microsoft Way",
            "locality": "Redmond",
            "postalCode": "98052",
            "country": "US"
        }]),
        "{stored}"
    );
}

#[test]
fn a_manager_sent_as_a_bare_id_or_a_reference_list_is_stored_as_the_complex_manager() {
    let app = TestApp::spawn();
    let manager = app.create_user("manager@contoso.com");
    let report = app.create_user("report@contoso.com");
    let path = format!("/Users/{}", id_of(&report));
    patch_ok(&app, &path, json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": id_of(&manager)}]));
    assert_eq!(get_json(&app, &path)[ENTERPRISE]["manager"]["value"], id_of(&manager));

    let other = app.create_user("other-manager@contoso.com");
    patch_ok(
        &app,
        &path,
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": app.scim(&format!("/Users/{}", id_of(&other))), "value": id_of(&other)}]}]),
    );
    let stored = get_json(&app, &path);
    assert_eq!(stored[ENTERPRISE]["manager"]["value"], id_of(&other), "{stored}");
    assert!(stored.get("manager").is_none(), "{stored}");
}

#[test]
fn members_are_removed_by_a_value_list_and_by_a_value_filter() {
    let app = TestApp::spawn();
    let users: Vec<String> = (0..4).map(|i| id_of(&app.create_user(&format!("m{i}")))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let group = app.create_group("Removals", &refs);
    let path = format!("/Groups/{}", id_of(&group));
    patch_ok(
        &app,
        &path,
        json!([{"op": "Remove", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}]}]),
    );
    patch_ok(&app, &path, json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[2])}]));
    assert_eq!(app.member_ids(&id_of(&group)), [users[3].clone()]);
}

#[test]
fn read_only_meta_and_id_nulls_and_undeclared_schemas_in_bodies_are_ignored() {
    let app = TestApp::spawn();
    let created = app.post(
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "id": "chosen-by-the-client",
            "externalId": "jyoung",
            "userName": "jyoung@testuser.com",
            "active": true,
            "addresses": null,
            "displayName": "Joy Young",
            "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
            "meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z", "version": "W/\"1\""},
            "name": {"familyName": "Young", "givenName": "Joy"},
            "phoneNumbers": null,
            "preferredLanguage": null,
            "title": null,
            "department": null,
            "manager": null
        }),
    );
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_ne!(created["id"], "chosen-by-the-client");
    assert_ne!(created["meta"]["created"], "2001-01-01T00:00:00Z");
    let stored = get_json(&app, &format!("/Users/{}", id_of(&created)));
    assert_eq!(stored["schemas"], json!([USER_SCHEMA]));
    for absent in ["addresses", "phoneNumbers", "preferredLanguage", "title", "department", "manager"] {
        assert!(stored.get(absent).is_none(), "{absent}: {stored}");
    }
    assert_eq!(stored["displayName"], "Joy Young");
    assert_scim_error(app.get("/Users/chosen-by-the-client"), 404, None);

    let replaced = app.put(
        &format!("/Users/{}", id_of(&created)),
        &json!({
            "schemas": [USER_SCHEMA],
            "id": "another-id",
            "userName": "jyoung@testuser.com",
            "meta": {"resourceType": "User", "lastModified": "2001-01-01T00:00:00Z"},
            "nickName": null
        }),
    );
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().unwrap();
    assert_eq!(replaced["id"], created["id"]);
    assert_ne!(replaced["meta"]["lastModified"], "2001-01-01T00:00:00Z");
}

#[test]
fn attribute_names_are_case_insensitive() {
    let app = TestApp::spawn();
    let user = app.create_user_with(json!({
        "Schemas": [USER_SCHEMA],
        "UserName": "Casey",
        "NAME": {"GivenName": "Casey", "familyname": "Jones"},
        "Emails": [{"Value": "casey@contoso.com", "TYPE": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "Ops"}
    }));
    assert_eq!(user["userName"], "Casey");
    assert_eq!(user["name"], json!({"familyName": "Jones", "givenName": "Casey"}));
    assert_eq!(user["emails"], json!([{"value": "casey@contoso.com", "type": "work"}]));
    assert_eq!(user[ENTERPRISE]["department"], "Ops");
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(&app, &path, json!([{"op": "Replace", "path": "NAME.FAMILYNAME", "value": "Smith"}]));
    assert_eq!(get_json(&app, &path)["name"]["familyName"], "Smith");
    let found = app.list("/Users?filter=USERNAME%20eq%20%22casey%22");
    assert_eq!(found["totalResults"], 1, "{found}");
}

#[test]
fn users_are_found_by_user_name_external_id_and_work_email() {
    let app = TestApp::spawn();
    let user = entra_user(&app, "Lookup@testuser.com");
    for query in [
        "/Users?filter=userName%20eq%20%22lookup@testuser.com%22",
        "/Users?filter=externalId%20eq%20%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        "/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22MAIL.lookup@testuser.com%22",
    ] {
        let found = app.list(query);
        assert_eq!(found["totalResults"], 1, "{query}: {found}");
        assert_eq!(found["Resources"][0]["id"], user["id"], "{query}");
    }
    let not_home =
        app.list("/Users?filter=emails%5Btype%20eq%20%22home%22%5D.value%20eq%20%22mail.Lookup@testuser.com%22");
    assert_eq!(not_home["totalResults"], 0, "the type filter is honoured");
}

#[test]
fn a_lookup_with_zero_matches_is_200_with_an_empty_list_response() {
    let app = TestApp::spawn();
    for query in [
        "/Users?filter=userName%20eq%20%22non-existent%20user%22",
        "/Users?filter=externalId%20eq%20%2204ae3fbd-b5a6-4f0c-9e61-47fd3a7a2f12%22",
        "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22nobody%22",
    ] {
        let response = app.get(query);
        assert_eq!(response.status(), 200, "{query}");
        let body: Value = response.json().unwrap();
        assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        assert_eq!((body["totalResults"].clone(), body["Resources"].clone()), (json!(0), json!([])), "{query}");
        assert_eq!(body["startIndex"], 1);
    }
}

#[test]
fn schema_discovery_answers_a_list_response_with_the_user_group_and_enterprise_schemas() {
    let app = TestApp::spawn();
    let schemas = app.list("/Schemas");
    assert_eq!(schemas["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    for expected in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE] {
        assert!(ids.contains(&expected), "{expected} in {ids:?}");
    }
}

#[test]
fn a_disabled_user_is_still_returned_by_get_and_by_filters() {
    let app = TestApp::spawn();
    let user = entra_user(&app, "disabled@testuser.com");
    let path = format!("/Users/{}", id_of(&user));
    patch_ok(&app, &path, json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(get_json(&app, &path)["active"], false);
    let found = app.list("/Users?filter=userName%20eq%20%22disabled@testuser.com%22");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["active"], false);
    assert_eq!(app.list("/Users?filter=active%20eq%20false")["totalResults"], 1);
    assert_eq!(app.list("/Users")["totalResults"], 1);
}

#[test]
fn patch_answers_200_with_the_resource_honouring_attributes_and_excluded_attributes() {
    let app = TestApp::spawn();
    let member = app.create_user("projected");
    let group = app.create_group("Big group", &[]);
    let path = format!("/Groups/{}", id_of(&group));
    let add = patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": id_of(&member)}]}]));
    let lean = app.patch(&format!("{path}?excludedAttributes=members"), &add);
    assert_eq!(lean.status(), 200);
    let lean: Value = lean.json().unwrap();
    assert_eq!(lean["displayName"], "Big group");
    assert!(lean.get("members").is_none(), "{lean}");
    let named = app.patch(
        &format!("{path}?attributes=displayName"),
        &patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Bigger group"}])),
    );
    assert_eq!(named.status(), 200);
    let named: Value = named.json().unwrap();
    assert_eq!(named["displayName"], "Bigger group");
    assert!(named.get("members").is_none() && named.get("id").is_some(), "{named}");
    let full = app.patch(&path, &patch_op(json!([{"op": "Replace", "path": "externalId", "value": "x1"}])));
    assert_eq!(full.json::<Value>().unwrap()["members"][0]["value"], id_of(&member));

    let user_path = format!("/Users/{}", id_of(&member));
    let user = app.patch(
        &format!("{user_path}?attributes=userName"),
        &patch_op(json!([{"op": "Replace", "path": "title", "value": "Lead"}])),
    );
    assert_eq!(user.status(), 200);
    let user: Value = user.json().unwrap();
    assert_eq!(user["userName"], "projected");
    assert!(user.get("title").is_none(), "{user}");
    assert_eq!(get_json(&app, &user_path)["title"], "Lead");
}

#[test]
fn group_patch_answers_204_when_the_setting_asks_for_it() {
    let app = TestApp::spawn_with(&[("ROSTER_GROUP_PATCH_NO_CONTENT", "true")]);
    let member = app.create_user("quiet");
    let group = app.create_group("Quiet group", &[]);
    let path = format!("/Groups/{}", id_of(&group));
    let response =
        app.patch(&path, &patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": id_of(&member)}]}])));
    assert_eq!(response.status(), 204);
    assert!(response.headers().get("etag").is_some());
    assert!(response.text().unwrap().is_empty());
    assert_eq!(app.member_ids(&id_of(&group)), [id_of(&member)]);
    let user = app.patch(
        &format!("/Users/{}", id_of(&member)),
        &patch_op(json!([{"op": "Replace", "path": "active", "value": false}])),
    );
    assert_eq!(user.status(), 200, "user PATCH still answers with the resource");
    let plain = app.send_raw(
        Method::PATCH,
        &path,
        "application/scim+json",
        &patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Renamed"}])).to_string(),
    );
    assert_eq!(plain.status(), 204);
    assert_eq!(get_json(&app, &path)["displayName"], "Renamed");
}

#[test]
fn the_documented_schema_example_with_a_bare_manager_id_creates_and_replaces_a_user() {
    let app = TestApp::spawn();
    let manager = app.create_user("manager@testuser.com");
    let body = |manager_id: &str| {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE, "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"],
            "userName": "bjensen@testuser.com",
            "id": "48af03ac28ad4fb88478",
            "externalId": "bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": manager_id},
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"tag": "701984"},
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
        })
    };
    let created = app.post("/Users", &body(&id_of(&manager)));
    assert_eq!(created.status(), 201, "{}", created.text().unwrap_or_default());
    let created: Value = created.json().unwrap();
    assert_eq!(created[ENTERPRISE]["manager"]["value"], id_of(&manager));
    assert!(created.get("urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User").is_none());
    let replaced = app.put(&format!("/Users/{}", id_of(&created)), &body("123456"));
    assert_eq!(replaced.status(), 200);
    assert_eq!(replaced.json::<Value>().unwrap()[ENTERPRISE]["manager"]["value"], "123456");
}
