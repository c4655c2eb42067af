//! CSV imports over HTTP (docs/import.md): upload as `text/csv` or multipart, preview and commit,
//! the default profile's headers and rules, saved and inline mappings, matching, groups,
//! encodings and delimiters, limits, `on_error`, invitations, errors.csv, operations, templates,
//! export and re-import, the seed articles' files, and tenant isolation.

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use reqwest::blocking::Response;
use serde_json::{json, Value};

use crate::extensions::spawn_with_extensions;
use crate::helpers::{
    assert_scim_error, id_of, patch_op, start_server, token, TestApp, TestDatabase, TestServer, ENTERPRISE, SECRET,
    USER_SCHEMA,
};

const ROSTER_IMPORT: &str = "urn:roster:params:scim:schemas:extension:import:2.0:User";

/// `POST /api/v1/imports{query}` with `csv` as a `text/csv` body.
fn upload_as(app: &TestApp, csv: &[u8], query: &str, token: &str) -> Response {
    app.client
        .post(app.url(&format!("/api/v1/imports{query}")))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(csv.to_vec())
        .send()
        .expect("POST /api/v1/imports")
}

fn upload(app: &TestApp, csv: &[u8], query: &str) -> Response {
    upload_as(app, csv, query, &app.token)
}

/// Imports `csv` and returns the import (asserting 201).
pub(crate) fn import(app: &TestApp, csv: &str, query: &str) -> Value {
    import_bytes(app, csv.as_bytes(), query)
}

fn import_bytes(app: &TestApp, csv: &[u8], query: &str) -> Value {
    let response = upload(app, csv, query);
    assert_eq!(response.status(), 201, "POST /api/v1/imports{query}");
    response.json().expect("json")
}

/// A `multipart/form-data` body with the CSV as field `file` and `fields` as further fields.
fn multipart(app: &TestApp, csv: &[u8], fields: &[(&str, &str)]) -> Response {
    let boundary = "roster-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&app.token)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .expect("POST multipart")
}

fn api_as(app: &TestApp, method: reqwest::Method, path: &str, body: Option<&Value>, token: &str) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(body.to_string());
    }
    request.send().expect("request")
}

fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Option<&Value>) -> Response {
    api_as(app, method, path, body, &app.token)
}

pub(crate) fn get_json(app: &TestApp, path: &str) -> Value {
    let response = api(app, reqwest::Method::GET, path, None);
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().expect("json")
}

fn get_text(app: &TestApp, path: &str) -> String {
    let response = api(app, reqwest::Method::GET, path, None);
    assert_eq!(response.status(), 200, "GET {path}");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"), "GET {path}");
    response.text().expect("text")
}

pub(crate) fn commit(app: &TestApp, import: &Value, body: Option<Value>) -> Response {
    let path = format!("/api/v1/imports/{}/commit", import["id"].as_str().expect("id"));
    api(app, reqwest::Method::POST, &path, body.as_ref())
}

fn save_profile(app: &TestApp, name: &str, profile: &Value) {
    let response = api(app, reqwest::Method::PUT, &format!("/api/v1/import-profiles/{name}"), Some(profile));
    assert!(response.status() == 201 || response.status() == 200, "PUT profile {name}: {}", response.text().unwrap());
}

/// The counts of an import: (created, updated, unchanged, failed).
pub(crate) fn counts(import: &Value) -> (u64, u64, u64, u64) {
    let n = |key: &str| import[key].as_u64().unwrap_or_else(|| panic!("{key} in {import}"));
    (n("created"), n("updated"), n("unchanged"), n("failed"))
}

/// The (row, code) of each error of an import.
pub(crate) fn errors(import: &Value) -> Vec<(u64, String)> {
    issues(import, "errors")
}

pub(crate) fn warnings(import: &Value) -> Vec<(u64, String)> {
    issues(import, "warnings")
}

fn issues(import: &Value, kind: &str) -> Vec<(u64, String)> {
    let mut found: Vec<(u64, String)> = import[kind]
        .as_array()
        .unwrap_or_else(|| panic!("{kind} in {import}"))
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["code"].as_str().unwrap().to_string()))
        .collect();
    found.sort();
    found
}

/// Every user of the tenant, by userName.
pub(crate) fn users(app: &TestApp) -> Vec<Value> {
    let mut users = app.list("/Users?count=500")["Resources"].as_array().cloned().unwrap_or_default();
    users.sort_by_key(|u| u["userName"].as_str().unwrap_or_default().to_string());
    users
}

fn user_names(app: &TestApp) -> Vec<String> {
    users(app).iter().map(|u| u["userName"].as_str().unwrap().to_string()).collect()
}

pub(crate) fn user_named(app: &TestApp, user_name: &str) -> Value {
    users(app)
        .into_iter()
        .find(|u| u["userName"] == json!(user_name))
        .unwrap_or_else(|| panic!("no user {user_name} in {:?}", user_names(app)))
}

fn group_names(app: &TestApp, user: &Value) -> Vec<String> {
    let user = app.list(&format!("/Users/{}", id_of(user)));
    let mut names: Vec<String> = user["groups"]
        .as_array()
        .map(|groups| groups.iter().map(|g| g["display"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Recipient {
    #[diesel(sql_type = Text)]
    recipient: String,
}

fn query<R>(db: &TestDatabase, sql: &str) -> Vec<R>
where
    R: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    if db.is_postgres() {
        let mut conn = diesel::PgConnection::establish(&db.url).expect("connect");
        diesel::sql_query(sql).load(&mut conn).expect("query")
    } else {
        let mut conn = diesel::SqliteConnection::establish(&db.url).expect("connect");
        diesel::sql_query(sql).load(&mut conn).expect("query")
    }
}

/// The recipients of the queued messages, sorted.
fn outbox_recipients(db: &TestDatabase) -> Vec<String> {
    let mut recipients: Vec<String> =
        query::<Recipient>(db, "SELECT recipient FROM outbox").into_iter().map(|r| r.recipient).collect();
    recipients.sort();
    recipients
}

fn open_invitations(db: &TestDatabase) -> i64 {
    query::<Count>(db, "SELECT COUNT(*) AS n FROM invitations WHERE used_at IS NULL AND revoked_at IS NULL")[0].n
}

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import/");
    std::fs::read(format!("{path}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("profile fixture")
}

/// A User extension schema (docs/custom-schemas.md) with string attributes; `multi` ones are
/// multi-valued, `booleans` are booleans.
fn extension(urn: &str, strings: &[&str], multi: &[&str], booleans: &[&str]) -> Value {
    let mut attributes: Vec<Value> = strings.iter().map(|name| json!({"name": name, "type": "string"})).collect();
    attributes.extend(multi.iter().map(|name| json!({"name": name, "type": "string", "multiValued": true})));
    attributes.extend(booleans.iter().map(|name| json!({"name": name, "type": "boolean"})));
    let name = urn.rsplit(':').nth(2).unwrap_or("Extension").to_string();
    json!({"resourceType": "User", "schema": {"id": urn, "name": name, "attributes": attributes}})
}

const TWO_PEOPLE: &str = "Display Name,Email\nAnn Lee,ann.lee@example.org\nBo Chan,bo.chan@example.org\n";

#[test]
fn a_previewed_import_writes_nothing_and_its_commit_counts_each_row_once() {
    let app = TestApp::spawn();
    let preview = import(&app, TWO_PEOPLE, "?dry_run=true");
    assert_eq!(preview["status"], "previewed", "{preview}");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["total_rows"], 2);
    assert_eq!(counts(&preview), (2, 0, 0, 0), "what a commit would do");
    assert_eq!(preview["invitations_queued"], 2, "{preview}");
    assert!(users(&app).is_empty(), "a preview writes no user");
    assert!(outbox_recipients(&app.db).is_empty(), "a preview queues no mail");

    let response = commit(&app, &preview, None);
    assert_eq!(response.status(), 200);
    let committed: Value = response.json().unwrap();
    assert_eq!(committed["status"], "completed", "{committed}");
    assert_eq!(committed["dry_run"], false, "a committed import is no longer a dry run");
    assert_eq!(counts(&committed), (2, 0, 0, 0), "{committed}");
    assert_eq!(committed["invitations_queued"], 2, "{committed}");
    assert_eq!(committed["progress"]["percent"], 100);
    assert_eq!(get_json(&app, &format!("/api/v1/imports/{}", committed["id"].as_str().unwrap())), committed);
    assert_eq!(user_names(&app), ["ann.lee", "bo.chan"]);
    assert_eq!(outbox_recipients(&app.db), ["ann.lee@example.org", "bo.chan@example.org"]);

    let again = commit(&app, &preview, None);
    assert_scim_error(again, 409, None);
    assert_eq!(users(&app).len(), 2, "a second commit writes nothing");
}

#[test]
fn a_direct_import_reports_its_counts_and_a_location() {
    let app = TestApp::spawn();
    let response = upload(&app, TWO_PEOPLE.as_bytes(), "");
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let done: Value = response.json().unwrap();
    assert_eq!(location, format!("/api/v1/imports/{}", done["id"].as_str().unwrap()));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["dry_run"], false);
    assert_eq!(counts(&done), (2, 0, 0, 0));
    assert_eq!(done["invitations_queued"], 2);
    assert_eq!(done["progress"], json!({"processed_rows": 2, "total_rows": 2, "percent": 100}));
    assert_eq!(done["errors"], json!([]));
}

#[test]
fn a_multipart_upload_takes_its_options_as_form_fields() {
    let app = TestApp::spawn();
    let response = multipart(&app, TWO_PEOPLE.as_bytes(), &[("dry_run", "true"), ("send_invitations", "false")]);
    assert_eq!(response.status(), 201);
    let preview: Value = response.json().unwrap();
    assert_eq!(preview["status"], "previewed");
    assert_eq!(preview["file_name"], "people.csv");
    assert_eq!(preview["invitations_queued"], 0, "send_invitations=false");
    assert!(users(&app).is_empty());

    let response = multipart(&app, TWO_PEOPLE.as_bytes(), &[("on_error", "abort")]);
    let done: Value = response.json().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["options"]["on_error"], "abort");
    assert_eq!(users(&app).len(), 2);
}

#[test]
fn importing_needs_a_valid_token_with_the_import_scope() {
    let app = TestApp::spawn();
    let anonymous =
        app.client.post(app.url("/api/v1/imports")).header("Content-Type", "text/csv").body(TWO_PEOPLE).send().unwrap();
    assert_scim_error(anonymous, 401, None);
    assert_scim_error(upload_as(&app, TWO_PEOPLE.as_bytes(), "", "not-a-token"), 401, None);
    let scim_only = token("acme", "scim:read scim:write");
    assert_scim_error(upload_as(&app, TWO_PEOPLE.as_bytes(), "", &scim_only), 403, None);
    let done = import(&app, TWO_PEOPLE, "");
    let id = done["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/imports/{id}"),
        format!("/api/v1/imports/{id}/errors.csv"),
        format!("/api/v1/imports/{id}/operations"),
        "/api/v1/imports".to_string(),
        "/api/v1/imports/template.csv".to_string(),
    ] {
        assert_scim_error(api_as(&app, reqwest::Method::GET, &path, None, &scim_only), 403, None);
    }
    assert_scim_error(
        api_as(&app, reqwest::Method::POST, &format!("/api/v1/imports/{id}/commit"), None, &scim_only),
        403,
        None,
    );
    assert_eq!(users(&app).len(), 2, "only the authorised import wrote");
}

