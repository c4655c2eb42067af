//! Custom schema extensions registered with `ROSTER_SCHEMA_EXTENSIONS` (docs/custom-schemas.md):
//! validated, stored, filterable, sortable, PATCHable and listed by discovery.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::users::urlencode;

pub const DEVICE: &str = "urn:example:params:scim:schemas:extension:device:2.0:User";
/// Roster's built-in extension for what CSV imports carry (the UPN).
const ROSTER_IMPORT: &str = "urn:roster:params:scim:schemas:extension:import:2.0:User";
const LAB: &str = "urn:example:params:scim:schemas:extension:lab:2.0:Group";

/// The committed example definition (examples/schemas/device-extension.json).
pub fn device_extension() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/schemas/device-extension.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("example file")).expect("example JSON")
}

fn lab_group_extension() -> Value {
    json!({
        "resourceType": "Group",
        "required": true,
        "schema": {
            "id": LAB,
            "name": "Lab",
            "description": "Lab bookkeeping of a group.",
            "attributes": [{"name": "costCode", "type": "integer", "required": true}]
        }
    })
}

/// Writes each definition into the test's temp dir and starts a server that loads them all.
pub fn spawn_with_extensions(definitions: &[Value]) -> TestApp {
    let db = TestDatabase::new();
    let paths: Vec<String> = definitions
        .iter()
        .enumerate()
        .map(|(index, definition)| {
            let path = db.dir().join(format!("extension-{index}.json"));
            std::fs::write(&path, definition.to_string()).expect("write definition");
            path.to_string_lossy().into_owned()
        })
        .collect();
    let files = paths.join(",");
    let server = start_server(&db, &[("ROSTER_JWT_SECRET", SECRET), ("ROSTER_SCHEMA_EXTENSIONS", &files)]);
    TestApp { db, server, client: Client::new(), token: token("acme", ALL_SCOPES) }
}

