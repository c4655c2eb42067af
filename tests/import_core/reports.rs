//! errors.csv, export and template: what Roster writes, neutralised, and read back unchanged.

use crate::common::{codes, plan, profile_fixture};
use roster::import::{
    write_template, CsvFormat, Delimiter, ErrorsCsvWriter, ExportUser, ExportWriter, IssueCode, PlannedRow, Profile,
    SourceEncoding,
};
use serde_json::{json, Map, Value};

const NO_BOM: CsvFormat = CsvFormat { delimiter: Delimiter::Comma, bom: false };

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// A stored user, its group names and its manager's email.
type StoredUser = (Map<String, Value>, Vec<String>, Option<&'static str>);

fn stored_users() -> Vec<StoredUser> {
    vec![
        (
            object(json!({
                "userName": "jdoe",
                "displayName": "=HYPERLINK(\"http://evil.example\",\"click\")",
                "name": {"givenName": "Jane", "familyName": "O'Neil"},
                "emails": [{"type": "work", "value": "jane@example.com", "primary": true}],
                "phoneNumbers": [{"type": "mobile", "value": "+44 20 7946 0000"}],
                "roles": [{"value": "Admin"}, {"value": "-ops"}],
                "active": false,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": "@sales", "employeeNumber": "'=007"
                },
                "title": "Head of \"Quotes\", Commas\nand lines",
                "preferredLanguage": "en-GB",
                "timezone": "Europe/London",
                "urn:roster:params:scim:schemas:extension:import:2.0:User": {"upn": "JDoe@Corp.example"},
                "externalId": "HR-1"
            })),
            vec!["Sales".to_owned(), "+Plus".to_owned()],
            Some("boss@example.com"),
        ),
        (
            object(json!({
                "userName": "min",
                "emails": [{"type": "work", "value": "min@example.com", "primary": true}]
            })),
            Vec::new(),
            None,
        ),
    ]
}