#[test]
fn malformed_requests_are_scim_errors_and_store_nothing() {
    let app = TestApp::spawn();
    assert_scim_error(upload(&app, TWO_PEOPLE.as_bytes(), "?colour=blue"), 400, Some("invalidValue"));
    assert_scim_error(upload(&app, TWO_PEOPLE.as_bytes(), "?on_error=maybe"), 400, Some("invalidValue"));
    assert_scim_error(upload(&app, TWO_PEOPLE.as_bytes(), "?dry_run=perhaps"), 400, Some("invalidValue"));
    assert_scim_error(upload(&app, TWO_PEOPLE.as_bytes(), "?mapping=%7Bnot%20json"), 400, Some("invalidValue"));
    assert_scim_error(upload(&app, TWO_PEOPLE.as_bytes(), "?profile=nosuch"), 400, Some("invalidValue"));
    let json_body = app
        .client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_scim_error(json_body, 415, None);
    assert_scim_error(multipart_without_file(&app), 400, Some("invalidValue"));
    assert_eq!(get_json(&app, "/api/v1/imports")["total_results"], 0, "no import was stored");
    assert_scim_error(api(&app, reqwest::Method::GET, "/api/v1/imports/nosuch", None), 404, None);
    let done = import(&app, TWO_PEOPLE, "?dry_run=true");
    assert_scim_error(commit(&app, &done, Some(json!({"rows": "all"}))), 400, Some("invalidValue"));
    assert!(users(&app).is_empty());
}

fn multipart_without_file(app: &TestApp) -> Response {
    let boundary = "b0undary";
    let body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n--{boundary}--\r\n");
    app.client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&app.token)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .unwrap()
}

#[test]
fn another_tenant_can_neither_see_nor_commit_an_import() {
    let app = TestApp::spawn();
    let preview = import(&app, TWO_PEOPLE, "?dry_run=true");
    let id = preview["id"].as_str().unwrap();
    let other = token("globex", "scim:read scim:write import admin");
    save_profile(&app, "ours", &json!({"columns": []}));
    assert_scim_error(upload_as(&app, TWO_PEOPLE.as_bytes(), "?profile=ours", &other), 400, Some("invalidValue"));
    let profiles: Value = api_as(&app, reqwest::Method::GET, "/api/v1/import-profiles", None, &other).json().unwrap();
    assert_eq!(profiles["profiles"], json!([]), "profiles are per tenant");
    for path in [
        format!("/api/v1/imports/{id}"),
        format!("/api/v1/imports/{id}/errors.csv"),
        format!("/api/v1/imports/{id}/operations"),
    ] {
        assert_scim_error(api_as(&app, reqwest::Method::GET, &path, None, &other), 404, None);
    }
    let path = format!("/api/v1/imports/{id}/commit");
    assert_scim_error(api_as(&app, reqwest::Method::POST, &path, None, &other), 404, None);
    let listed: Value = api_as(&app, reqwest::Method::GET, "/api/v1/imports", None, &other).json().unwrap();
    assert_eq!(listed["total_results"], 0, "{listed}");
    assert!(users(&app).is_empty());
    assert_eq!(get_json(&app, &format!("/api/v1/imports/{id}"))["status"], "previewed", "still the owner's preview");
    assert_eq!(commit(&app, &preview, None).status(), 200);
}

#[test]
fn the_default_profile_knows_the_usual_headers_in_any_case_and_spacing() {
    let app = TestApp::spawn();
    let manager = import(&app, "email\nboss@example.org\n", "");
    assert_eq!(counts(&manager), (1, 0, 0, 0));
    let csv = " DISPLAY NAME ,given name,Family_Name,E-mail,user name,phone,ROLES,current status,groups,Department,\
               job title,Employee Number,manager email,preferred language,Time Zone,upn,External ID\n\
               Ann Lee,ann,lee,Ann.Lee@Example.org,annl,+1 555 0100,admin,Active,none,Sales,Buyer,E-7,\
               boss@example.org,fr-CA,Europe/Paris,Ann.Lee@Corp.onmicrosoft.com,ext-7\n";
    let done = import(&app, csv, "");
    assert_eq!(counts(&done), (1, 0, 0, 0), "{done}");
    let ann = user_named(&app, "annl");
    let boss = user_named(&app, "boss");
    assert_eq!(ann["displayName"], "Ann Lee");
    assert_eq!(ann["name"]["givenName"], "Ann");
    assert_eq!(ann["name"]["familyName"], "Lee");
    assert_eq!(ann["emails"][0]["value"], "ann.lee@example.org");
    assert_eq!(ann["phoneNumbers"][0]["value"], "+1 555 0100");
    assert_eq!(ann["roles"][0]["value"], "admin");
    assert_eq!(ann["active"], true);
    assert_eq!(ann["title"], "Buyer");
    assert_eq!(ann["preferredLanguage"], "fr-CA");
    assert_eq!(ann["timezone"], "Europe/Paris");
    assert_eq!(ann["externalId"], "ext-7");
    assert_eq!(ann[ENTERPRISE]["department"], "Sales");
    assert_eq!(ann[ENTERPRISE]["employeeNumber"], "E-7");
    assert_eq!(ann[ENTERPRISE]["manager"]["value"], boss["id"]);
    assert_eq!(ann[ROSTER_IMPORT]["upn"], "Ann.Lee@Corp.onmicrosoft.com", "the UPN as written");
    assert!(group_names(&app, &ann).is_empty());
}

#[test]
fn headers_nobody_can_place_fail_the_import_naming_them_and_the_known_ones() {
    let app = TestApp::spawn();
    let failed = import(&app, "Email,Shoe Size,Favourite Colour\nann@example.org,38,red\n", "");
    assert_eq!(failed["status"], "failed");
    assert_eq!(counts(&failed), (0, 0, 0, 0));
    let unknown: Vec<&Value> = failed["errors"].as_array().unwrap().iter().collect();
    let columns: Vec<&str> = unknown.iter().map(|e| e["column"].as_str().unwrap()).collect();
    assert!(unknown.iter().all(|e| e["code"] == "unknown_column" && e["row"] == 1), "{failed}");
    assert!(columns.contains(&"Shoe Size") && columns.contains(&"Favourite Colour"), "{columns:?}");
    let message = unknown[0]["message"].as_str().unwrap();
    assert!(message.contains("Email") && message.contains("Display Name"), "lists the known headers: {message}");
    assert!(users(&app).is_empty(), "a failed import writes nothing");
}

#[test]
fn default_rules_normalise_emails_names_and_usernames_but_keep_the_upn() {
    let app = TestApp::spawn();
    let csv = "First Name,Last Name,Email,UPN\njANE,o'neil,  Jane.ONeil@Example.COM ,JOneil@Example.onMicrosoft.com\n\
               MARÍA,garcía-lópez,mgarcia@example.org,\n";
    let done = import(&app, csv, "");
    assert_eq!(counts(&done), (2, 0, 0, 0), "{done}");
    let jane = user_named(&app, "jane.oneil");
    assert_eq!(jane["emails"][0]["value"], "jane.oneil@example.com");
    assert_eq!(jane["name"]["givenName"], "Jane");
    assert_eq!(jane["name"]["familyName"], "O'Neil");
    assert_eq!(jane["displayName"], "Jane O'Neil");
    assert_eq!(jane[ROSTER_IMPORT]["upn"], "JOneil@Example.onMicrosoft.com");
    let maria = user_named(&app, "mgarcia");
    assert_eq!(maria["name"]["givenName"], "María");
    assert_eq!(maria["name"]["familyName"], "García-López");
}

#[test]
fn bad_rows_are_reported_at_their_spreadsheet_row_with_column_value_and_code() {
    let app = TestApp::spawn();
    let csv = "Display Name,Email,Status\nAnn Lee,ann@example.org,Active\nBad Mail,not-an-email,Active\n\
               Odd Status,odd@example.org,Sleeping\nBo Chan,bo@example.org,inactivo\n";
    let done = import(&app, csv, "");
    assert_eq!(done["status"], "completed");
    assert_eq!(counts(&done), (2, 0, 0, 2), "{done}");
    assert_eq!(errors(&done), [(3, "invalid_email".to_string()), (4, "invalid_value".to_string())]);
    let bad_email = &done["errors"][0];
    assert_eq!((&bad_email["column"], &bad_email["value"]), (&json!("Email"), &json!("not-an-email")));
    assert!(bad_email["message"].as_str().is_some_and(|m| !m.is_empty()));
    let status = &done["errors"][1];
    assert_eq!((&status["column"], &status["value"]), (&json!("Status"), &json!("Sleeping")));
    assert_eq!(user_named(&app, "bo")["active"], false, "Inactivo is inactive");
    assert_eq!(user_named(&app, "ann")["active"], true);
}

