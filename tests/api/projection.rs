//! `attributes` / `excludedAttributes` on every read and write response, honouring each
//! attribute's `returned` (RFC 7643 §7, RFC 7644 §3.4.2.5, §3.9).

use serde_json::{json, Value};

use crate::helpers::*;

fn keys(resource: &Value) -> Vec<String> {
    let mut keys: Vec<String> = resource.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// A user with names, emails, a password, an enterprise department, and one group.
fn member(app: &TestApp) -> (Value, Value) {
    let user = app.create_user_with(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "quinn",
        "name": {"givenName": "Quinn", "familyName": "Q"},
        "displayName": "Quinn Q",
        "password": "s3cret-Passw0rd",
        "emails": [{"value": "quinn@example.com", "type": "work", "primary": true}],
        ENTERPRISE: {"department": "Ops", "employeeNumber": "42"}
    }));
    let group = app.create_group("Crew", &[&id_of(&user)]);
    (user, group)
}

#[test]
fn attributes_returns_the_named_attributes_plus_those_always_returned() {
    let app = TestApp::spawn();
    let (user, _) = member(&app);
    let path = format!("/Users/{}", id_of(&user));
    let only_name: Value = app.get(&format!("{path}?attributes=userName")).json().unwrap();
    assert_eq!(keys(&only_name), ["id", "schemas", "userName"]);

    let email_values: Value = app.get(&format!("{path}?attributes=emails.value")).json().unwrap();
    assert_eq!(keys(&email_values), ["emails", "id", "schemas"]);
    assert_eq!(email_values["emails"], json!([{"value": "quinn@example.com"}]));

    let mixed: Value =
        app.get(&format!("{path}?attributes=NAME.familyName,{ENTERPRISE}:department,meta.version")).json().unwrap();
    assert_eq!(keys(&mixed), ["id", "meta", "name", "schemas", ENTERPRISE]);
    assert_eq!(mixed["name"], json!({"familyName": "Q"}));
    assert_eq!(mixed[ENTERPRISE], json!({"department": "Ops"}));
    assert_eq!(keys(&mixed["meta"]), ["version"]);

    let groups: Value = app.get(&format!("{path}?attributes=groups")).json().unwrap();
    assert_eq!(groups["groups"][0]["display"], "Crew");
    assert!(only_name.get("groups").is_none(), "groups only when asked for or not excluded");
}

#[test]
fn excluded_attributes_leave_out_default_attributes_but_never_id() {
    let app = TestApp::spawn();
    let (user, _) = member(&app);
    let path = format!("/Users/{}", id_of(&user));
    let full: Value = app.get(&path).json().unwrap();
    assert!(full.get("groups").is_some() && full.get("password").is_none());

    let slim: Value = app.get(&format!("{path}?excludedAttributes=emails,name")).json().unwrap();
    let mut expected: Vec<String> = keys(&full).into_iter().filter(|k| k != "emails" && k != "name").collect();
    expected.sort();
    assert_eq!(keys(&slim), expected);

    let no_groups: Value = app.get(&format!("{path}?excludedAttributes=groups,id,schemas")).json().unwrap();
    assert!(no_groups.get("groups").is_none());
    assert_eq!(no_groups["id"], full["id"], "id is always returned");
    assert_eq!(no_groups["schemas"], full["schemas"]);

    let no_extension: Value = app.get(&format!("{path}?excludedAttributes={ENTERPRISE}")).json().unwrap();
    assert!(no_extension.get(ENTERPRISE).is_none());
}

#[test]
fn the_password_is_never_returned_even_when_asked_for() {
    let app = TestApp::spawn();
    let (user, _) = member(&app);
    assert!(user.get("password").is_none(), "not in the create response");
    let path = format!("/Users/{}", id_of(&user));
    let asked: Value = app.get(&format!("{path}?attributes=password,userName")).json().unwrap();
    assert_eq!(keys(&asked), ["id", "schemas", "userName"]);
    let listed = app.list("/Users?attributes=password");
    assert_eq!(keys(&listed["Resources"][0]), ["id", "schemas"]);
}