fn export(users: &[StoredUser], format: CsvFormat) -> String {
    let mut writer = ExportWriter::new(Vec::new(), &Profile::default_profile(), format).unwrap();
    for (resource, groups, manager) in users {
        writer.write_user(&ExportUser { resource, groups, manager_email: *manager }).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

#[test]
fn the_export_uses_the_default_profile_columns_and_neutralises_formulas() {
    let text = export(&stored_users(), NO_BOM);
    let expected = "Display Name,First Name,Last Name,Email,Username,Mobile,Roles,Status,Groups,Department,Job Title,\
                    Employee ID,Manager Email,Language,Time Zone,UPN,External ID\r\n\
                    \"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",Jane,O'Neil,jane@example.com,jdoe,\
                    '+44 20 7946 0000,Admin;-ops,Inactive,Sales;+Plus,'@sales,\"Head of \"\"Quotes\"\", Commas\nand lines\",\
                    ''=007,boss@example.com,en-GB,Europe/London,JDoe@Corp.example,HR-1\r\n\
                    ,,,min@example.com,min,,,,,,,,,,,,\r\n";
    assert_eq!(text, expected);
    assert!(export(&stored_users(), CsvFormat::default()).starts_with('\u{FEFF}'), "Excel needs the BOM");
}

#[test]
fn export_then_import_changes_nothing() {
    let users = stored_users();
    for format in [NO_BOM, CsvFormat::default(), CsvFormat { delimiter: Delimiter::Semicolon, bom: true }] {
        let rows = plan(&export(&users, format), &Profile::default_profile());
        assert_eq!(rows.len(), users.len());
        for (row, (resource, groups, manager)) in rows.iter().zip(&users) {
            assert!(row.issues.is_empty(), "{:?}", row.issues);
            assert_eq!(&row.attributes, resource, "attributes of row {}", row.row);
            let groups = if groups.is_empty() { None } else { Some(groups.clone()) };
            assert_eq!(row.groups, groups);
            assert_eq!(row.manager_email.as_deref(), *manager);
            assert!(row.cleared.is_empty());
        }
    }
}

#[test]
fn the_export_falls_back_to_the_primary_email_when_there_is_no_work_email() {
    let resource = object(json!({
        "userName": "x",
        "emails": [{"type": "home", "value": "home@example.com"}, {"value": "main@example.com", "primary": true}]
    }));
    let text = export(&[(resource, Vec::new(), None)], NO_BOM);
    assert!(text.contains(",main@example.com,x,"), "{text}");
}

#[test]
fn the_template_has_the_profile_header_and_an_example_row_that_cannot_be_imported_by_mistake() {
    let template =
        String::from_utf8(write_template(Vec::new(), &Profile::default_profile(), NO_BOM, true).unwrap()).unwrap();
    let mut lines = template.split("\r\n");
    assert_eq!(
        lines.next(),
        Some(
            "Display Name,First Name,Last Name,Email,Username,Mobile,Roles,Status,Groups,Department,Job Title,\
             Employee ID,Manager Email,Language,Time Zone,UPN,External ID"
        )
    );
    assert_eq!(
        lines.next(),
        Some(
            "Jane Doe,Jane,Doe,firstname.lastname@example.com,firstname.lastname,020 7946 0000,User,Active,\
             Sales;Support,Sales,Account Manager,E1001,manager@example.com,en-GB,Europe/London,\
             Jane.Doe@example.com,hr-1001"
        )
    );
    let rows = plan(&template, &Profile::default_profile());
    assert_eq!(
        codes(&rows[0]),
        vec![IssueCode::InvalidValue],
        "only the example-row guard fires: {:?}",
        rows[0].issues
    );
    assert!(rows[0].issues[0].message.contains("template's example row"));

    let header_only =
        String::from_utf8(write_template(Vec::new(), &Profile::default_profile(), NO_BOM, false).unwrap()).unwrap();
    assert_eq!(header_only.matches("\r\n").count(), 1);
}

#[test]
fn a_custom_profile_template_uses_its_own_columns_and_defaults() {
    let profile = profile_fixture("seed_004_profile.json");
    let format = CsvFormat { delimiter: Delimiter::Semicolon, bom: true };
    let template = String::from_utf8(write_template(Vec::new(), &profile, format, true).unwrap()).unwrap();
    assert_eq!(
        template,
        "\u{FEFF}AuthenticationType;Username;Email;FirstName;LastName;Status;Roles;JobTitle;MobileNumber;\
         PreferredLanguage;TimeZone;Protected;ProductInstances;QPULSE:Site\r\n\
         Internal;firstname.lastname;firstname.lastname@example.com;Jane;Doe;Active;User;Account Manager;\
         020 7946 0000;en-gb;Europe/London;TRUE;;\r\n"
    );
    let rows = plan(&template, &profile);
    assert_eq!(codes(&rows[0]), vec![IssueCode::InvalidValue]);
}

fn failed(text: &str) -> Vec<PlannedRow> {
    plan(text, &Profile::default_profile())
}

#[test]
fn errors_csv_keeps_the_original_cells_pads_short_rows_and_replaces_an_old_error_column() {
    let rows = failed("Email,Display Name,error\nnope,=cmd,old problem\n\"a@example.com\",x\nok@example.com,Fine,\n");
    let header = ["Email", "Display Name", "error"].map(String::from);
    let mut report = ErrorsCsvWriter::new(Vec::new(), &header, NO_BOM).unwrap();
    let written: Vec<bool> = rows.iter().map(|row| report.write_row(row).unwrap()).collect();
    assert_eq!(written, vec![true, true, false]);
    let text = String::from_utf8(report.finish().unwrap()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "Email,Display Name,error");
    assert!(
        lines[1].starts_with("nope,'=cmd,\"row 2: \"\"nope\"\" in \"\"Email\"\" is not a valid email address"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("a@example.com,x,\"row 3: this row has 2 cells but the header has 3 columns"),
        "{}",
        lines[2]
    );

    let again = failed(&text);
    assert_eq!(again[0].cells[1], "=cmd", "the neutralising quote is removed on re-import");
}

#[test]
fn errors_csv_lists_every_issue_of_a_row_errors_first() {
    let mut rows = failed("Email,Status,Manager Email\nbad,Pending,also bad\n");
    rows[0].issues.push(roster::import::RowIssue::warning(2, IssueCode::DuplicateInFile, "same person as row 1"));
    rows[0].issues.rotate_right(1);
    let mut report =
        ErrorsCsvWriter::new(Vec::new(), &["Email", "Status", "Manager Email"].map(String::from), NO_BOM).unwrap();
    report.write_row(&rows[0]).unwrap();
    let text = String::from_utf8(report.finish().unwrap()).unwrap();
    let error = text.split("\r\n").nth(1).unwrap();
    let parts: Vec<&str> = error.split("]; ").collect();
    assert_eq!(parts.len(), 4, "{error}");
    assert!(parts[0].ends_with("[invalid_email"), "{error}");
    assert!(parts[1].ends_with("[invalid_value"), "{error}");
    assert!(parts[2].ends_with("[invalid_email"), "{error}");
    assert!(parts[3].starts_with("warning: same person as row 1 [duplicate_in_file]"), "{error}");
}

#[test]
fn errors_csv_follows_the_upload_format() {
    assert_eq!(
        CsvFormat::like_upload(Delimiter::Semicolon, SourceEncoding::Utf8WithBom),
        CsvFormat { delimiter: Delimiter::Semicolon, bom: true }
    );
    assert_eq!(CsvFormat::like_upload(Delimiter::Comma, SourceEncoding::Utf8), NO_BOM);
    assert!(
        CsvFormat::like_upload(Delimiter::Comma, SourceEncoding::Windows1252).bom,
        "transcoded files come back as UTF-8 Excel can open"
    );
}
