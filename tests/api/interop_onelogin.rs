//! OneLogin provisioning through its "SCIM Provisioner with SAML" connectors, whose request
//! bodies are the SCIM JSON template an administrator pastes in (OneLogin substitutes the
//! `{$user.…}` / `{$parameters.…}` macros and sends the result).
//!
//! Templates as published for OneLogin by service providers:
//! core schema (https://scim.dev/guide/applications/onelogin),
//! enterprise schema (https://www.livingsecurity.com/migration/support/configuring-scim-for-onelogin),
//! one with addresses and phone numbers
//! (https://support.templafy.com/hc/en-us/articles/360000981638-How-to-setup-SCIM-for-OneLogin),
//! and the template Roster documents in docs/identity-providers.md.

use serde_json::{json, Value};

use crate::helpers::*;

fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().unwrap()
}

/// Roster's ready OneLogin template (docs/identity-providers.md) with the macros rendered.
fn roster_template(email: &str, first: &str, last: &str, department: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": email,
        "name": {"givenName": first, "familyName": last, "formatted": format!("{first} {last}")},
        "displayName": format!("{first} {last}"),
        "emails": [{"value": email, "type": "work", "primary": true}],
        "title": "",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": department}
    })
}

#[test]
fn the_core_schema_template_creates_a_user_despite_its_scim_1_schema_uri() {
    let app = TestApp::spawn();
    let created = app.post(
        "/Users",
        &json!({
            "schemas": ["urn:scim:schemas:core:1.0"],
            "userName": "jdoe@example.com",
            "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"}
        }),
    );
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(created["schemas"], json!([USER_SCHEMA]));
    assert_eq!(created["name"]["formatted"], "Jane Doe");
}

#[test]
fn the_enterprise_template_with_blank_parameters_creates_a_user() {
    let app = TestApp::spawn();
    let created = app.post(
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "jdoe@example.com",
            "name": {"familyName": "Doe", "givenName": "Jane"},
            "title": "",
            "userType": "",
            "timezone": "",
            "emails": [{"value": "jdoe@example.com", "type": "work", "primary": true}],
            "addresses": [{"locality": "", "region": "", "country": ""}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "organization": "",
                "division": "",
                "department": "Engineering",
                "manager": {"value": "", "displayName": " "}
            }
        }),
    );
    assert_eq!(created.status(), 201, "{}", created.text().unwrap_or_default());
    let created: Value = created.json().unwrap();
    assert_eq!(created[ENTERPRISE]["department"], "Engineering");
    assert_eq!(created["emails"][0]["value"], "jdoe@example.com");
}

#[test]
fn a_template_with_misspelt_and_unknown_attributes_creates_a_user_and_ignores_them() {
    let app = TestApp::spawn();
    let created = app.post(
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "jdoe@example.com",
            "externalId": "jdoe@example.com",
            "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"},
            "displayName": "Jane Doe",
            "addresses": [{
                "type": "work",
                "streetAddress": "1 Main St",
                "locality": "Springfield",
                "postalCode": "12345",
                "city": "Springfield",
                "region": "IL"
            }],
            "prefferedLanguage": "en",
            "title": "Engineer",
            "phoneNumbers": [
                {"value": "+1 555 0100", "type": "work"},
                {"value": "", "type": "mobile"},
                {"value": "", "type": "fax"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "organization": ""}
        }),
    );
    assert_eq!(created.status(), 201, "{}", created.text().unwrap_or_default());
    let stored = get_json(&app, &format!("/Users/{}", id_of(&created.json::<Value>().unwrap())));
    assert!(stored.get("prefferedLanguage").is_none());
    assert!(stored["addresses"][0].get("city").is_none());
    assert_eq!(stored["addresses"][0]["locality"], "Springfield");
    assert_eq!(stored["phoneNumbers"][0]["value"], "+1 555 0100");
}