#[test]
fn write_responses_honour_the_projection_too() {
    let app = TestApp::spawn();
    let created =
        app.post("/Users?attributes=userName", &json!({"schemas": [USER_SCHEMA], "userName": "rita", "title": "X"}));
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(keys(&created), ["id", "schemas", "userName"]);
    let path = format!("/Users/{}", id_of(&created));

    let put: Value = app
        .put(
            &format!("{path}?excludedAttributes=meta,title"),
            &json!({"schemas": [USER_SCHEMA], "userName": "rita", "title": "Y"}),
        )
        .json()
        .unwrap();
    assert!(put.get("meta").is_none() && put.get("title").is_none() && put["userName"] == "rita");

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "title", "value": "Z"}]});
    let patched: Value = app.patch(&format!("{path}?attributes=title"), &patch).json().unwrap();
    assert_eq!(keys(&patched), ["id", "schemas", "title"]);
    assert_eq!(patched["title"], "Z");

    let group = app.create_group("Big", &[&id_of(&created)]);
    let group_path = format!("/Groups/{}", id_of(&group));
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": "Bigger"}]});
    let renamed: Value = app.patch(&format!("{group_path}?excludedAttributes=members"), &rename).json().unwrap();
    assert!(renamed.get("members").is_none(), "a client can skip a large member list");
    assert_eq!(renamed["displayName"], "Bigger");
}

#[test]
fn listings_project_every_resource() {
    let app = TestApp::spawn();
    member(&app);
    let page = app.list("/Users?attributes=userName,emails.type");
    assert_eq!(keys(&page["Resources"][0]), ["emails", "id", "schemas", "userName"]);
    assert_eq!(page["Resources"][0]["emails"], json!([{"type": "work"}]));
    let groups = app.list("/Groups?excludedAttributes=members,meta");
    assert_eq!(keys(&groups["Resources"][0]), ["displayName", "id", "schemas"]);
    let members_only = app.list("/Groups?attributes=members.value");
    assert_eq!(keys(&members_only["Resources"][0]), ["id", "members", "schemas"]);
    assert_eq!(keys(&members_only["Resources"][0]["members"][0]), ["value"]);
}

const BADGES: &str = "urn:example:params:scim:schemas:extension:badges:2.0:User";

#[test]
fn returned_always_request_and_never_are_honoured_for_extension_attributes() {
    let extension = json!({
        "resourceType": "User",
        "required": false,
        "schema": {
            "id": BADGES,
            "name": "Badges",
            "description": "One attribute per `returned` characteristic.",
            "attributes": [
                {"name": "badge", "type": "string", "returned": "always"},
                {"name": "audit", "type": "string", "returned": "request"},
                {"name": "pin", "type": "string", "returned": "never", "mutability": "writeOnly"},
                {"name": "floor", "type": "string"}
            ]
        }
    });
    let app = crate::extensions::spawn_with_extensions(&[extension]);
    let created = app.create_user_with(json!({"schemas": [USER_SCHEMA, BADGES], "userName": "sam",
        BADGES: {"badge": "B-7", "audit": "checked", "pin": "1234", "floor": "3"}}));
    assert_eq!(created[BADGES], json!({"badge": "B-7", "floor": "3"}), "request and never attributes are left out");
    let path = format!("/Users/{}", id_of(&created));
    let only_name: Value = app.get(&format!("{path}?attributes=userName")).json().unwrap();
    assert_eq!(only_name[BADGES], json!({"badge": "B-7"}), "always comes back whatever is asked");
    let excluded: Value = app.get(&format!("{path}?excludedAttributes={BADGES}:badge,{BADGES}:floor")).json().unwrap();
    assert_eq!(excluded[BADGES], json!({"badge": "B-7"}), "always cannot be excluded");
    let asked: Value = app.get(&format!("{path}?attributes={BADGES}:audit,{BADGES}:pin")).json().unwrap();
    assert_eq!(asked[BADGES], json!({"badge": "B-7", "audit": "checked"}), "request when named; never stays out");
    let listed = app.list(&format!("/Users?attributes={BADGES}:audit"));
    assert_eq!(listed["Resources"][0][BADGES], json!({"badge": "B-7", "audit": "checked"}));
}