#[test]
fn empty_cells_keep_existing_values_and_update_existing_false_reports_duplicate_email() {
    let app = TestApp::spawn();
    import(&app, "Email,Job Title,Department\nann@example.org,Buyer,Sales\n", "");
    let done = import(&app, "Email,Job Title,Department\nann@example.org,,Purchasing\n", "");
    assert_eq!(counts(&done), (0, 1, 0, 0), "{done}");
    let ann = user_named(&app, "ann");
    assert_eq!(ann["title"], "Buyer", "an empty cell keeps the existing value");
    assert_eq!(ann[ENTERPRISE]["department"], "Purchasing");

    let refused =
        import(&app, "Email,Job Title\nann@example.org,Chief\nnew@example.org,Clerk\n", "?update_existing=false");
    assert_eq!(counts(&refused), (1, 0, 0, 1), "{refused}");
    assert_eq!(errors(&refused), [(2, "duplicate_email".to_string())]);
    assert_eq!(user_named(&app, "ann")["title"], "Buyer", "not updated");
}

#[test]
fn rows_match_by_email_then_username_then_external_id() {
    let app = TestApp::spawn();
    let by_email = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "first",
        "emails": [{"value": "first@example.org", "primary": true}]}));
    let by_user_name = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "Second.User"}));
    let by_external_id =
        app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "third", "externalId": "X-3"}));
    let csv = "Email,Username,External ID,Job Title\nFIRST@example.org,,,One\n,second.user,,Two\n,,X-3,Three\n\
               fourth@example.org,,,Four\n";
    let done = import(&app, csv, "");
    assert_eq!(counts(&done), (1, 3, 0, 0), "{done}");
    for (user, title) in [(&by_email, "One"), (&by_user_name, "Two"), (&by_external_id, "Three")] {
        let stored = app.list(&format!("/Users/{}", id_of(user)));
        assert_eq!(stored["title"], title, "{stored}");
    }
    assert_eq!(
        user_names(&app),
        ["Second.User", "first", "fourth", "third"],
        "userName is case-insensitive (RFC 7643 §4.1.1): a row differing only in case renames nobody"
    );
}

#[test]
fn a_changed_free_username_is_applied_and_a_taken_one_is_a_conflict() {
    let app = TestApp::spawn();
    import(&app, "Email,Username\nann@example.org,ann\nbo@example.org,bo\ncy@example.org,cy\n", "");
    let done = import(&app, "Email,Username\nann@example.org,ann.lee\nbo@example.org,CY\n", "");
    assert_eq!(counts(&done), (0, 1, 0, 1), "{done}");
    assert_eq!(errors(&done), [(3, "conflict".to_string())]);
    assert_eq!(done["errors"][0]["column"], "Username");
    assert!(done["errors"][0]["value"].as_str().is_some_and(|v| v.eq_ignore_ascii_case("cy")), "{done}");
    assert_eq!(user_names(&app), ["ann.lee", "bo", "cy"]);
}

#[test]
fn the_same_person_twice_in_a_file_is_one_user_with_the_last_rows_values_and_one_invitation() {
    let app = TestApp::spawn();
    let csv = "Email,Job Title,Department\nann@example.org,Clerk,Sales\nbo@example.org,Driver,\n\
               ANN@example.org,Buyer,\n";
    let done = import(&app, csv, "");
    assert_eq!(counts(&done), (2, 0, 0, 0), "{done}");
    assert_eq!(done["invitations_queued"], 2);
    assert_eq!(warnings(&done), [(2, "duplicate_in_file".to_string())]);
    let ann = user_named(&app, "ann");
    assert_eq!(ann["title"], "Buyer", "the last row's values");
    assert_eq!(ann[ENTERPRISE]["department"], "Sales", "an earlier row's cell the last row left empty");
    assert_eq!(outbox_recipients(&app.db), ["ann@example.org", "bo@example.org"]);
    assert_eq!(open_invitations(&app.db), 2);
}

#[test]
fn a_row_naming_a_person_an_earlier_row_of_its_batch_created_updates_that_user() {
    let app = TestApp::spawn();
    app.create_group("Sales", &[]);
    app.create_group("Ops", &[]);
    // Row 2 creates "ann" (username from the email); row 3 names her by username with another
    // email: it updates the user row 2 created, in the same batch, before that user is written.
    let csv = "Email,Username,Job Title,Groups\nann@example.org,,Clerk,Sales\nann.lee@example.org,ann,Buyer,Ops\n";
    let done = import(&app, csv, "");
    assert_eq!(counts(&done), (1, 1, 0, 0), "{done}");
    assert_eq!(warnings(&done), [(3, "duplicate_in_file".to_string())]);
    let ann = user_named(&app, "ann");
    assert_eq!(ann["title"], "Buyer");
    assert_eq!(group_names(&app, &ann), ["Ops", "Sales"]);
    assert_eq!(users(&app).len(), 1);
    assert_eq!(done["invitations_queued"], 1, "one invitation per person");
}

#[test]
fn a_preview_counts_one_invitation_per_person_as_its_commit_queues_without_queueing_any() {
    // Rows 3 and 5 name a person an earlier row created (by the username made from the email)
    // with another email, so the file's scan does not fold them: each updates that user. Ann is
    // invited by row 2, not again by row 3; Bo is created inactive by row 4 (not invited under
    // the default policy) and invited when row 5 activates him. With one row per batch, each
    // later row is in another batch than the row that created the person.
    let csv = "Email,Username,Status\nann@example.org,,Active\nann.lee@example.org,ann,Active\n\
               bo@example.org,,Inactive\nbo.chan@example.org,bo,Active\n";
    for batch_rows in ["1000", "1"] {
        let app = TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", batch_rows)]);
        let preview = import(&app, csv, "?dry_run=true");
        assert_eq!(preview["status"], "previewed", "{preview}");
        assert_eq!(preview["invitations_queued"], 2, "batches of {batch_rows}: {preview}");
        assert!(outbox_recipients(&app.db).is_empty(), "a preview queues no mail");
        assert_eq!(open_invitations(&app.db), 0, "a preview stores no invitation");

        let committed: Value = commit(&app, &preview, None).json().unwrap();
        assert_eq!(committed["status"], "completed", "{committed}");
        assert_eq!(counts(&committed), counts(&preview), "{committed}");
        assert_eq!(committed["invitations_queued"], preview["invitations_queued"], "batches of {batch_rows}");
        assert_eq!(open_invitations(&app.db), 2);
        assert_eq!(outbox_recipients(&app.db).len(), 2);
    }
}

#[test]
fn groups_match_exactly_then_case_insensitively_and_unknown_ones_are_errors() {
    let app = TestApp::spawn();
    app.create_group("Sales", &[]);
    app.create_group("Ops", &[]);
    app.create_group("OPS", &[]);
    let csv = "Email,Groups\nann@example.org,sales\nbo@example.org,Ops\ncy@example.org,Nowhere\n\
               di@example.org,none\nei@example.org,ops\n";
    let done = import(&app, csv, "");
    assert_eq!(counts(&done), (3, 0, 0, 2), "{done}");
    assert_eq!(errors(&done), [(4, "unknown_group".to_string()), (6, "conflict".to_string())]);
    assert_eq!(done["errors"][0]["value"], "Nowhere");
    assert_eq!(group_names(&app, &user_named(&app, "ann")), ["Sales"]);
    assert_eq!(group_names(&app, &user_named(&app, "bo")), ["Ops"]);
    assert!(group_names(&app, &user_named(&app, "di")).is_empty());
    // Created with their groups in one transaction: nobody saw a version before the groups.
    assert_eq!(user_named(&app, "ann")["meta"]["version"], "W/\"1\"");
    let groups = app.list("/Groups")["Resources"].as_array().unwrap().len();
    assert_eq!(groups, 3, "no group was created");
}

#[test]
fn a_group_an_import_adds_members_to_changes_version_once_per_transaction() {
    // Batches of 2 rows: with on_error=abort the whole file is one transaction, so the group
    // changes once; with skip each transaction that adds a member commits, and is one change
    // each: three of one batch each, or two of two batches each (rows 2-5, then row 6).
    let csv = "Email,Groups\nann@example.org,Sales\nbo@example.org,Sales\ncy@example.org,Sales\n\
               di@example.org,Ops\nei@example.org,Sales\n";
    for (query, batches, sales_version) in
        [("?on_error=abort", "1", "W/\"2\""), ("", "1", "W/\"4\""), ("", "2", "W/\"3\"")]
    {
        let app =
            TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", "2"), ("ROSTER_IMPORT_TRANSACTION_BATCHES", batches)]);
        let sales = app.create_group("Sales", &[]);
        app.create_group("Ops", &[]);
        let done = import(&app, csv, query);
        assert_eq!(counts(&done), (5, 0, 0, 0), "{query} {batches}: {done}");
        let sales = app.get(&format!("/Groups/{}", id_of(&sales)));
        let sales: Value = sales.json().unwrap();
        assert_eq!(app.member_ids(&id_of(&sales)).len(), 4, "{query} {batches}");
        assert_eq!(sales["meta"]["version"], sales_version, "{query} {batches}: {sales}");
    }
}

#[test]
fn a_profile_can_create_unknown_groups_and_replace_only_imported_memberships() {
    let app = TestApp::spawn();
    save_profile(&app, "replacing", &json!({"rules": {"group_mode": "replace_imported", "unknown_groups": "create"}}));
    let done = import(&app, "Email,Groups\nann@example.org,Sales;Support\n", "?profile=replacing");
    assert_eq!(counts(&done), (1, 0, 0, 0), "{done}");
    let ann = user_named(&app, "ann");
    assert_eq!(group_names(&app, &ann), ["Sales", "Support"], "created");
    let by_hand = app.create_group("Managers", &[&id_of(&ann)]);
    let done = import(&app, "Email,Groups\nann@example.org,Support;Travel\n", "?profile=replacing");
    assert_eq!(counts(&done), (0, 1, 0, 0), "{done}");
    assert_eq!(group_names(&app, &ann), ["Managers", "Support", "Travel"], "hand-made membership kept");
    assert_eq!(app.member_ids(&id_of(&by_hand)), [id_of(&ann)]);

    let added = import(
        &app,
        "Email,Groups\nann@example.org,Sales\n",
        "?mapping=%7B%22rules%22%3A%7B%22unknown_groups%22%3A%22create%22%7D%7D",
    );
    assert_eq!(counts(&added), (0, 1, 0, 0), "{added}");
    assert_eq!(group_names(&app, &ann), ["Managers", "Sales", "Support", "Travel"], "the default mode adds");
}