fn patch_request(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn user_with_device(user_name: &str, device: Value) -> Value {
    json!({"schemas": [USER_SCHEMA, DEVICE], "userName": user_name, DEVICE: device})
}

fn user_names(page: &Value) -> Vec<String> {
    page["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_string()).collect()
}

#[test]
fn extension_attributes_are_validated_stored_and_returned_in_canonical_form() {
    let app = spawn_with_extensions(&[device_extension()]);
    let created = app.create_user_with(user_with_device(
        "ada",
        json!({
            "DEVICENAME": "LAPTOP-0042",
            "serialNumber": "SN-1",
            "platform": "macos",
            "ownership": "Corporate",
            "functionalAreas": ["Sales", "Support"],
            "costCenterCode": 4200
        }),
    ));
    assert_eq!(created["schemas"], json!([USER_SCHEMA, DEVICE]));
    assert_eq!(
        created[DEVICE],
        json!({
            "deviceName": "LAPTOP-0042",
            "serialNumber": "SN-1",
            "platform": "macOS",
            "ownership": "Corporate",
            "functionalAreas": ["Sales", "Support"],
            "costCenterCode": 4200
        })
    );
    let fetched: Value = app.get(&format!("/Users/{}", id_of(&created))).json().unwrap();
    assert_eq!(fetched[DEVICE], created[DEVICE]);
    let projected: Value =
        app.get(&format!("/Users/{}?attributes={DEVICE}:costCenterCode", id_of(&created))).json().unwrap();
    assert_eq!(projected[DEVICE], json!({"costCenterCode": 4200}));
}

#[test]
fn a_wrong_type_or_a_non_canonical_value_is_400_invalid_value() {
    let app = spawn_with_extensions(&[device_extension()]);
    let bad = [
        json!({"costCenterCode": "4200"}),
        json!({"costCenterCode": 42.5}),
        json!({"deviceName": ["a", "b"]}),
        json!({"functionalAreas": [7]}),
        json!({"platform": "BeOS"}),
        json!({"ownership": "Rented"}),
    ];
    for device in bad {
        let response = app.post("/Users", &user_with_device("eve", device.clone()));
        let body = assert_scim_error(response, 400, Some("invalidValue"));
        assert!(body["detail"].as_str().unwrap().contains(DEVICE), "{device}: {body}");
    }
    assert_eq!(app.list("/Users")["totalResults"], 0, "nothing was stored");
}

#[test]
fn extension_attributes_filter_and_sort_by_their_urn_path() {
    let app = spawn_with_extensions(&[device_extension()]);
    for (name, device, cost) in [("u1", "Laptop-B", 100), ("u2", "laptop-a", 250), ("u3", "Phone-C", 900)] {
        app.create_user_with(user_with_device(name, json!({"deviceName": device, "costCenterCode": cost})));
    }
    app.create_user("no-device");
    let matching = |filter: &str| {
        let mut names = user_names(&app.list(&format!("/Users?filter={}", urlencode(filter))));
        names.sort();
        names
    };
    assert_eq!(matching(&format!(r#"{DEVICE}:deviceName eq "LAPTOP-A""#)), ["u2"]);
    assert_eq!(matching(&format!(r#"{DEVICE}:deviceName sw "laptop""#)), ["u1", "u2"]);
    assert_eq!(matching(&format!("{DEVICE}:costCenterCode gt 100")), ["u2", "u3"]);
    assert_eq!(matching(&format!("{DEVICE}:costCenterCode le 250 and {DEVICE}:deviceName co \"b\"")), ["u1"]);
    assert_eq!(matching(&format!("{DEVICE}:deviceName pr")), ["u1", "u2", "u3"]);
    assert_eq!(matching(&format!("not ({DEVICE}:deviceName pr)")), ["no-device"]);

    let sorted = |order: &str| {
        let query = format!(
            "/Users?filter={}&sortBy={DEVICE}:deviceName&sortOrder={order}",
            urlencode(&format!("{DEVICE}:deviceName pr"))
        );
        user_names(&app.list(&query))
    };
    assert_eq!(sorted("ascending"), ["u2", "u1", "u3"], "case-insensitive: laptop-a, Laptop-B, Phone-C");
    assert_eq!(sorted("descending"), ["u3", "u1", "u2"]);
}

#[test]
fn extension_attributes_are_patchable_by_urn_path() {
    let app = spawn_with_extensions(&[device_extension()]);
    let user = app.create_user_with(user_with_device(
        "grace",
        json!({"deviceName": "old", "serialNumber": "SN-7", "functionalAreas": ["Sales"]}),
    ));
    let path = format!("/Users/{}", id_of(&user));
    let response = app.patch(
        &path,
        &patch_request(json!([
            {"op": "replace", "path": format!("{DEVICE}:platform"), "value": "android"},
            {"op": "add", "path": format!("{DEVICE}:functionalAreas"), "value": ["Finance"]},
            {"op": "remove", "path": format!("{DEVICE}:deviceName")},
            {"op": "replace", "value": {format!("{DEVICE}:costCenterCode"): 77}}
        ])),
    );
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().unwrap();
    assert_eq!(
        patched[DEVICE],
        json!({"serialNumber": "SN-7", "platform": "Android", "functionalAreas": ["Sales", "Finance"], "costCenterCode": 77})
    );
    let found = app.list(&format!("/Users?filter={}", urlencode(&format!(r#"{DEVICE}:platform eq "Android""#))));
    assert_eq!(user_names(&found), ["grace"]);

    let wrong_type = app.patch(
        &path,
        &patch_request(json!([{"op": "replace", "path": format!("{DEVICE}:costCenterCode"), "value": "x"}])),
    );
    assert_scim_error(wrong_type, 400, Some("invalidValue"));
    let non_canonical = app.patch(
        &path,
        &patch_request(json!([{"op": "replace", "path": format!("{DEVICE}:platform"), "value": "Symbian"}])),
    );
    assert_scim_error(non_canonical, 400, Some("invalidValue"));
    let immutable = app.patch(
        &path,
        &patch_request(json!([{"op": "replace", "path": format!("{DEVICE}:serialNumber"), "value": "SN-8"}])),
    );
    assert_scim_error(immutable, 400, Some("mutability"));
    let unknown = app
        .patch(&path, &patch_request(json!([{"op": "replace", "path": format!("{DEVICE}:colour"), "value": "red"}])));
    assert_scim_error(unknown, 400, Some("invalidPath"));
    let unchanged: Value = app.get(&path).json().unwrap();
    assert_eq!(unchanged[DEVICE], patched[DEVICE]);
}

#[test]
fn schemas_and_resource_types_list_the_registered_extensions() {
    let app = spawn_with_extensions(&[device_extension(), lab_group_extension()]);
    let schemas = app.list("/Schemas");
    let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE, ROSTER_IMPORT, DEVICE, LAB]);
    let device: Value = app.get(&format!("/Schemas/{DEVICE}")).json().unwrap();
    assert_eq!(device["name"], "DeviceOwnership");
    let platform = device["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "platform").unwrap();
    assert_eq!(platform["canonicalValues"], json!(["iOS", "Android", "Windows", "macOS"]));

    let user_type: Value = app.get("/ResourceTypes/User").json().unwrap();
    assert_eq!(
        user_type["schemaExtensions"],
        json!([
            {"schema": ENTERPRISE, "required": false},
            {"schema": ROSTER_IMPORT, "required": false},
            {"schema": DEVICE, "required": false}
        ])
    );
    let group_type: Value = app.get("/ResourceTypes/Group").json().unwrap();
    assert_eq!(group_type["schemaExtensions"], json!([{"schema": LAB, "required": true}]));
}

#[test]
fn a_required_group_extension_is_enforced() {
    let app = spawn_with_extensions(&[lab_group_extension()]);
    let missing = app.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Lab A"}));
    assert_scim_error(missing, 400, Some("invalidValue"));
    let created =
        app.post("/Groups", &json!({"schemas": [GROUP_SCHEMA, LAB], "displayName": "Lab A", LAB: {"costCode": 12}}));
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(created[LAB], json!({"costCode": 12}));
    let removal =
        app.patch(&format!("/Groups/{}", id_of(&created)), &patch_request(json!([{"op": "remove", "path": LAB}])));
    assert_scim_error(removal, 400, Some("mutability"));
    let found = app.list(&format!("/Groups?filter={}", urlencode(&format!("{LAB}:costCode eq 12"))));
    assert_eq!(found["totalResults"], 1);
}

/// Runs `roster serve` on `db` with `env` added and expects it to exit with an error; returns stderr.
pub fn refused_start(db: &TestDatabase, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(roster_binary());
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROSTER_BIND", "127.0.0.1:0")
        .env("ROSTER_DATABASE_URL", &db.url)
        .env("ROSTER_JWT_SECRET", SECRET)
        .current_dir(db.dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start roster serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read");
            assert!(!status.success(), "the server exited successfully: {stderr}");
            return stderr;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server started with {env:?}");
}

fn refused_start_with_files(db: &TestDatabase, files: &[PathBuf]) -> String {
    let list: Vec<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
    refused_start(db, &[("ROSTER_SCHEMA_EXTENSIONS", &list.join(","))])
}

#[test]
fn a_broken_schema_file_stops_the_server_with_a_message_naming_the_file() {
    let db = TestDatabase::new();
    let good = db.dir().join("device.json");
    std::fs::write(&good, device_extension().to_string()).unwrap();
    let mut wrong_type = device_extension();
    wrong_type["schema"]["attributes"][5]["type"] = json!("number");
    let cases = [
        ("not-json.json", "{\"resourceType\": \"User\",".to_string(), "not valid JSON"),
        ("wrong-type.json", wrong_type.to_string(), "attribute 'costCenterCode': unknown type 'number'"),
        ("no-kind.json", json!({"schema": {"id": "urn:x:y", "attributes": []}}).to_string(), "\"resourceType\""),
        ("twice.json", device_extension().to_string(), "is already registered"),
    ];
    for (name, content, reason) in cases {
        let broken = db.dir().join(name);
        std::fs::write(&broken, content).unwrap();
        let stderr = refused_start_with_files(&db, &[good.clone(), broken.clone()]);
        assert!(stderr.contains(&broken.display().to_string()), "{name}: {stderr}");
        assert!(stderr.contains(reason), "{name}: {stderr}");
    }
    let missing = db.dir().join("missing.json");
    let stderr = refused_start_with_files(&db, std::slice::from_ref(&missing));
    assert!(stderr.contains(&missing.display().to_string()) && stderr.contains("cannot read"), "{stderr}");
}

const BADGE: &str = "urn:example:params:scim:schemas:extension:badge:2.0:User";

#[test]
fn date_time_extension_attributes_filter_and_sort_as_instants_whatever_their_offset() {
    let app = spawn_with_extensions(&[json!({
        "resourceType": "User",
        "schema": {
            "id": BADGE,
            "name": "Badge",
            "description": "When a badge was issued.",
            "attributes": [{"name": "issuedAt", "type": "dateTime"}]
        }
    })]);
    for (name, issued) in [
        ("eight-oclock", "2026-03-01T10:00:00+02:00"),
        ("nine-oclock", "2026-03-01T09:00:00Z"),
        ("half-past-eight", "2026-03-01T08:30:00.5Z"),
    ] {
        app.create_user_with(json!({"schemas": [USER_SCHEMA, BADGE], "userName": name, BADGE: {"issuedAt": issued}}));
    }
    app.create_user("no-badge");
    let matching = |filter: &str| {
        let mut names = user_names(&app.list(&format!("/Users?filter={}", urlencode(filter))));
        names.sort();
        names
    };
    assert_eq!(matching(&format!(r#"{BADGE}:issuedAt eq "2026-03-01T08:00:00Z""#)), ["eight-oclock"]);
    assert_eq!(matching(&format!(r#"{BADGE}:issuedAt gt "2026-03-01T08:15:00Z""#)), ["half-past-eight", "nine-oclock"]);
    assert_eq!(
        matching(&format!(r#"{BADGE}:issuedAt le "2026-03-01T10:30:00+01:00""#)),
        ["eight-oclock", "half-past-eight", "nine-oclock"]
    );
    assert_eq!(matching(&format!(r#"{BADGE}:issuedAt lt "2026-03-01T08:30:00.5Z""#)), ["eight-oclock"]);
    assert_eq!(
        matching(&format!(r#"not ({BADGE}:issuedAt ge "2026-03-01T09:00:00Z")"#)),
        ["eight-oclock", "half-past-eight", "no-badge"]
    );
    let bad = app.get(&format!("/Users?filter={}", urlencode(&format!(r#"{BADGE}:issuedAt co "2026""#))));
    assert_scim_error(bad, 400, Some("invalidFilter"));

    let sorted = |order: &str, cursor: bool| {
        let base = format!(
            "/Users?filter={}&sortBy={BADGE}:issuedAt&sortOrder={order}",
            urlencode(&format!("{BADGE}:issuedAt pr"))
        );
        let mut query = if cursor { format!("{base}&count=1&cursor=") } else { base.clone() };
        let mut names = Vec::new();
        loop {
            let page = app.list(&query);
            names.extend(user_names(&page));
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(next) => query = format!("{base}&count=1&cursor={next}"),
                None => break names,
            }
        }
    };
    let in_time_order = ["eight-oclock", "half-past-eight", "nine-oclock"];
    assert_eq!(sorted("ascending", false), in_time_order);
    assert_eq!(sorted("ascending", true), in_time_order, "cursor pages compare the same instants");
    assert_eq!(sorted("descending", true), ["nine-oclock", "half-past-eight", "eight-oclock"]);
}