#[test]
fn the_documented_template_round_trips_through_create_update_and_delete() {
    let app = TestApp::spawn();
    let lookup = "/Users?filter=userName%20eq%20%22jdoe%40example.com%22";
    assert_eq!(app.list(lookup)["totalResults"], 0);
    let created = app.create_user_with(roster_template("jdoe@example.com", "Jane", "Doe", "Engineering"));
    assert_eq!(created[ENTERPRISE]["department"], "Engineering");
    assert_eq!(app.list(lookup)["Resources"][0]["id"], created["id"]);
    let path = format!("/Users/{}", id_of(&created));

    let updated = app.put(&path, &roster_template("jdoe@example.com", "Jane", "Roe", "Sales"));
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().unwrap();
    assert_eq!(updated["name"]["familyName"], "Roe");
    assert_eq!(updated[ENTERPRISE]["department"], "Sales");

    let suspended = app.patch(&path, &patch_op(json!([{"op": "replace", "path": "active", "value": false}])));
    assert_eq!(suspended.status(), 200);
    assert_eq!(get_json(&app, &path)["active"], false);

    assert_eq!(app.delete(&path).status(), 204);
    assert_eq!(app.list(lookup)["totalResults"], 0);
}

#[test]
fn group_membership_rules_add_and_remove_members_by_patch() {
    let app = TestApp::spawn();
    let jane = app.create_user_with(roster_template("jdoe@example.com", "Jane", "Doe", "Engineering"));
    let john = app.create_user_with(roster_template("jroe@example.com", "John", "Roe", "Engineering"));
    let group = app.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering"}));
    assert_eq!(group.status(), 201);
    let group: Value = group.json().unwrap();
    let path = format!("/Groups/{}", id_of(&group));
    let add = app.patch(
        &path,
        &patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": id_of(&jane)}, {"value": id_of(&john)}]}]),
        ),
    );
    assert_eq!(add.status(), 200);
    let remove = app
        .patch(&path, &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", id_of(&jane))}])));
    assert_eq!(remove.status(), 200);
    assert_eq!(app.member_ids(&id_of(&group)), [id_of(&john)]);
    let john_groups = get_json(&app, &format!("/Users/{}", id_of(&john)));
    assert_eq!(john_groups["groups"][0]["value"], group["id"]);
}

/// The first ```json block after `marker` in a file of the repository.
fn json_block_after(file: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let after = &text[text.find(marker).unwrap_or_else(|| panic!("{file} has no {marker:?}"))..];
    let start = after.find("```json\n").expect("a json block") + "```json\n".len();
    after[start..start + after[start..].find("```").unwrap()].to_string()
}

#[test]
fn the_readme_template_is_the_documented_one_and_creates_a_user_once_rendered() {
    let readme = json_block_after("README.md", "OneLogin's *SCIM JSON Template*");
    assert_eq!(readme, json_block_after("docs/identity-providers.md", "Ready template"), "one template, two places");
    let rendered = [
        ("{$parameters.scimusername}", "mroe@example.com"),
        ("{$user.firstname}", "Mary"),
        ("{$user.lastname}", "Roe"),
        ("{$user.display_name}", "Mary Roe"),
        ("{$user.email}", "mroe@example.com"),
        ("{$user.title}", "Engineer"),
        ("{$user.department}", "Research"),
    ]
    .iter()
    .fold(readme, |body, (macro_name, value)| body.replace(macro_name, value));
    assert!(!rendered.contains("{$"), "every macro is one OneLogin fills in: {rendered}");
    let body: Value = serde_json::from_str(&rendered).unwrap();
    let app = TestApp::spawn();
    let created = app.create_user_with(body);
    assert_eq!(
        (&created["userName"], &created["name"]["familyName"], &created["emails"][0]["value"]),
        (&json!("mroe@example.com"), &json!("Roe"), &json!("mroe@example.com"))
    );
    assert_eq!(created[ENTERPRISE]["department"], "Research");
    assert_eq!(created["title"], "Engineer");
}