#[test]
fn re_importing_the_same_file_changes_nothing() {
    let app = TestApp::spawn();
    app.create_group("Sales", &[]);
    let csv =
        "Display Name,Email,Groups,Status,Roles,Manager Email\nAnn Lee,ann@example.org,Sales,Active,admin;user,\n\
               Bo Chan,bo@example.org,,Inactive,,ann@example.org\n";
    let first = import(&app, csv, "");
    assert_eq!(counts(&first), (2, 0, 0, 0), "{first}");
    let before = users(&app);
    let again = import(&app, csv, "");
    assert_eq!(counts(&again), (0, 0, 2, 0), "{again}");
    assert_eq!(again["invitations_queued"], 0);
    assert_eq!(users(&app), before, "not even meta.lastModified changed");
    let operations = get_json(&app, &format!("/api/v1/imports/{}/operations", again["id"].as_str().unwrap()));
    assert_eq!(operations["items"], json!([]), "no operation");
}

#[test]
fn export_then_re_import_changes_nothing_and_formula_cells_are_neutralised() {
    let app = TestApp::spawn();
    let boss = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "boss",
        "emails": [{"value": "boss@example.org", "primary": true}], "name": {"givenName": "Big", "familyName": "Boss"}}));
    app.create_user_with(
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "ann", "displayName": "=HYPERLINK(\"x\")",
        "title": "+1 cell", "emails": [{"value": "ann@example.org", "primary": true}], "active": false,
        "roles": [{"value": "admin"}, {"value": "user"}], "phoneNumbers": [{"value": "-5", "type": "mobile"}],
        ENTERPRISE: {"department": "@home", "manager": {"value": id_of(&boss)}}}),
    );
    app.create_group("Sales", &[&id_of(&boss)]);
    let export = get_text(&app, "/api/v1/users/export.csv");
    assert!(export.contains("'=HYPERLINK"), "{export}");
    assert!(export.contains("'+1 cell") && export.contains("'@home") && export.contains("'-5"), "{export}");
    assert!(!export.contains(",=HYPERLINK") && !export.contains(",\"=HYPERLINK"), "{export}");
    let before = users(&app);
    let again = import(&app, &export, "");
    assert_eq!(counts(&again), (0, 0, 2, 0), "{again}\n{export}");
    assert_eq!(users(&app), before);
}

#[test]
fn templates_follow_the_profile() {
    let app = TestApp::spawn();
    let default = get_text(&app, "/api/v1/imports/template.csv");
    let header = default.trim_start_matches('\u{feff}').lines().next().unwrap().to_string();
    assert!(header.starts_with("Display Name,First Name,Last Name,Email,Username"), "{header}");
    save_profile(
        &app,
        "spanish",
        &json!({"use_default_columns": false, "columns": [
        {"header": "Correo", "target": "emails[type eq \"work\"].value", "required": true},
        {"header": "Nombre", "target": "displayName"}]}),
    );
    let spanish = get_text(&app, "/api/v1/imports/template.csv?profile=spanish");
    assert_eq!(spanish.trim_start_matches('\u{feff}').lines().next().unwrap(), "Correo,Nombre");
    assert_scim_error(api(&app, reqwest::Method::GET, "/api/v1/imports/template.csv?profile=nosuch", None), 404, None);
    let uploaded = import(&app, &default, "");
    assert!(users(&app).is_empty(), "the example row creates nobody: {uploaded}");
}

#[test]
fn a_mapping_sends_any_header_anywhere_with_defaults_translations_separators_and_transforms() {
    let app = spawn_with_extensions(&[extension(
        "urn:example:params:scim:schemas:extension:hr:2.0:User",
        &["costCentre"],
        &["skills"],
        &[],
    )]);
    save_profile(
        &app,
        "hr",
        &json!({"use_default_columns": false, "columns": [
        {"header": "Correo", "target": "emails[type eq \"work\"].value", "required": true},
        {"header": "Estado", "target": "active", "default": "Activo", "allowed": [
            {"values": ["Active", "Activo"], "maps_to": true},
            {"values": ["Archived", "Inactive", "Inactivo"], "maps_to": false}]},
        {"header": "Centro", "target": "urn:example:params:scim:schemas:extension:hr:2.0:User:costCentre",
         "transforms": ["trim", "uppercase"]},
        {"header": "Habilidades", "target": "urn:example:params:scim:schemas:extension:hr:2.0:User:skills", "separator": ";",
         "transforms": ["trim", "lowercase"]},
        {"header": "Apellido", "target": "name.familyName", "transforms": ["capitalise"]},
        {"header": "Equipos", "target": "groups", "separator": ","},
        {"header": "Rol", "target": "roles", "allowed": [{"values": ["Usuario", "User"], "maps_to": "user"}]}]}),
    );
    app.create_group("Norte", &[]);
    app.create_group("Sur", &[]);
    let csv = "Correo,Estado,Centro,Habilidades,Apellido,Equipos,Rol\nana@example.org,ARCHIVED, cc-12 ,Excel; SQL ,\
               de la cruz,\"Norte,Sur\",usuario\nluis@example.org,,,,,,Jefe\n";
    let done = import(&app, csv, "?profile=hr");
    assert_eq!(counts(&done), (1, 0, 0, 1), "{done}");
    assert_eq!(errors(&done), [(3, "invalid_value".to_string())]);
    let ana = user_named(&app, "ana");
    assert_eq!(ana["active"], false);
    let hr = &ana["urn:example:params:scim:schemas:extension:hr:2.0:User"];
    assert_eq!(hr["costCentre"], "CC-12");
    assert_eq!(hr["skills"], json!(["excel", "sql"]));
    assert_eq!(ana["name"]["familyName"], "De La Cruz");
    assert_eq!(ana["roles"][0]["value"], "user");
    assert_eq!(group_names(&app, &ana), ["Norte", "Sur"]);

    let inline = "%7B%22Mail%22%3A%22emails%5Btype%20eq%20%5C%22work%5C%22%5D.value%22%2C%22Puesto%22%3A%22title%22%7D";
    let done = import(&app, "Mail,Puesto\nrosa@example.org,Chef\n", &format!("?mapping={inline}"));
    assert_eq!(counts(&done), (1, 0, 0, 0), "{done}");
    assert_eq!(user_named(&app, "rosa")["title"], "Chef");
    let profile = get_json(&app, "/api/v1/import-profiles/hr");
    assert_eq!(profile["columns"][0]["header"], "Correo");
    assert_eq!(get_json(&app, "/api/v1/import-profiles")["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(api(&app, reqwest::Method::DELETE, "/api/v1/import-profiles/hr", None).status(), 204);
    assert_scim_error(api(&app, reqwest::Method::GET, "/api/v1/import-profiles/hr", None), 404, None);
}

#[test]
fn byte_order_marks_delimiters_and_quoted_fields_are_read() {
    let app = TestApp::spawn();
    let bom = "\u{feff}Display Name;Email;Job Title\r\n\"Lee; Ann\";ann@example.org;\"Buyer, \"\"senior\"\"\r\nand clerk\"\r\n";
    let done = import(&app, bom, "");
    assert_eq!(counts(&done), (1, 0, 0, 0), "{done}");
    let ann = user_named(&app, "ann");
    assert_eq!(ann["displayName"], "Lee; Ann");
    assert_eq!(ann["title"], "Buyer, \"senior\"\r\nand clerk");
    let tabs = import(&app, "Display Name\tEmail\nBo Chan\tbo@example.org\n\n\nCy Dee\tcy@example.org\n", "");
    assert_eq!(counts(&tabs), (2, 0, 0, 0), "{tabs}");
    assert_eq!(tabs["total_rows"], 2, "empty lines are not rows");
    assert_eq!(user_named(&app, "cy")["displayName"], "Cy Dee");
}

#[test]
fn windows_1252_is_an_encoding_error_naming_the_first_bad_line_unless_transcoding_is_asked() {
    let app = TestApp::spawn();
    let file = fixture("windows_1252.csv");
    let failed = import_bytes(&app, &file, "");
    assert_eq!(failed["status"], "failed");
    assert_eq!(errors(&failed), [(3, "encoding_error".to_string())], "{failed}");
    assert!(failed["errors"][0]["message"].as_str().unwrap().contains('3'), "{failed}");
    assert!(users(&app).is_empty());
    let done = import_bytes(&app, &file, "?transcode_legacy=true");
    assert_eq!(counts(&done), (3, 0, 0, 0), "{done}");
    assert_eq!(user_named(&app, "jose.garcia")["displayName"], "José García");
}

#[test]
fn broken_files_fail_with_clear_errors() {
    let app = TestApp::spawn();
    for (csv, code, row) in
        [("", "malformed_csv", 1), ("\n\n", "malformed_csv", 1), ("ann@example.org,Ann Lee\n", "unknown_column", 1)]
    {
        let failed = import(&app, csv, "");
        assert_eq!(failed["status"], "failed", "{csv:?}: {failed}");
        let found = errors(&failed);
        assert!(found.iter().any(|(r, c)| c == code && *r == row), "{csv:?}: {failed}");
    }
    let unclosed = import(&app, "Email,Display Name\n\"ann@example.org,Ann\n", "");
    assert_eq!(errors(&unclosed), [(2, "malformed_csv".to_string())], "{unclosed}");
    assert!(unclosed["errors"][0]["message"].as_str().unwrap().contains("never closed"), "{unclosed}");
    let ragged =
        import(&app, "Email,Display Name\nann@example.org,Ann Lee,extra\nbo@example.org\ncy@example.org,Cy\n", "");
    assert_eq!(ragged["status"], "completed", "{ragged}");
    let codes = errors(&ragged);
    assert!(codes.contains(&(2, "malformed_csv".to_string())), "a row with too many cells: {ragged}");
    assert!(users(&app).iter().any(|u| u["userName"] == "cy"), "{ragged}");
    assert!(codes.contains(&(3, "malformed_csv".to_string())), "a row with too few cells: {ragged}");
    assert_eq!(user_names(&app), ["cy"], "only the whole row is imported");
    assert!(users(&app).iter().all(|u| u["userName"] != "ann"), "{ragged}");
}

#[test]
fn tenant_limits_bound_the_rows_and_the_file_size() {
    let app = TestApp::spawn();
    let limits = json!({"max_rows": 2, "max_file_bytes": 200});
    assert_eq!(api(&app, reqwest::Method::PUT, "/api/v1/tenant/import-limits", Some(&limits)).status(), 200);
    assert_eq!(get_json(&app, "/api/v1/tenant/import-limits"), limits);
    let three = "Email\na@example.org\nb@example.org\nc@example.org\n";
    let failed = import(&app, three, "");
    assert_eq!(failed["status"], "failed");
    assert_eq!(errors(&failed), [(4, "too_many_rows".to_string())], "{failed}");
    assert!(users(&app).is_empty(), "nothing of a file over the limit is imported");
    let big = format!("Email,Job Title\na@example.org,{}\n", "x".repeat(300));
    assert_scim_error(upload(&app, big.as_bytes(), ""), 413, None);
    assert_eq!(get_json(&app, "/api/v1/imports")["total_results"], 1, "the refused upload is no import");
    let other = token("globex", "scim:read scim:write import");
    let elsewhere = upload_as(&app, three.as_bytes(), "", &other);
    assert_eq!(elsewhere.json::<Value>().unwrap()["created"], 3, "another tenant keeps the default limits");
}

#[test]
fn on_error_abort_writes_nothing_and_skip_writes_every_good_row() {
    let app = TestApp::spawn();
    let csv = "Email,Groups\nann@example.org,\nbad-email,\nbo@example.org,\n";
    let aborted = import(&app, csv, "?on_error=abort");
    assert_eq!(aborted["status"], "failed", "{aborted}");
    assert_eq!(counts(&aborted), (0, 0, 0, 1));
    assert_eq!(aborted["skipped"], 2);
    assert_eq!(aborted["invitations_queued"], 0);
    assert!(users(&app).is_empty());
    assert!(outbox_recipients(&app.db).is_empty(), "no invitation of an aborted import");
    let skipped = import(&app, csv, "?on_error=skip");
    assert_eq!(skipped["status"], "completed");
    assert_eq!(counts(&skipped), (2, 0, 0, 1));
    assert_eq!(user_names(&app), ["ann", "bo"]);
}

#[test]
fn errors_csv_holds_the_failed_rows_and_can_be_fixed_and_uploaded_again() {
    let app = TestApp::spawn();
    let csv =
        "Display Name;Email;Job Title\nAnn Lee;ann@example.org;Buyer\nBad Mail;bad-email;=1+2\nOdd;odd@example.org;\n";
    let csv = csv.replace("Odd;odd@example.org;", "Odd;odd@example.org;x\nNo Mail;;Clerk");
    let done = import(&app, &csv, "");
    assert_eq!(counts(&done), (2, 0, 0, 2), "{done}");
    let report = get_text(&app, &format!("/api/v1/imports/{}/errors.csv", done["id"].as_str().unwrap()));
    let lines: Vec<&str> = report.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "Display Name;Email;Job Title;error", "{report}");
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[2].starts_with("No Mail;;Clerk;"), "{report}");
    assert!(lines[1].starts_with("Bad Mail;bad-email;'=1+2;"), "neutralised: {report}");
    assert!(lines[1].contains("invalid_email"), "{report}");
    let fixed =
        report.replace("bad-email", "bad.mail@example.org").replace("No Mail;;", "No Mail;no.mail@example.org;");
    let again = import(&app, &fixed, "");
    assert_eq!(counts(&again), (2, 0, 0, 0), "the error column is ignored: {again}");
    assert_eq!(user_named(&app, "bad.mail")["title"], "=1+2", "the neutralising quote is removed on import");
}

