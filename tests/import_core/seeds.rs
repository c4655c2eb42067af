//! One file per seed article, in that article's style, planned with the results it describes.

use crate::common::{assert_row, carried_to, codes, fixture, fold, merged, plan, plan_bytes, profile_fixture, Fate};
use roster::import::{
    plan_rows, Delimiter, ErrorsCsvWriter, IssueCode, PlannedRow, Profile, ReaderOptions, SourceEncoding,
};
use serde_json::{json, Value};

fn plan_fixture(file: &str, profile: &Profile) -> Vec<PlannedRow> {
    plan_bytes(&fixture(file), profile, &ReaderOptions::default())
}

fn rejected(bytes: &[u8], profile: &Profile) -> Vec<roster::import::RowIssue> {
    match plan_rows(bytes, profile, &ReaderOptions::default()) {
        Ok(_) => panic!("the file should be rejected"),
        Err(error) => error.issues().to_vec(),
    }
}

const DEVICES: &str = "urn:roster:params:scim:schemas:extension:devices:2.0:User";

/// Seed 000 (device management): display name and email mandatory, ownership mandatory when
/// enrollment requests are sent, device columns as custom attributes, the same email repeated.
#[test]
fn seed_000_device_enrollment_maps_devices_and_keeps_the_last_row_per_email() {
    let profile = profile_fixture("seed_000_profile.json");
    let rows = plan_fixture("seed_000_device_enrollment.csv", &profile);
    assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6, 7, 8]);
    assert_row(
        &rows[0],
        &json!({
            "attributes": {
                "displayName": "Alice Martin",
                "emails": [{"type": "work", "value": "alice.martin@acme.example", "primary": true}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 415 555 0101"}],
                DEVICES: {
                    "ownership": "corporate", "deviceName": "Alice's MacBook",
                    "serialNumber": "C02XK1JHJG5J", "platform": "macOS"
                }
            },
            "issues": []
        }),
        "Alice",
    );
    assert_row(
        &rows[1],
        &json!({"attributes": {
            "displayName": "Bob Chen",
            "emails": [{"type": "work", "value": "bob.chen@acme.example", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 415 555 0102"}],
            DEVICES: {"ownership": "personal", "deviceName": "Bob's Pixel", "platform": "Android"}
        }}),
        "Bob: the platform is canonicalised, the empty serial number omitted",
    );
    assert_row(
        &rows[2],
        &json!({"attributes": {
            "displayName": "Carol Diaz",
            "emails": [{"type": "work", "value": "carol.diaz@acme.example", "primary": true}],
            DEVICES: {"ownership": "user_choice", "platform": "iOS"}
        }}),
        "Carol",
    );
    assert_row(
        &rows[3],
        &json!({"issues": [{"code": "missing_required_field", "column": "Ownership", "row": 5}]}),
        "Dan: ownership is mandatory while enrollment requests are sent",
    );
    assert_row(
        &rows[4],
        &json!({"issues": [{
            "code": "invalid_value", "column": "Platform", "value": "iPadOS",
            "message": "\"iPadOS\" is not an allowed value for \"Platform\"; use one of: iOS, macOS, Android, Windows, tvOS"
        }]}),
        "Erin",
    );
    assert_row(&rows[6], &json!({"issues": [{"code": "missing_required_field", "column": "Email"}]}), "Gina");

    let fates = fold(&rows);
    assert_eq!(carried_to(&fates), vec![Some(7), None, None, None, None, None, None], "Alice waits for her last row");
    assert_eq!(fates[1..3], [Fate::AsPlanned, Fate::AsPlanned], "Bob and Carol");
    assert_row(
        merged(&fates[5]),
        &json!({
            "row": 7,
            "attributes": {
                "displayName": "Alice Martin-Smith",
                "emails": [{"type": "work", "value": "alice.martin@acme.example", "primary": true}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 415 555 0199"}],
                DEVICES: {"ownership": "corporate", "deviceName": "Alice's iPhone", "serialNumber": "F17ZK9", "platform": "iOS"}
            },
            "issues": []
        }),
        "Alice again: one user, with the last row's values",
    );

    let mut without_enrollment: Value = serde_json::to_value(&profile).unwrap();
    without_enrollment["columns"][3]["required"] = json!(false);
    let without_enrollment: Profile = serde_json::from_value(without_enrollment).unwrap();
    let rows = plan_fixture("seed_000_device_enrollment.csv", &without_enrollment);
    assert!(rows[3].issues.is_empty(), "without enrollment requests ownership is optional");
}

#[test]
fn seed_000_one_hundred_rows_with_one_email_are_one_user() {
    let mut csv = String::from("Display Name,Email,Mobile,Ownership,Device Name,Serial Number,Platform\n");
    for i in 1..=100 {
        csv.push_str(&format!("Pat Lee,pat@acme.example,,Corporate,Device {i},,iOS\n"));
    }
    let rows = plan(&csv, &profile_fixture("seed_000_profile.json"));
    let fates = fold(&rows);
    assert_eq!(carried_to(&fates[..99]), vec![Some(101); 99], "every earlier row waits for the last");
    assert_eq!(merged(&fates[99]).attributes[DEVICES]["deviceName"], json!("Device 100"));
}

const AWARENESS: &str = "urn:roster:params:scim:schemas:extension:awareness:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const IMPORT: &str = "urn:roster:params:scim:schemas:extension:import:2.0:User";

/// Seed 001 (security awareness): username from the email, capitalised names, lowercase email,
/// `;` multi-values, statuses in any language, defaults only for new users, exact UPN.
#[test]
fn seed_001_security_awareness_normalises_as_the_article_says() {
    let profile = profile_fixture("seed_001_profile.json");
    let rows = plan_fixture("seed_001_security_awareness.csv", &profile);
    assert_eq!(rows.len(), 6);
    assert_row(
        &rows[0],
        &json!({
            "attributes": {
                "userName": "user1",
                "name": {"givenName": "Firstname1", "familyName": "Lastname1"},
                "emails": [{"type": "work", "value": "email1@domain.com", "primary": true}],
                AWARENESS: {
                    "functionalAreas": ["functionalArea-A", "functionalArea-B"],
                    "hierarchyLevels": ["hierarchyLevel-A", "hierarchyLevel-B"]
                },
                "active": true,
                "roles": [{"value": "Administrator"}],
                "preferredLanguage": "en-us",
                ENTERPRISE: {"employeeNumber": "Employee-ID"},
                "phoneNumbers": [{"type": "mobile", "value": "phone"}],
                IMPORT: {"upn": "UPN"}
            },
            "groups": ["group-A", "group-B"],
            "manager_email": null,
            "issues": []
        }),
        "the article's example row",
    );
    assert_row(
        &rows[1],
        &json!({
            "attributes": {
                "name": {"givenName": "Jane", "familyName": "O'Neil"},
                "emails": [{"type": "work", "value": "jane.oneil@example.com", "primary": true}],
                AWARENESS: {"functionalAreas": ["Sales"]},
                "active": true,
                "roles": [{"value": "End User"}],
                "preferredLanguage": "es-ar",
                ENTERPRISE: {"employeeNumber": "E-1002"},
                "phoneNumbers": [{"type": "mobile", "value": "+54 11 5555 0102"}],
                IMPORT: {"upn": "JOneil@Example.onMicrosoft.com"}
            },
            "create_defaults": {"userName": "jane.oneil", "displayName": "Jane O'Neil"},
            "groups": ["group-A"],
            "manager_email": "email1@domain.com",
            "keys": {"email": "jane.oneil@example.com", "user_name": null, "external_id": null},
            "issues": []
        }),
        "generated username, capitalised names, lowercase email, Activo",
    );
    assert_row(
        &rows[2],
        &json!({
            "attributes": {
                "userName": "mgarcia",
                "name": {"givenName": "María", "familyName": "García-López"},
                "emails": [{"type": "work", "value": "mgarcia@domain.com", "primary": true}],
                "active": false
            },
            "create_defaults": {
                "roles": [{"value": "End User"}], "preferredLanguage": "es-ar", "displayName": "María García-López"
            },
            "groups": null,
            "cleared": [],
            "issues": []
        }),
        "INACTIVO; empty fields keep the existing values, defaults only for a new user",
    );
    assert_row(
        &rows[3],
        &json!({"attributes": {
            "userName": "pwhite",
            "name": {"givenName": "Paul", "familyName": "White"},
            "emails": [{"type": "work", "value": "pwhite@domain.com", "primary": true}],
            "active": false,
            "roles": [{"value": "End User"}]
        }, "groups": ["Group-a", "group-C"]}),
        "group names keep their case: the runner matches exactly, then case-insensitively",
    );
    assert_row(
        &rows[4],
        &json!({"issues": [{"code": "missing_required_field", "column": "Email", "row": 6}]}),
        "without an email the user cannot be imported",
    );
    assert_row(
        &rows[5],
        &json!({"issues": [{
            "code": "invalid_value", "column": "Status",
            "message": "\"Pendiente\" is not an allowed value for \"Status\"; use one of: Active/Activo, Inactive/Inactivo"
        }]}),
        "unknown status",
    );
    assert_eq!(profile.rules.group_mode, roster::import::profile::GroupMode::ReplaceImported);

    let issues = rejected(&fixture("seed_001_security_awareness.csv"), &Profile::default_profile());
    let unknown: Vec<_> = issues.iter().filter_map(|i| i.column.as_deref()).collect();
    assert_eq!(unknown, vec!["Functional Areas", "Hierarchy Levels"], "the default profile names what it cannot place");
}

const SOURCES: &str = "urn:roster:params:scim:schemas:extension:sources:2.0:User";

/// Seed 002 (communications monitoring): Active/Archived, roles, comma-separated groups, `none`,
/// the email format, a 2,000-row limit.
#[test]
fn seed_002_user_import_template_checks_statuses_roles_and_groups() {
    let profile = profile_fixture("seed_002_profile.json");
    let rows = plan_fixture("seed_002_user_import_template.csv", &profile);
    assert_row(
        &rows[0],
        &json!({
            "attributes": {
                "active": true,
                "displayName": "John Doe",
                "emails": [{"type": "work", "value": "john.doe@company.com", "primary": true}],
                "roles": [{"value": "User"}],
                SOURCES: {"sourceUsernames": ["slack:U024BE7LH"]}
            },
            "groups": ["Group 1", "Group 2"],
            "issues": []
        }),
        "John",
    );
    assert_row(
        &rows[1],
        &json!({
            "attributes": {
                "active": false,
                "displayName": "Doe, Jane",
                "emails": [{"type": "work", "value": "jane.doe@company.com", "primary": true}],
                "roles": [{"value": "Supervisor"}]
            },
            "groups": [],
            "issues": []
        }),
        "Archived, `none` means no groups",
    );
    assert_row(
        &rows[2],
        &json!({
            "attributes": {
                "active": true,
                "displayName": "John R. Doe",
                "emails": [{"type": "work", "value": "jr.doe@company.com", "primary": true}],
                "roles": [{"value": "Admin"}],
                SOURCES: {"sourceUsernames": ["teams:jrdoe@company.com", "zoom:jrdoe"]}
            },
            "groups": ["Group 1"]
        }),
        "several identifiers",
    );
    assert_row(
        &rows[3],
        &json!({"issues": [{
            "code": "invalid_email", "column": "Primary Email", "row": 5,
            "message": "\"sam.poe@domain\" in \"Primary Email\" is not a valid email address: the domain has no dot (e.g. \"@example.com\")"
        }]}),
        "the primary email must be name@domain.com",
    );
    assert_row(
        &rows[4],
        &json!({
            "attributes": {
                "active": true,
                "displayName": "Lee Wong",
                "emails": [{"type": "work", "value": "lee.wong@company.com", "primary": true}]
            },
            "issues": [{"code": "invalid_value", "column": "Role", "value": "Manager"}]
        }),
        "roles are User, Admin or Supervisor; the status matches case-insensitively",
    );
    assert_eq!(rows[5].attributes["active"], json!(false));
    let valid = rows.iter().filter(|r| !r.has_errors()).count();
    assert_eq!((valid, rows.len() - valid), (4, 2));

    let issues = rejected(&fixture("seed_002_user_import_template.csv"), &Profile::default_profile());
    assert_eq!(issues.len(), 1);
    assert_eq!((issues[0].code, issues[0].column.as_deref()), (IssueCode::UnknownColumn, Some("Source Username(s)")));
}

#[test]
fn seed_002_each_file_can_contain_up_to_two_thousand_rows() {
    let profile = profile_fixture("seed_002_profile.json");
    let file = |rows: usize| {
        let mut csv = String::from("Current Status,Display Name,Primary Email,Role,Groups,Source Username(s)\n");
        for i in 0..rows {
            csv.push_str(&format!("Active,User {i},user{i}@company.com,User,,\n"));
        }
        csv
    };
    assert_eq!(plan(&file(2000), &profile).len(), 2000);
    let results: Vec<_> = plan_rows(file(2001).as_bytes(), &profile, &ReaderOptions::default()).unwrap().collect();
    assert_eq!(results.len(), 2001, "2,000 rows, then the rejection");
    let Some(Err(error)) = results.last() else { panic!("the last item is the rejection") };
    let issue = &error.issues()[0];
    assert_eq!((issue.code, issue.row), (IssueCode::TooManyRows, 2002));
    assert!(issue.message.starts_with("the file has more than 2000 data rows"), "{}", issue.message);

    let tenant = ReaderOptions { max_rows: Some(10), ..ReaderOptions::default() };
    let results: Vec<_> = plan_rows(file(11).as_bytes(), &profile, &tenant).unwrap().collect();
    assert!(results[10].is_err(), "the smaller of the tenant's and the profile's limits applies");
}

/// Seed 003 (AI assistant admin): a preview with valid and error rows, error codes, a downloadable
/// error report, corrected rows re-imported on their own.
#[test]
fn seed_003_bulk_import_previews_valid_and_error_rows_and_reports_the_errors() {
    let profile = profile_fixture("seed_003_profile.json");
    let rows = plan_fixture("seed_003_bulk_import.csv", &profile);
    assert_eq!(rows.len(), 9, "total rows detected");
    let summary: Vec<(u64, Vec<IssueCode>)> =
        rows.iter().filter(|r| r.has_errors()).map(|r| (r.row, codes(r))).collect();
    assert_eq!(
        summary,
        vec![
            (6, vec![IssueCode::InvalidEmail]),
            (7, vec![IssueCode::MissingRequiredField]),
            (8, vec![IssueCode::MissingRequiredField]),
            (9, vec![IssueCode::InvalidValue]),
        ]
    );
    assert_row(
        &rows[0],
        &json!({"attributes": {
            "emails": [{"type": "work", "value": "jsmith@example.com", "primary": true}],
            "displayName": "Jane Smith",
            "roles": [{"value": "admin"}],
            ENTERPRISE: {"department": "IT"}
        }, "create_defaults": {"userName": "jsmith"}}),
        "Jane",
    );
    assert_row(
        &rows[8],
        &json!({
            "attributes": {
                "emails": [{"type": "work", "value": "kdavis@example.com", "primary": true}],
                "displayName": "Kim Davis",
                ENTERPRISE: {"department": "Parts Counter"}
            },
            "create_defaults": {"roles": [{"value": "user"}], "userName": "kdavis"},
            "issues": []
        }),
        "extra spaces trimmed, a blank role takes the default",
    );
    assert_row(&rows[7], &json!({"issues": [{"column": "role", "value": "superuser"}]}), "invalid role");

    let api_errors: Vec<Value> = rows
        .iter()
        .flat_map(|r| &r.issues)
        .map(|i| json!({"row": i.row, "column": i.column, "value": i.value, "code": i.code}))
        .collect();
    assert_eq!(
        api_errors[0],
        json!({"row": 6, "column": "email", "value": "bad-email", "code": "invalid_email"}),
        "the API's error entries"
    );

    let mut report = ErrorsCsvWriter::new(
        Vec::new(),
        &["email", "name", "role", "department"].map(String::from),
        Default::default(),
    )
    .unwrap();
    for row in &rows {
        report.write_row(row).unwrap();
    }
    assert_eq!(report.rows_written(), 4);
    let report = String::from_utf8(report.finish().unwrap()).unwrap();
    let expected = "\u{FEFF}email,name,role,department,error\r\n\
        bad-email,Bad Email,user,IT,\"row 6: \"\"bad-email\"\" in \"\"email\"\" is not a valid email address: it has no \"\"@\"\" [invalid_email]\"\r\n\
        ,No Email,user,IT,\"row 7: \"\"email\"\" is required but empty; fill it in [missing_required_field]\"\r\n\
        nname@example.com,,user,IT,\"row 8: \"\"name\"\" is required but empty; fill it in [missing_required_field]\"\r\n\
        proot@example.com,Pat Root,superuser,IT,\"row 9: \"\"superuser\"\" is not an allowed value for \"\"role\"\"; use one of: user, admin [invalid_value]\"\r\n";
    assert_eq!(report, expected);

    let fixed = report
        .replace("bad-email,", "bad.email@example.com,")
        .replace(",No Email,", "noemail@example.com,No Email,")
        .replace("nname@example.com,,", "nname@example.com,Nia Name,")
        .replace("superuser", "admin");
    let rows = plan(&fixed, &profile);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.issues.is_empty()), "{rows:#?}");
}

const HUB: &str = "urn:roster:params:scim:schemas:extension:hub:2.0:User";

/// Seed 004 (enterprise hub): an Excel export, semicolon-delimited with a BOM and CRLF, exact
/// headers, required username/email/names, defaults per column, case-sensitive emails.
#[test]
fn seed_004_hub_export_is_read_with_exact_headers_and_column_defaults() {
    let profile = profile_fixture("seed_004_profile.json");
    let bytes = fixture("seed_004_hub_export.csv");
    let planned = plan_rows(bytes.as_slice(), &profile, &ReaderOptions::default()).unwrap();
    assert_eq!(planned.delimiter(), Delimiter::Semicolon);
    assert_eq!(planned.encoding(), SourceEncoding::Utf8WithBom);
    assert_eq!(planned.header()[0], "AuthenticationType");
    assert_eq!(planned.errors_csv_format().delimiter, Delimiter::Semicolon);
    let rows: Vec<PlannedRow> = planned.map(Result::unwrap).collect();
    assert_row(
        &rows[0],
        &json!({
            "attributes": {
                HUB: {"authenticationType": "Internal", "protected": true, "productInstances": ["Q-Pulse", "Coruson"]},
                "userName": "jbloggs",
                "emails": [{"type": "work", "value": "Joe.Bloggs@ExampleOrg.co.uk", "primary": true}],
                "name": {"givenName": "Joe", "familyName": "Bloggs"},
                "active": true,
                "roles": [{"value": "Administrator"}, {"value": "User"}],
                "title": "Quality Manager",
                "phoneNumbers": [{"type": "mobile", "value": "+44 7700 900123"}],
                "preferredLanguage": "en-gb",
                "timezone": "Europe/London",
                "urn:roster:params:scim:schemas:extension:qpulse:2.0:User": {"site": "Leeds"}
            },
            "create_defaults": {"displayName": "Joe Bloggs"},
            "keys": {"email": "joe.bloggs@exampleorg.co.uk", "user_name": "jbloggs", "external_id": null},
            "issues": []
        }),
        "email case kept as imported, matched case-insensitively",
    );
    assert_row(
        &rows[1],
        &json!({
            "attributes": {
                "userName": "asmith",
                "emails": [{"type": "work", "value": "Anna.Smith@exampleorg.co.uk", "primary": true}],
                "name": {"givenName": "Anna", "familyName": "Smith"}
            },
            "create_defaults": {
                HUB: {"authenticationType": "Internal", "protected": true},
                "active": true,
                "roles": [{"value": "User"}],
                "preferredLanguage": "en-gb",
                "timezone": "Europe/London",
                "displayName": "Anna Smith"
            },
            "issues": []
        }),
        "blank cells take the column defaults for a new user",
    );
    assert_row(
        &rows[2],
        &json!({"attributes": {
            HUB: {"authenticationType": "SSO", "protected": false, "productInstances": ["Q-Pulse"]},
            "userName": "mdupont",
            "emails": [{"type": "work", "value": "marie.dupont@exampleorg.co.uk", "primary": true}],
            "name": {"givenName": "Marie", "familyName": "Dupont"},
            "active": false,
            "roles": [{"value": "User"}],
            "title": "Auditrice; Qualité",
            "timezone": "Europe/Paris",
            "urn:roster:params:scim:schemas:extension:qpulse:2.0:User": {"site": "Paris"}
        }}),
        "a quoted cell may contain the delimiter",
    );
    assert_row(&rows[3], &json!({"issues": [{"code": "missing_required_field", "column": "Username"}]}), "no username");
    assert_row(
        &rows[4],
        &json!({"issues": [{"code": "missing_required_field", "column": "FirstName"}]}),
        "no first name",
    );

    let issues = rejected(&bytes, &Profile::default_profile());
    let unknown: Vec<_> = issues.iter().filter_map(|i| i.column.as_deref()).collect();
    assert_eq!(unknown, vec!["AuthenticationType", "Protected", "ProductInstances", "QPULSE:Site"]);

    let renamed = String::from_utf8(bytes).unwrap().replace("FirstName", "firstname");
    let issues = rejected(renamed.as_bytes(), &profile);
    assert!(
        issues.iter().any(|i| i.message.contains(
            "header \"firstname\" is not a known column (headers must match exactly) (did you mean \"FirstName\"?)"
        )),
        "{issues:#?}"
    );
}