#[test]
fn operations_show_the_scim_operations_rows_became() {
    let app = TestApp::spawn();
    let sales = app.create_group("Sales", &[]);
    let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
        "emails": [{"value": "ann@example.org", "primary": true}]}));
    let done = import(&app, "Email,Job Title,Groups\nann@example.org,Buyer,\nbo@example.org,,Sales\n", "");
    assert_eq!(counts(&done), (1, 1, 0, 0), "{done}");
    let operations = get_json(&app, &format!("/api/v1/imports/{}/operations", done["id"].as_str().unwrap()));
    let items = operations["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{operations}");
    assert_eq!((&items[0]["row"], &items[0]["action"]), (&json!(2), &json!("update")));
    assert_eq!(items[0]["operations"][0]["method"], "PATCH");
    assert_eq!(items[0]["operations"][0]["path"], format!("/Users/{}", id_of(&ann)));
    assert_eq!((&items[1]["row"], &items[1]["action"]), (&json!(3), &json!("create")));
    assert_eq!(items[1]["operations"][0]["method"], "POST");
    assert_eq!(items[1]["operations"][0]["path"], "/Users");
    assert_eq!(items[1]["operations"][1]["path"], format!("/Groups/{}", id_of(&sales)));
    let bo = user_named(&app, "bo");
    assert_eq!(items[1]["user_id"], bo["id"]);
}

#[test]
fn past_imports_are_listed_newest_first() {
    let app = TestApp::spawn();
    let first = import(&app, TWO_PEOPLE, "?dry_run=true");
    let second = import(&app, "Email\ncy@example.org\n", "");
    let listed = get_json(&app, "/api/v1/imports");
    assert_eq!(listed["total_results"], 2);
    let ids: Vec<&Value> = listed["items"].as_array().unwrap().iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, [&second["id"], &first["id"]]);
    assert_eq!(listed["items"][1]["status"], "previewed");
    assert_eq!(listed["items"][1]["created"], 2);
    let failed = import(&app, "Email\nbad-email\n", "");
    let listed = get_json(&app, "/api/v1/imports?count=1");
    assert_eq!(listed["items"][0]["id"], failed["id"]);
    assert_eq!((&listed["items"][0]["error_count"], &listed["items"][0]["failed"]), (&json!(1), &json!(1)), "{listed}");
    assert_eq!(listed["items"][0]["errors"], json!([]), "the list leaves the issues out");
    let page = get_json(&app, "/api/v1/imports?start_index=3&count=1");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], first["id"]);
}

#[test]
fn a_commit_can_take_only_the_selected_rows() {
    let app = TestApp::spawn();
    let preview = import(&app, "Email\nann@example.org\nbo@example.org\ncy@example.org\n", "?dry_run=true");
    for (rows, why) in [(json!([]), "no row"), (json!([1]), "the header"), (json!([2, 5]), "no row 5")] {
        let refused = commit(&app, &preview, Some(json!({"rows": rows})));
        let body = assert_scim_error(refused, 400, Some("invalidValue"));
        assert!(body["detail"].as_str().is_some(), "{why}");
    }
    let response = commit(&app, &preview, Some(json!({"rows": [2, 4]})));
    assert_eq!(response.status(), 200);
    let done: Value = response.json().unwrap();
    assert_eq!(counts(&done), (2, 0, 0, 0), "{done}");
    assert_eq!(done["skipped"], 1);
    assert_eq!(done["invitations_queued"], 2);
    assert_eq!(user_names(&app), ["ann", "cy"]);
}

#[test]
fn a_commit_after_the_data_changed_says_what_changed_and_writes_nothing() {
    let app = TestApp::spawn();
    let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
        "emails": [{"value": "ann@example.org", "primary": true}]}));
    let preview = import(&app, "Email,Job Title\nann@example.org,Buyer\nbo@example.org,Clerk\n", "?dry_run=true");
    assert_eq!(counts(&preview), (1, 1, 0, 0));
    let changed = app.patch(
        &format!("/Users/{}", id_of(&ann)),
        &patch_op(json!([{"op": "replace", "path": "title", "value": "Boss"}])),
    );
    assert_eq!(changed.status(), 200);
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "bo"}));
    let response = commit(&app, &preview, None);
    assert_eq!(response.status(), 409);
    let refused: Value = response.json().unwrap();
    assert_eq!(refused["status"], "previewed", "{refused}");
    let rows: Vec<&Value> = refused["changes"]["rows"].as_array().unwrap().iter().map(|c| &c["row"]).collect();
    assert_eq!(rows, [&json!(2), &json!(3)], "{refused}");
    assert_eq!(app.list(&format!("/Users/{}", id_of(&ann)))["title"], "Boss", "nothing written");
    assert_eq!(user_names(&app), ["ann", "bo"]);
    let response = commit(&app, &refused, None);
    assert_eq!(response.status(), 200, "committing again accepts the new preview");
    let done: Value = response.json().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(counts(&done), (0, 1, 0, 1), "bo's username is now taken: {done}");
    assert_eq!(app.list(&format!("/Users/{}", id_of(&ann)))["title"], "Buyer");
}

fn set_policy(app: &TestApp, policy: &str) {
    let body = json!({"policy": policy});
    assert_eq!(api(app, reqwest::Method::PUT, "/api/v1/tenant/invitation-policy", Some(&body)).status(), 200);
}

#[test]
fn invitations_follow_the_tenant_policy_unless_the_import_says_otherwise() {
    let app = TestApp::spawn();
    let csv = |n: u32| {
        format!("Email,Roles,Status\nadmin{n}@example.org,admin,Active\nuser{n}@example.org,,Active\nold{n}@example.org,,Inactive\n")
    };
    let default = import(&app, &csv(1), "");
    assert_eq!(default["invitations_queued"], 2, "active users by default: {default}");
    set_policy(&app, "never");
    assert_eq!(import(&app, &csv(2), "")["invitations_queued"], 0);
    assert_eq!(import(&app, &csv(3), "?send_invitations=true")["invitations_queued"], 3, "the option overrides");
    set_policy(&app, "admins_only");
    assert_eq!(import(&app, &csv(4), "")["invitations_queued"], 1);
    set_policy(&app, "always");
    assert_eq!(import(&app, &csv(5), "")["invitations_queued"], 3);
    assert_eq!(import(&app, &csv(6), "?send_invitations=false")["invitations_queued"], 0);
    let again = import(&app, &csv(5), "?send_invitations=true");
    assert_eq!(again["invitations_queued"], 0, "only created users are invited, once: {again}");
    let recipients = outbox_recipients(&app.db);
    assert_eq!(
        recipients,
        [
            "admin1@example.org",
            "admin3@example.org",
            "admin4@example.org",
            "admin5@example.org",
            "old3@example.org",
            "old5@example.org",
            "user1@example.org",
            "user3@example.org",
            "user5@example.org"
        ]
    );
    assert_eq!(open_invitations(&app.db), 9);
}

/// Seed 000 (device management): mandatory display name, email and ownership, device columns as
/// extension attributes, a preview whose selected rows are added, the same email repeated.
#[test]
fn seed_000_device_enrollment_file_imports_as_its_article_describes() {
    let devices = "urn:roster:params:scim:schemas:extension:devices:2.0:User";
    let app = spawn_with_extensions(&[extension(
        devices,
        &["ownership", "deviceName", "serialNumber", "platform"],
        &[],
        &[],
    )]);
    save_profile(&app, "devices", &fixture_json("seed_000_profile.json"));
    let file = fixture("seed_000_device_enrollment.csv");
    let preview = import_bytes(&app, &file, "?profile=devices&dry_run=true&send_invitations=true");
    assert_eq!(preview["status"], "previewed");
    assert_eq!(preview["total_rows"], 7);
    assert_eq!(counts(&preview), (3, 0, 0, 3), "{preview}");
    assert_eq!(
        errors(&preview),
        [(5, "missing_required_field".into()), (6, "invalid_value".into()), (8, "missing_required_field".into())]
    );
    assert_eq!(warnings(&preview), [(2, "duplicate_in_file".to_string())]);
    let response = commit(&app, &preview, Some(json!({"rows": [2, 4, 7]})));
    let done: Value = response.json().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(counts(&done).0, 2, "Alice and Carol: {done}");
    assert_eq!(done["invitations_queued"], 2, "enrollment requests on");
    assert_eq!(user_names(&app), ["alice.martin", "carol.diaz"]);
    let alice = user_named(&app, "alice.martin");
    assert_eq!(alice["displayName"], "Alice Martin-Smith", "the last row's values");
    assert_eq!(alice[devices]["deviceName"], "Alice's iPhone");
    assert_eq!(alice[devices]["serialNumber"], "F17ZK9");
    assert_eq!(outbox_recipients(&app.db), ["alice.martin@acme.example", "carol.diaz@acme.example"]);
}

/// Seed 001 (security awareness): username from the email, capitalised names, lower-case email,
/// `;` multi-values, statuses in any language, memberships set by hand untouched, empty cells keep
/// the old value.
#[test]
fn seed_001_security_awareness_file_imports_as_its_article_describes() {
    let awareness = "urn:roster:params:scim:schemas:extension:awareness:2.0:User";
    let app = spawn_with_extensions(&[extension(awareness, &[], &["functionalAreas", "hierarchyLevels"], &[])]);
    save_profile(&app, "awareness", &fixture_json("seed_001_profile.json"));
    let done = import_bytes(&app, &fixture("seed_001_security_awareness.csv"), "?profile=awareness");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(counts(&done), (4, 0, 0, 2), "{done}");
    assert_eq!(errors(&done), [(6, "missing_required_field".into()), (7, "invalid_value".into())]);
    let user1 = user_named(&app, "user1");
    assert_eq!(user1[awareness]["functionalAreas"], json!(["functionalArea-A", "functionalArea-B"]));
    assert_eq!(user1["preferredLanguage"], "en-us");
    assert_eq!(group_names(&app, &user1), ["group-A", "group-B"]);
    let jane = user_named(&app, "jane.oneil");
    assert_eq!(jane["emails"][0]["value"], "jane.oneil@example.com");
    assert_eq!((&jane["name"]["givenName"], &jane["name"]["familyName"]), (&json!("Jane"), &json!("O'Neil")));
    assert_eq!(jane["active"], true, "Activo");
    assert_eq!(jane[ENTERPRISE]["manager"]["value"], user1["id"]);
    assert_eq!(jane[ROSTER_IMPORT]["upn"], "JOneil@Example.onMicrosoft.com");
    let maria = user_named(&app, "mgarcia");
    assert_eq!(maria["active"], false, "INACTIVO");
    assert_eq!(maria["preferredLanguage"], "es-ar", "the column default for a new user");
    let paul = user_named(&app, "pwhite");
    assert_eq!(group_names(&app, &paul), ["group-A", "group-C"], "Group-a is group-A");

    app.create_group("Manual", &[&id_of(&user1)]);
    let update =
        "Username,First Name,Last Name,Email,Groups,Language\nuser1,firstName1,lastName1,email1@domain.com,group-B,\n";
    let done = import(&app, update, "?profile=awareness");
    assert_eq!(counts(&done), (0, 1, 0, 0), "{done}");
    assert_eq!(group_names(&app, &user1), ["Manual", "group-B"], "manual groups untouched");
    assert_eq!(user_named(&app, "user1")["preferredLanguage"], "en-us", "an empty field keeps the old value");
}

/// Seed 002 (communications monitoring): Active/Archived, roles from a list, comma-separated groups
/// that must exist, `none`, the error report, then new-versus-updated counts, a 2,000-row limit.
#[test]
fn seed_002_user_import_template_imports_as_its_article_describes() {
    let sources = "urn:roster:params:scim:schemas:extension:sources:2.0:User";
    let app = spawn_with_extensions(&[extension(sources, &[], &["sourceUsernames"], &[])]);
    save_profile(&app, "monitoring", &fixture_json("seed_002_profile.json"));
    app.create_group("Group 1", &[]);
    app.create_group("Group 2", &[]);
    let file = fixture("seed_002_user_import_template.csv");
    let done = import_bytes(&app, &file, "?profile=monitoring");
    assert_eq!(counts(&done), (4, 0, 0, 2), "{done}");
    assert_eq!(errors(&done), [(5, "invalid_email".into()), (6, "invalid_value".into())]);
    let john = user_named(&app, "john.doe");
    assert_eq!(group_names(&app, &john), ["Group 1", "Group 2"]);
    assert_eq!(john[sources]["sourceUsernames"], json!(["slack:U024BE7LH"]));
    let jane = user_named(&app, "jane.doe");
    assert_eq!((&jane["displayName"], &jane["active"]), (&json!("Doe, Jane"), &json!(false)));
    assert!(group_names(&app, &jane).is_empty(), "none");
    assert_eq!(
        user_named(&app, "jr.doe")[sources]["sourceUsernames"],
        json!(["teams:jrdoe@company.com", "zoom:jrdoe"])
    );

    let fixed =
        String::from_utf8(file).unwrap().replace("sam.poe@domain", "sam.poe@domain.com").replace("Manager", "User");
    let again = import(&app, &fixed, "?profile=monitoring");
    assert_eq!(counts(&again), (2, 0, 4, 0), "new versus unchanged: {again}");

    let more = "Primary Email,Source Username(s)\njohn.doe@company.com,\"teams:john,slack:U024BE7LH\"\n";
    let added = import(&app, more, "?profile=monitoring");
    assert_eq!(counts(&added), (0, 1, 0, 0), "{added}");
    let identifiers = &user_named(&app, "john.doe")[sources]["sourceUsernames"];
    assert_eq!(
        identifiers,
        &json!(["slack:U024BE7LH", "teams:john"]),
        "a new identifier is added to the existing ones"
    );
    assert_eq!(counts(&import(&app, more, "?profile=monitoring")), (0, 0, 1, 0), "and only once");

    let mut big = String::from("Primary Email\n");
    for n in 0..2001 {
        big.push_str(&format!("person{n}@company.com\n"));
    }
    let refused = import(&app, &big, "?profile=monitoring");
    assert_eq!(refused["status"], "failed");
    assert_eq!(errors(&refused), [(2002, "too_many_rows".into())]);
    assert_eq!(users(&app).len(), 6);
}

/// Seed 003 (AI assistant admin): a preview with valid and error rows, error codes, a downloadable
/// error report, the good rows imported, corrected rows re-imported, an idempotent re-import.
#[test]
fn seed_003_bulk_import_file_imports_as_its_article_describes() {
    let app = TestApp::spawn();
    save_profile(&app, "assistant", &fixture_json("seed_003_profile.json"));
    let file = fixture("seed_003_bulk_import.csv");
    let response = multipart(&app, &file, &[("profile", "assistant"), ("dry_run", "true")]);
    let preview: Value = response.json().unwrap();
    assert_eq!(preview["total_rows"], 9);
    assert_eq!(counts(&preview), (5, 0, 0, 4), "{preview}");
    let expected: Vec<(u64, String)> = vec![
        (6, "invalid_email".into()),
        (7, "missing_required_field".into()),
        (8, "missing_required_field".into()),
        (9, "invalid_value".into()),
    ];
    assert_eq!(errors(&preview), expected);
    assert_eq!(
        preview["errors"][0],
        json!({"row": 6, "column": "email", "value": "bad-email", "code": "invalid_email",
               "message": preview["errors"][0]["message"]})
    );
    let done: Value = commit(&app, &preview, None).json().unwrap();
    assert_eq!(counts(&done), (5, 0, 0, 4), "{done}");
    assert_eq!(done["invitations_queued"], 5);
    assert_eq!(user_named(&app, "kdavis")["roles"][0]["value"], "user");
    let report = get_text(&app, &format!("/api/v1/imports/{}/errors.csv", done["id"].as_str().unwrap()));
    let fixed = report
        .replace("bad-email,", "bad.email@example.com,")
        .replace(",No Email,", "noemail@example.com,No Email,")
        .replace("nname@example.com,,", "nname@example.com,Nia Name,")
        .replace("superuser", "admin");
    let corrected = multipart(&app, fixed.as_bytes(), &[("profile", "assistant")]).json::<Value>().unwrap();
    assert_eq!(counts(&corrected), (4, 0, 0, 0), "{corrected}\n{fixed}");
    let again = multipart(&app, &file, &[("profile", "assistant")]).json::<Value>().unwrap();
    assert_eq!(counts(&again), (0, 0, 5, 4), "idempotent: {again}");
    assert_eq!(users(&app).len(), 9);
}

/// Seed 004 (enterprise hub): an Excel export (BOM, `;`), exact headers, required username, email
/// and names, column defaults, case kept in emails, welcome mail by role and status, the export as
/// the template.
#[test]
fn seed_004_hub_export_imports_as_its_article_describes() {
    let hub = "urn:roster:params:scim:schemas:extension:hub:2.0:User";
    let qpulse = "urn:roster:params:scim:schemas:extension:qpulse:2.0:User";
    let app = spawn_with_extensions(&[
        extension(hub, &["authenticationType"], &["productInstances"], &["protected"]),
        extension(qpulse, &["site"], &[], &[]),
    ]);
    save_profile(&app, "hub", &fixture_json("seed_004_profile.json"));
    set_policy(&app, "admins_only");
    let file = fixture("seed_004_hub_export.csv");
    let done = import_bytes(&app, &file, "?profile=hub");
    assert_eq!(counts(&done), (3, 0, 0, 2), "{done}");
    assert_eq!(errors(&done), [(5, "missing_required_field".into()), (6, "missing_required_field".into())]);
    assert_eq!(done["invitations_queued"], 1, "only the active administrator is welcomed");
    assert_eq!(outbox_recipients(&app.db), ["Joe.Bloggs@ExampleOrg.co.uk"]);
    let joe = user_named(&app, "jbloggs");
    assert_eq!(joe["emails"][0]["value"], "Joe.Bloggs@ExampleOrg.co.uk", "case kept");
    assert_eq!(joe[hub]["productInstances"], json!(["Q-Pulse", "Coruson"]));
    assert_eq!(joe[qpulse]["site"], "Leeds");
    let anna = user_named(&app, "asmith");
    assert_eq!(anna[hub]["authenticationType"], "Internal", "column default");
    assert_eq!(anna["timezone"], "Europe/London");
    assert_eq!(anna[hub]["protected"], true);
    let marie = user_named(&app, "mdupont");
    assert_eq!((&marie["active"], &marie["title"]), (&json!(false), &json!("Auditrice; Qualité")));
    let lower = String::from_utf8(file.clone()).unwrap().replace("Email;", "email;");
    let wrong_header = import(&app, &lower, "?profile=hub");
    assert_eq!(wrong_header["status"], "failed", "exact headers: {wrong_header}");

    let export = get_text(&app, "/api/v1/users/export.csv?profile=hub");
    assert!(export.trim_start_matches('\u{feff}').starts_with("AuthenticationType,Username,Email"), "{export}");
    let again = import(&app, &export, "?profile=hub");
    assert_eq!(counts(&again), (0, 0, 3, 0), "the export as the template: {again}\n{export}");
}

#[test]
fn an_aborted_preview_commits_nothing_not_even_new_groups_or_invitations() {
    let app = TestApp::spawn();
    let create_groups = "%7B%22rules%22%3A%7B%22unknown_groups%22%3A%22create%22%7D%7D";
    let csv = "Email,Groups\nann@example.org,Fresh\nbad-email,Fresh\n";
    let preview = import(&app, csv, &format!("?dry_run=true&on_error=abort&mapping={create_groups}"));
    assert_eq!(preview["status"], "previewed", "{preview}");
    assert_eq!(counts(&preview), (1, 0, 0, 1));
    let response = commit(&app, &preview, None);
    assert_eq!(response.status(), 200);
    let aborted: Value = response.json().unwrap();
    assert_eq!(aborted["status"], "failed", "{aborted}");
    assert_eq!(counts(&aborted), (0, 0, 0, 1), "{aborted}");
    assert_eq!(aborted["skipped"], 1);
    assert_eq!(aborted["invitations_queued"], 0);
    assert!(users(&app).is_empty());
    assert_eq!(app.list("/Groups")["totalResults"], 0, "the group the good row would create is not kept");
    assert!(outbox_recipients(&app.db).is_empty());
    assert_eq!(open_invitations(&app.db), 0);
}

#[test]
fn rows_only_match_users_of_the_importing_tenant() {
    let app = TestApp::spawn();
    let globex = token("globex", "scim:read scim:write import");
    let theirs = upload_as(&app, b"Email,Job Title\nann@example.org,Theirs\n", "", &globex);
    assert_eq!(theirs.json::<Value>().unwrap()["created"], 1);
    let ours = import(&app, "Email,Job Title\nann@example.org,Ours\n", "");
    assert_eq!(counts(&ours), (1, 0, 0, 0), "another tenant's user is not matched: {ours}");
    assert_eq!(user_named(&app, "ann")["title"], "Ours");
    let listed: Value = api_as(&app, reqwest::Method::GET, "/api/v1/imports", None, &globex).json().unwrap();
    assert_eq!(listed["total_results"], 1, "each tenant lists its own imports");
}

#[test]
fn re_importing_with_replaced_groups_is_unchanged_too() {
    let app = TestApp::spawn();
    save_profile(&app, "replacing", &json!({"rules": {"group_mode": "replace_imported", "unknown_groups": "create"}}));
    let csv = "Email,Groups,Manager Email\nboss@example.org,Leads,\nann@example.org,Sales;Support,boss@example.org\n";
    let first = import(&app, csv, "?profile=replacing");
    assert_eq!(counts(&first), (2, 0, 0, 0), "{first}");
    let again = import(&app, csv, "?profile=replacing");
    assert_eq!(counts(&again), (0, 0, 2, 0), "{again}");
}

#[test]
fn options_that_contradict_each_other_are_refused() {
    let app = TestApp::spawn();
    save_profile(&app, "plain", &json!({"columns": []}));
    let both = upload(&app, TWO_PEOPLE.as_bytes(), "?profile=plain&mapping=%7B%7D");
    assert_scim_error(both, 400, Some("invalidValue"));
    let bad_target = upload(&app, TWO_PEOPLE.as_bytes(), "?mapping=%7B%22Email%22%3A%22nosuch%22%7D");
    assert_scim_error(bad_target, 400, Some("invalidValue"));
    let bad_profile = api(&app, reqwest::Method::PUT, "/api/v1/import-profiles/x", Some(&json!({"columns": 3})));
    assert_scim_error(bad_profile, 400, Some("invalidValue"));
    assert_eq!(get_json(&app, "/api/v1/imports")["total_results"], 0);
}

#[test]
fn a_multipart_upload_over_the_size_limit_is_refused_with_413() {
    let app = TestApp::spawn();
    let limits = json!({"max_rows": 100, "max_file_bytes": 100});
    assert_eq!(api(&app, reqwest::Method::PUT, "/api/v1/tenant/import-limits", Some(&limits)).status(), 200);
    let big = format!("Email,Job Title\na@example.org,{}\n", "x".repeat(300));
    assert_scim_error(multipart(&app, big.as_bytes(), &[]), 413, None);
    assert_eq!(get_json(&app, "/api/v1/imports")["total_results"], 0);
    let not_admin = token("acme", "scim:read scim:write import");
    let refused = api_as(&app, reqwest::Method::PUT, "/api/v1/tenant/import-limits", Some(&limits), &not_admin);
    assert_scim_error(refused, 403, None);
}

/// Waits for a background import to leave `running` (the worker is polled, nothing is timed).
fn wait_for_end(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let import = get_json(app, &format!("/api/v1/imports/{id}"));
        if import["status"] != "running" {
            return import;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("import {id} is still running");
}

#[test]
fn a_large_file_is_imported_in_the_background_and_its_preview_committed_there_once() {
    let app = TestApp::spawn_with(&[("ROSTER_IMPORT_SYNC_MAX_ROWS", "2"), ("ROSTER_IMPORT_POLL_INTERVAL", "100ms")]);
    let csv = "Email\na@example.org\nb@example.org\nc@example.org\n";
    let response = upload(&app, csv.as_bytes(), "?dry_run=true");
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().unwrap();
    let id = accepted["id"].as_str().unwrap().to_string();
    let preview = wait_for_end(&app, &id);
    assert_eq!(preview["status"], "previewed", "{preview}");
    assert_eq!(counts(&preview), (3, 0, 0, 0));
    assert!(users(&app).is_empty());
    let response = commit(&app, &preview, None);
    assert_eq!(response.status(), 202);
    let done = wait_for_end(&app, &id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["dry_run"], false);
    assert_eq!(counts(&done), (3, 0, 0, 0), "{done}");
    assert_eq!(done["invitations_queued"], 3);
    assert_eq!(done["progress"]["percent"], 100);
    assert_eq!(user_names(&app), ["a", "b", "c"]);
}

#[test]
fn cells_starting_with_tab_or_carriage_return_are_neutralised_and_values_the_rules_would_change_round_trip() {
    let app = TestApp::spawn();
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "tab", "displayName": "\tTabbed",
        "title": "\rReturned", "emails": [{"value": "tab@example.org", "primary": true}],
        "name": {"givenName": "ann ", "familyName": "van der Berg"}, "preferredLanguage": " en "}));
    let export = get_text(&app, "/api/v1/users/export.csv");
    assert!(export.contains("'\tTabbed"), "{export:?}");
    assert!(export.contains("'\rReturned"), "{export:?}");
    let before = users(&app);
    let again = import(&app, &export, "");
    assert_eq!(counts(&again), (0, 0, 1, 0), "{again}\n{export:?}");
    assert_eq!(users(&app), before);
}

#[test]
fn emails_match_whatever_their_case_and_none_clears_imported_groups_in_replace_mode() {
    let app = TestApp::spawn();
    let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
        "emails": [{"value": "Ann.Lee@Example.ORG", "primary": true}]}));
    save_profile(&app, "replacing", &json!({"rules": {"group_mode": "replace_imported", "unknown_groups": "create"}}));
    let done = import(&app, "Email,Groups\nann.lee@example.org,Sales\n", "?profile=replacing");
    assert_eq!(counts(&done), (0, 1, 0, 0), "matched, not created: {done}");
    assert_eq!(group_names(&app, &ann), ["Sales"]);
    let stored = app.list(&format!("/Users/{}", id_of(&ann)));
    assert_eq!(stored["emails"][0]["value"], "Ann.Lee@Example.ORG", "an email equal but for case is not rewritten");
    let cleared = import(&app, "Email,Groups\nANN.LEE@example.org,none\n", "?profile=replacing");
    assert_eq!(counts(&cleared), (0, 1, 0, 0), "{cleared}");
    assert!(group_names(&app, &ann).is_empty(), "none removes the memberships imports made");
    assert_eq!(user_names(&app), ["ann"]);
}

#[test]
fn a_previews_operations_say_what_a_commit_would_do_a_page_at_a_time() {
    let app = TestApp::spawn();
    let preview = import(&app, "Email\nann@example.org\nbo@example.org\ncy@example.org\n", "?dry_run=true");
    let path = format!("/api/v1/imports/{}/operations", preview["id"].as_str().unwrap());
    let first = get_json(&app, &format!("{path}?count=2"));
    assert_eq!(first["status"], "previewed");
    let rows: Vec<&Value> = first["items"].as_array().unwrap().iter().map(|i| &i["row"]).collect();
    assert_eq!(rows, [&json!(2), &json!(3)]);
    assert_eq!(first["items"][0]["operations"][0]["data"]["userName"], "ann");
    assert_eq!(first["next_after"], 3);
    let rest = get_json(&app, &format!("{path}?count=2&after=3"));
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["row"], 4);
    assert_eq!(rest["next_after"], Value::Null);
    assert!(users(&app).is_empty(), "a preview's operations are not written");
}

/// Commits `preview` from several threads at once, half of them through `other` (a second
/// server on the same database); returns each commit's status and body.
fn commit_concurrently(app: &TestApp, other: &TestServer, preview: &Value) -> Vec<(u16, Value)> {
    const COMMITTERS: usize = 8;
    let barrier = std::sync::Barrier::new(COMMITTERS);
    let path = format!("/api/v1/imports/{}/commit", preview["id"].as_str().unwrap());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..COMMITTERS)
            .map(|i| {
                let (barrier, path) = (&barrier, &path);
                let base = if i % 2 == 0 { app.server.base.clone() } else { other.base.clone() };
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    barrier.wait();
                    let response = client.post(format!("{base}{path}")).bearer_auth(&app.token).send().expect("commit");
                    let status = response.status().as_u16();
                    (status, response.json::<Value>().unwrap_or(Value::Null))
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("committer")).collect()
    })
}

#[test]
fn simultaneous_commits_of_one_preview_on_two_instances_run_it_exactly_once() {
    let app = TestApp::spawn_with(&[("ROSTER_WORKERS", "4"), ("ROSTER_DB_POOL_SIZE", "8")]);
    let other =
        start_server(&app.db, &[("ROSTER_JWT_SECRET", SECRET), ("ROSTER_WORKERS", "4"), ("ROSTER_DB_POOL_SIZE", "8")]);
    for round in 0..4 {
        let csv: String = std::iter::once("Email".to_string())
            .chain((0..5).map(|i| format!("r{round}p{i}@example.org")))
            .map(|line| line + "\n")
            .collect();
        let preview = import(&app, &csv, "?dry_run=true");
        let outcomes = commit_concurrently(&app, &other, &preview);
        let (won, lost): (Vec<_>, Vec<_>) = outcomes.iter().partition(|(status, _)| *status == 200);
        assert_eq!(won.len(), 1, "exactly one commit runs: {outcomes:?}");
        assert_eq!(won[0].1["status"], "completed", "{outcomes:?}");
        assert_eq!(counts(&won[0].1), (5, 0, 0, 0), "{outcomes:?}");
        for (status, body) in lost {
            assert_eq!(*status, 409, "{outcomes:?}");
            assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{body}");
            assert_eq!(body["status"], "409", "{body}");
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("only a previewed import can be committed"), "{body}");
        }
        let done = get_json(&app, &format!("/api/v1/imports/{}", preview["id"].as_str().unwrap()));
        assert_eq!((done["status"].as_str(), counts(&done)), (Some("completed"), (5, 0, 0, 0)), "{done}");
        assert_eq!(done["invitations_queued"], 5, "{done}");
    }
    assert_eq!(users(&app).len(), 20);
    assert_eq!(outbox_recipients(&app.db).len(), 20, "one invitation per person, however many commits were sent");
}

#[test]
fn two_emails_claiming_one_username_in_a_file_are_a_conflict_but_a_repeated_email_is_one_user() {
    let app = TestApp::spawn();
    let csv = "Email,Username,Job Title\nann@example.org,sam,Clerk\nbo@example.org,Sam,Driver\n\
               ANN@example.org,sam,Buyer\n";
    let preview = import(&app, csv, "?dry_run=true");
    assert_eq!(counts(&preview), (1, 0, 0, 1), "{preview}");
    assert_eq!(errors(&preview), [(3, "conflict".to_string())]);
    assert_eq!(warnings(&preview), [(2, "duplicate_in_file".to_string())]);
    let conflict = &preview["errors"][0];
    assert_eq!(conflict["column"], "Username", "{conflict}");
    assert!(conflict["value"].as_str().is_some_and(|v| v.eq_ignore_ascii_case("sam")), "{conflict}");
    let message = conflict["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("row 2") && message.contains("\"sam\""),
        "names the earlier row and the username: {message}"
    );

    let done: Value = commit(&app, &preview, None).json().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(counts(&done), (1, 0, 0, 1), "{done}");
    assert_eq!(errors(&done), [(3, "conflict".to_string())]);
    assert_eq!(user_names(&app), ["sam"], "bo is not merged into sam");
    let sam = user_named(&app, "sam");
    assert_eq!(sam["title"], "Buyer", "the same email repeated: the last row's values");
    assert_eq!(sam["emails"][0]["value"], "ann@example.org", "{sam}");
    assert_eq!(outbox_recipients(&app.db), ["ann@example.org"], "one invitation");
    assert!(get_text(&app, &format!("/api/v1/imports/{}/errors.csv", done["id"].as_str().unwrap()))
        .contains("bo@example.org"));
}

#[test]
fn a_username_differing_only_in_case_is_no_change_and_never_a_conflict_with_its_own_user() {
    let app = TestApp::spawn();
    let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "Ann.Lee", "title": "Buyer",
        "emails": [{"value": "ann@example.org", "primary": true}]}));
    let version = app.list(&format!("/Users/{}", id_of(&ann)))["meta"]["version"].clone();
    for csv in ["Email,Username,Job Title\nann@example.org,ann.lee,Buyer\n", "Username,Job Title\nANN.LEE,Buyer\n"] {
        let done = import(&app, csv, "");
        assert_eq!(counts(&done), (0, 0, 1, 0), "{csv}: {done}");
        assert_eq!(done["errors"], json!([]), "{done}");
    }
    assert_eq!(app.list(&format!("/Users/{}", id_of(&ann)))["meta"]["version"], version, "nothing written");

    let preview = import(&app, "Email,Username,Job Title\nann@example.org,ANN.lee,Chief\n", "?dry_run=true");
    assert_eq!(counts(&preview), (0, 1, 0, 0), "{preview}");
    let operations = get_json(&app, &format!("/api/v1/imports/{}/operations", preview["id"].as_str().unwrap()));
    let patch = operations["items"][0]["operations"][0]["data"]["Operations"].to_string();
    assert!(!patch.contains("userName"), "a case-only difference is not a rename: {patch}");
    let done: Value = commit(&app, &preview, None).json().unwrap();
    assert_eq!((done["status"].as_str(), counts(&done)), (Some("completed"), (0, 1, 0, 0)), "{done}");
    let stored = app.list(&format!("/Users/{}", id_of(&ann)));
    assert_eq!((&stored["userName"], &stored["title"]), (&json!("Ann.Lee"), &json!("Chief")));
}

/// A file whose people repeat far apart: ann at rows 2, 24 and 35 (by email, then by external id),
/// bo claiming ann's username at row 23, and filler people in between.
fn file_with_repeats_far_apart() -> String {
    let mut csv = String::from("Email,Username,External ID,Job Title\nann@example.org,ann,,Clerk\n");
    let filler = |csv: &mut String, from: u32, to: u32| {
        (from..to).for_each(|i| csv.push_str(&format!("f{i}@example.org,,,Staff\n")));
    };
    filler(&mut csv, 3, 23);
    csv.push_str("bo@example.org,ANN,,Driver\nANN@example.org,,E-1,Buyer\n");
    filler(&mut csv, 25, 35);
    csv.push_str(",,E-1,Chief\n");
    csv
}

#[test]
fn a_scan_spilled_to_disk_finds_the_same_repeated_people_and_conflicts_as_one_in_memory() {
    let csv = file_with_repeats_far_apart();
    // 64 bytes hold one or two keys: every repeat and the conflict straddle the sorted runs.
    for memory in [None, Some("64")] {
        let env: Vec<(&str, &str)> = memory.map(|m| ("ROSTER_IMPORT_SCAN_MEMORY", m)).into_iter().collect();
        let app = TestApp::spawn_with(&env);
        let preview = import(&app, &csv, "?dry_run=true");
        for import in [preview.clone(), commit(&app, &preview, None).json().unwrap()] {
            assert_eq!(counts(&import), (31, 0, 0, 1), "scan memory {memory:?}: {import}");
            assert_eq!(errors(&import), [(23, "conflict".to_string())], "scan memory {memory:?}");
            assert_eq!(
                warnings(&import),
                [(2, "duplicate_in_file".to_string()), (24, "duplicate_in_file".to_string())],
                "scan memory {memory:?}: ann's earlier rows are carried to her last"
            );
        }
        let ann = user_named(&app, "ann");
        assert_eq!((&ann["title"], &ann["externalId"]), (&json!("Chief"), &json!("E-1")), "{ann}");
        assert_eq!(users(&app).len(), 31, "ann and 30 others; bo is not merged into ann");
        assert_eq!(outbox_recipients(&app.db).len(), 31, "one invitation per person");

        // A commit of some rows: ann's rows 24 and 35 (one person by E-1) without row 2, whose
        // claim on the username "ann" still makes bo's row 23 a conflict.
        let app = TestApp::spawn_with(&env);
        let preview = import(&app, &csv, "?dry_run=true");
        let done: Value = commit(&app, &preview, Some(json!({"rows": [3, 23, 24, 35]}))).json().unwrap();
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(counts(&done), (2, 0, 0, 1), "scan memory {memory:?}: {done}");
        assert_eq!(errors(&done), [(23, "conflict".to_string())], "scan memory {memory:?}");
        assert_eq!(warnings(&done), [(24, "duplicate_in_file".to_string())], "scan memory {memory:?}");
        assert_eq!(user_named(&app, "ann")["title"], "Chief");
        assert_eq!(user_names(&app), ["ann", "f3"]);
    }
}
