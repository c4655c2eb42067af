//! Every row rule of the importer, table-driven: a header, a row, a profile, what the plan says.

use crate::common::{assert_row, carried_to, fold, fold_selected, merged, plan, Fate};
use roster::import::{IssueCode, PlannedRow, Profile};
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    csv: &'static str,
    profile: Option<&'static str>,
    expected: Value,
}

fn run(cases: Vec<Case>) {
    for case in cases {
        let profile = match case.profile {
            Some(json) => Profile::from_json(json).unwrap_or_else(|e| panic!("{}: {e}", case.name)),
            None => Profile::default_profile(),
        };
        let rows = plan(case.csv, &profile);
        assert_eq!(rows.len(), 1, "{}: one data row expected", case.name);
        assert_row(&rows[0], &case.expected, case.name);
    }
}

const WORK: &str = "emails";

#[test]
fn emails_are_trimmed_validated_and_lowercased() {
    run(vec![
        Case {
            name: "trimmed and lowercased, marked primary",
            csv: "Email\n  Jane.Doe@Example.COM \n",
            profile: None,
            expected: json!({
                "attributes": {WORK: [{"type": "work", "value": "jane.doe@example.com", "primary": true}]},
                "keys": {"email": "jane.doe@example.com", "user_name": null, "external_id": null},
                "issues": []
            }),
        },
        Case {
            name: "case kept when the rule is off, key still lowercased",
            csv: "Email\nJane.Doe@Example.COM\n",
            profile: Some(r#"{"name": "p", "rules": {"lowercase_emails": false}}"#),
            expected: json!({
                "attributes": {WORK: [{"type": "work", "value": "Jane.Doe@Example.COM", "primary": true}]},
                "keys": {"email": "jane.doe@example.com", "user_name": null, "external_id": null}
            }),
        },
        Case {
            name: "no @",
            csv: "Email\nbad-email\n",
            profile: None,
            expected: json!({
                "attributes": {},
                "issues": [{
                    "code": "invalid_email", "column": "Email", "value": "bad-email", "row": 2, "severity": "error",
                    "message": "\"bad-email\" in \"Email\" is not a valid email address: it has no \"@\""
                }]
            }),
        },
        Case {
            name: "no top-level domain (seed 002)",
            csv: "Primary Email\njohn.doe@domain\n",
            profile: None,
            expected: json!({"issues": [{"code": "invalid_email", "column": "Primary Email"}]}),
        },
        Case {
            name: "two addresses in one cell",
            csv: "Email\n\"a@example.com, b@example.com\"\n",
            profile: None,
            expected: json!({"issues": [{"code": "invalid_email"}]}),
        },
    ]);
}

#[test]
fn usernames_are_generated_from_the_email_for_new_users_only() {
    run(vec![
        Case {
            name: "local part, as a creation default, not a match key",
            csv: "Email\nJane.Doe@Example.com\n",
            profile: None,
            expected: json!({
                "create_defaults": {"userName": "jane.doe"},
                "keys": {"email": "jane.doe@example.com", "user_name": null, "external_id": null}
            }),
        },
        Case {
            name: "an explicit username wins and is a match key, case preserved in the value",
            csv: "Email,Username\njane@example.com,JDoe\n",
            profile: None,
            expected: json!({
                "attributes": {"userName": "JDoe", WORK: [{"type": "work", "value": "jane@example.com", "primary": true}]},
                "create_defaults": {},
                "keys": {"email": "jane@example.com", "user_name": "jdoe", "external_id": null}
            }),
        },
        Case {
            name: "an empty username cell still generates one for creation",
            csv: "Email,Username\njane@example.com,\n",
            profile: None,
            expected: json!({"create_defaults": {"userName": "jane"}}),
        },
        Case {
            name: "the whole email when the profile says so (seed 004)",
            csv: "Email\njane@example.com\n",
            profile: Some(r#"{"name": "p", "rules": {"generated_username": "email"}}"#),
            expected: json!({"create_defaults": {"userName": "jane@example.com"}}),
        },
        Case {
            name: "not at all when the rule is off",
            csv: "Email\njane@example.com\n",
            profile: Some(r#"{"name": "p", "rules": {"generate_username_from_email": false}}"#),
            expected: json!({"create_defaults": {}}),
        },
    ]);
}

#[test]
fn a_row_needs_an_email_or_a_username() {
    run(vec![
        Case {
            name: "username alone is enough",
            csv: "Email,Username,Display Name\n,jdoe,Jane\n",
            profile: None,
            expected: json!({"attributes": {"userName": "jdoe", "displayName": "Jane"}, "issues": []}),
        },
        Case {
            name: "neither",
            csv: "Email,Username,Display Name\n,,Jane\n",
            profile: None,
            expected: json!({"issues": [{
                "code": "missing_required_field", "column": "Email",
                "message": "this row has no email, username or external id; fill in \"Email\""
            }]}),
        },
        Case {
            name: "an external id alone can match an existing user",
            csv: "Email,External ID,Display Name\n,HR-9,Jane\n",
            profile: None,
            expected: json!({"attributes": {"externalId": "HR-9", "displayName": "Jane"}, "issues": []}),
        },
        Case {
            name: "an invalid email is reported once, not also as missing",
            csv: "Email,Username\nnope,\n",
            profile: None,
            expected: json!({"issues": [{"code": "invalid_email"}]}),
        },
    ]);
}

#[test]
fn names_are_capitalised_when_the_rule_is_on() {
    run(vec![
        Case {
            name: "on",
            csv: "Email,First Name,Last Name\na@example.com,jANE,o'neil\n",
            profile: None,
            expected: json!({
                "attributes": {
                    WORK: [{"type": "work", "value": "a@example.com", "primary": true}],
                    "name": {"givenName": "Jane", "familyName": "O'Neil"}
                },
                "create_defaults": {"userName": "a", "displayName": "Jane O'Neil"}
            }),
        },
        Case {
            name: "hyphenated",
            csv: "Email,First Name\na@example.com,mary-ann\n",
            profile: None,
            expected: json!({"attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}], "name": {"givenName": "Mary-Ann"}}}),
        },
        Case {
            name: "off",
            csv: "Email,First Name\na@example.com,jANE\n",
            profile: Some(r#"{"name": "p", "rules": {"capitalize_names": false}}"#),
            expected: json!({"attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}], "name": {"givenName": "jANE"}}}),
        },
        Case {
            name: "display names are never touched",
            csv: "Email,Display Name\na@example.com,\"doe, jOHN\"\n",
            profile: None,
            expected: json!({"attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}], "displayName": "doe, jOHN"}}),
        },
    ]);
}

#[test]
fn the_upn_is_kept_exactly_as_written() {
    run(vec![Case {
        name: "upn",
        csv: "Email,UPN\na@example.com, JDoe@Corp.OnMicrosoft.com\n",
        profile: None,
        expected: json!({"attributes": {
            WORK: [{"type": "work", "value": "a@example.com", "primary": true}],
            "urn:roster:params:scim:schemas:extension:import:2.0:User": {"upn": " JDoe@Corp.OnMicrosoft.com"}
        }}),
    }]);
}

#[test]
fn every_default_column_lands_in_its_scim_attribute() {
    run(vec![Case {
        name: "all columns",
        csv: "Display Name,First Name,Last Name,Email,Username,Mobile,Roles,Status,Groups,Department,Job Title,\
              Employee ID,Manager Email,Language,Time Zone,UPN,External ID\n\
              Jane Doe,Jane,Doe,jane@example.com,jdoe,+44 20 7946 0000,Admin; Auditor,Active,Sales;EMEA,Sales,\
              Account Manager,E-17,Boss@Example.com,en-GB,Europe/London,JDoe@corp.example,HR-17\n",
        profile: None,
        expected: json!({
            "attributes": {
                "displayName": "Jane Doe",
                "name": {"givenName": "Jane", "familyName": "Doe"},
                "emails": [{"type": "work", "value": "jane@example.com", "primary": true}],
                "userName": "jdoe",
                "phoneNumbers": [{"type": "mobile", "value": "+44 20 7946 0000"}],
                "roles": [{"value": "Admin"}, {"value": "Auditor"}],
                "active": true,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": "Sales", "employeeNumber": "E-17"
                },
                "title": "Account Manager",
                "preferredLanguage": "en-GB",
                "timezone": "Europe/London",
                "urn:roster:params:scim:schemas:extension:import:2.0:User": {"upn": "JDoe@corp.example"},
                "externalId": "HR-17"
            },
            "create_defaults": {},
            "groups": ["Sales", "EMEA"],
            "manager_email": "boss@example.com",
            "keys": {"email": "jane@example.com", "user_name": "jdoe", "external_id": "HR-17"},
            "cleared": [],
            "issues": []
        }),
    }]);
}

#[test]
fn status_words_translate_to_active_in_any_language_and_case() {
    for (word, active) in [
        ("Active", true),
        ("activo", true),
        ("ACTIF", true),
        ("Aktiv", true),
        ("Archived", false),
        ("inactive", false),
        ("Inactivo", false),
        ("DISABLED", false),
        ("Suspended", false),
    ] {
        let rows = plan(&format!("Email,Status\na@example.com,{word}\n"), &Profile::default_profile());
        assert_eq!(rows[0].attributes["active"], json!(active), "{word}");
        assert!(rows[0].issues.is_empty(), "{word}");
    }
    run(vec![Case {
        name: "unknown status",
        csv: "Email,Status\na@example.com,Pending\n",
        profile: None,
        expected: json!({"issues": [{
            "code": "invalid_value", "column": "Status", "value": "Pending",
            "message": "\"Pending\" is not an allowed value for \"Status\"; use one of: \
                        Active/Activo/Actif/Aktiv/Ativo/Attivo/Enabled, \
                        Inactive/Archived/Inactivo/Inactif/Inaktiv/Inativo/Archivado/Disabled/Suspended"
        }]}),
    }]);
}

const ROLES: &str = r#"{"name": "p", "columns": [{"header": "Role", "target": "roles", "separator": ";",
    "allowed": [{"values": ["User"]}, {"values": ["Admin", "Administrator"]}, {"values": ["Supervisor"]}]}]}"#;

#[test]
fn roles_are_checked_against_the_allowed_values_when_the_profile_lists_them() {
    run(vec![
        Case {
            name: "translated and canonicalised",
            csv: "Email,Role\na@example.com,administrator; supervisor\n",
            profile: Some(ROLES),
            expected: json!({"attributes": {
                WORK: [{"type": "work", "value": "a@example.com", "primary": true}],
                "roles": [{"value": "Admin"}, {"value": "Supervisor"}]
            }, "issues": []}),
        },
        Case {
            name: "outside the list",
            csv: "Email,Role\na@example.com,User;Root\n",
            profile: Some(ROLES),
            expected: json!({"attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}]}, "issues": [{
                "code": "invalid_value", "column": "Role", "value": "User;Root",
                "message": "\"Root\" is not an allowed value for \"Role\"; use one of: User, Admin/Administrator, Supervisor"
            }]}),
        },
        Case {
            name: "any value without a list",
            csv: "Email,Role\na@example.com,Root\n",
            profile: None,
            expected: json!({"attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}], "roles": [{"value": "Root"}]}}),
        },
    ]);
}

#[test]
fn group_cells_follow_the_separator_and_the_word_none() {
    let comma = r#"{"name": "p", "columns": [{"header": "Groups", "target": "groups", "separator": ","}]}"#;
    let cases: Vec<(&str, Option<&str>, Value, Vec<IssueCode>)> = vec![
        ("\"Group A;Group B\"", None, json!(["Group A", "Group B"]), vec![]),
        ("\" Group A ; ;Group B;\"", None, json!(["Group A", "Group B"]), vec![]),
        ("Group A;Group A", None, json!(["Group A"]), vec![]),
        ("\"Group 1,Group 2\"", Some(comma), json!(["Group 1", "Group 2"]), vec![]),
        ("\"Group 1,Group 2\"", None, json!(["Group 1,Group 2"]), vec![]),
        ("none", None, json!([]), vec![]),
        ("NONE", Some(comma), json!([]), vec![]),
        ("", None, Value::Null, vec![]),
        ("none;Sales", None, Value::Null, vec![IssueCode::InvalidValue]),
    ];
    for (cell, profile, groups, issues) in cases {
        let profile = profile.map_or_else(Profile::default_profile, |json| Profile::from_json(json).unwrap());
        let rows = plan(&format!("Email,Groups\na@example.com,{cell}\n"), &profile);
        assert_eq!(serde_json::to_value(&rows[0].groups).unwrap(), groups, "{cell}");
        assert_eq!(crate::common::codes(&rows[0]), issues, "{cell}");
    }
}

#[test]
fn empty_cells_keep_existing_values_or_clear_them_as_the_profile_says() {
    run(vec![
        Case {
            name: "kept: omitted from the plan",
            csv: "Email,Display Name,Mobile,Department\na@example.com,,,\n",
            profile: None,
            expected: json!({
                "attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}]},
                "cleared": []
            }),
        },
        Case {
            name: "cleared: listed as PATCH paths, never the username",
            csv: "Email,Username,Display Name,Mobile,Department\na@example.com,,,,\n",
            profile: Some(r#"{"name": "p", "rules": {"empty_keeps_existing": false}}"#),
            expected: json!({
                "attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}]},
                "cleared": [
                    "displayName",
                    "phoneNumbers[type eq \"mobile\"].value",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
                ]
            }),
        },
    ]);
}

const DEFAULTS: &str = r#"{"name": "p", "columns": [
    {"header": "Status", "target": "active", "default": "Active",
     "allowed": [{"values": ["Active"], "maps_to": true}, {"values": ["Inactive"], "maps_to": false}]},
    {"header": "Role", "target": "roles", "default": "End User"},
    {"header": "Language", "target": "preferredLanguage", "default": "es-ar"}]}"#;

#[test]
fn column_defaults_apply_to_new_users_while_empty_cells_keep_existing_values() {
    run(vec![
        Case {
            name: "defaults for creation only",
            csv: "Email,Status,Role,Language\na@example.com,,,\n",
            profile: Some(DEFAULTS),
            expected: json!({
                "attributes": {WORK: [{"type": "work", "value": "a@example.com", "primary": true}]},
                "create_defaults": {"active": true, "roles": [{"value": "End User"}], "preferredLanguage": "es-ar", "userName": "a"}
            }),
        },
        Case {
            name: "written values win",
            csv: "Email,Status,Role,Language\na@example.com,Inactive,Admin,en-us\n",
            profile: Some(DEFAULTS),
            expected: json!({
                "attributes": {
                    WORK: [{"type": "work", "value": "a@example.com", "primary": true}],
                    "active": false, "roles": [{"value": "Admin"}], "preferredLanguage": "en-us"
                },
                "create_defaults": {"userName": "a"}
            }),
        },
    ]);
    let profile = Profile::from_json(DEFAULTS).unwrap();
    let mut json: Value = serde_json::to_value(&profile).unwrap();
    json["rules"]["empty_keeps_existing"] = json!(false);
    let profile: Profile = serde_json::from_value(json).unwrap();
    let rows = plan("Email,Status\na@example.com,\n", &profile);
    assert_eq!(rows[0].attributes["active"], json!(true), "with empty cells clearing values, defaults always apply");
}

#[test]
fn required_cells_must_be_filled_unless_they_have_a_default() {
    let profile = r#"{"name": "p", "columns": [
        {"header": "Display Name", "target": "displayName", "required": true},
        {"header": "Language", "target": "preferredLanguage", "required": true, "default": "en"}]}"#;
    run(vec![Case {
        name: "required",
        csv: "Email,Display Name,Language\na@example.com,,\n",
        profile: Some(profile),
        expected: json!({
            "create_defaults": {"preferredLanguage": "en", "userName": "a"},
            "issues": [{
                "code": "missing_required_field", "column": "Display Name",
                "message": "\"Display Name\" is required but empty; fill it in"
            }]
        }),
    }]);
}

#[test]
fn transforms_apply_in_order_to_each_value() {
    let profile = r#"{"name": "p", "columns": [
        {"header": "Code", "target": "urn:acme:2.0:User:code", "transforms": ["trim", "uppercase"]},
        {"header": "Tags", "target": "urn:acme:2.0:User:tags", "separator": ";", "transforms": ["lowercase"]},
        {"header": "Nick", "target": "nickName", "transforms": ["capitalize"]},
        {"header": "Raw", "target": "urn:acme:2.0:User:raw", "transforms": []}]}"#;
    run(vec![Case {
        name: "transforms",
        csv: "Email,Code,Tags,Nick,Raw\na@example.com, ab-1 ,Red; GREEN,jOHNNY b, keep \n",
        profile: Some(profile),
        expected: json!({"attributes": {
            WORK: [{"type": "work", "value": "a@example.com", "primary": true}],
            "urn:acme:2.0:User": {"code": "AB-1", "tags": ["red", "green"], "raw": " keep "},
            "nickName": "Johnny B"
        }}),
    }]);
}

#[test]
fn values_longer_than_the_column_allows_are_invalid() {
    let profile = r#"{"name": "p", "columns": [{"header": "Job Title", "target": "title", "max_length": 5}]}"#;
    run(vec![Case {
        name: "too long",
        csv: "Email,Job Title\na@example.com,Quality Manager\n",
        profile: Some(profile),
        expected: json!({"issues": [{
            "code": "invalid_value", "message": "\"Job Title\" is 15 characters long; at most 5 are allowed"
        }]}),
    }]);
}

#[test]
fn the_manager_is_planned_by_email() {
    run(vec![
        Case {
            name: "lowercased",
            csv: "Email,Manager Email\na@example.com,Boss@Example.com\n",
            profile: None,
            expected: json!({"manager_email": "boss@example.com", "issues": []}),
        },
        Case {
            name: "invalid",
            csv: "Email,Manager Email\na@example.com,Mr Boss\n",
            profile: None,
            expected: json!({"manager_email": null, "issues": [{"code": "invalid_email", "column": "Manager Email"}]}),
        },
        Case {
            name: "oneself",
            csv: "Email,Manager Email\na@example.com,A@example.com\n",
            profile: None,
            expected: json!({"issues": [{"code": "invalid_value", "column": "Manager Email"}]}),
        },
    ]);
}

#[test]
fn the_display_name_is_derived_for_new_users_without_one() {
    run(vec![
        Case {
            name: "derived",
            csv: "Email,First Name,Last Name\na@example.com,Jane,Doe\n",
            profile: None,
            expected: json!({"create_defaults": {"userName": "a", "displayName": "Jane Doe"}}),
        },
        Case {
            name: "written",
            csv: "Email,Display Name,First Name\na@example.com,JD,Jane\n",
            profile: None,
            expected: json!({"create_defaults": {"userName": "a"}}),
        },
        Case {
            name: "off",
            csv: "Email,First Name\na@example.com,Jane\n",
            profile: Some(r#"{"name": "p", "rules": {"derive_display_name": false}}"#),
            expected: json!({"create_defaults": {"userName": "a"}}),
        },
    ]);
}

#[test]
fn a_value_under_a_column_without_header_is_ignored_with_a_warning() {
    run(vec![Case {
        name: "unnamed",
        csv: "Email,\na@example.com,stray\n",
        profile: None,
        expected: json!({"issues": [{
            "code": "unknown_column", "severity": "warning",
            "message": "column B has no header, so its value \"stray\" is ignored; give the column a header to import it"
        }]}),
    }]);
}

#[test]
fn the_template_example_row_is_refused() {
    run(vec![Case {
        name: "example",
        csv: "Email\nfirstname.lastname@example.com\n",
        profile: None,
        expected: json!({"issues": [{"code": "invalid_value"}]}),
    }]);
}

#[test]
fn a_malformed_row_is_planned_as_a_failure_with_its_cells() {
    run(vec![Case {
        name: "ragged",
        csv: "Email,Display Name\na@example.com,Doe, John\n",
        profile: None,
        expected: json!({
            "cells": ["a@example.com", "Doe", " John"],
            "attributes": {},
            "issues": [{"code": "malformed_csv", "row": 2}]
        }),
    }]);
}

/// Display names of a written row.
fn display_name(row: &PlannedRow) -> &Value {
    &row.attributes["displayName"]
}

#[test]
fn the_same_person_twice_is_one_user_written_at_the_last_row_with_its_values() {
    let rows = plan(
        "Email,Username,External ID,Display Name\n\
         jane@example.com,,,Jane\n\
         bob@example.com,bob,,Bob\n\
         JANE@example.com,,,Jane D.\n\
         new@example.com,BOB,,Bob again\n\
         ,,X-1,Nobody\n\
         jane@example.com,,,Jane Doe\n\
         bad,,,Broken\n",
        &Profile::default_profile(),
    );
    assert_eq!(
        crate::common::codes(&rows[3]),
        vec![IssueCode::Conflict],
        "bob's username given to another email is another person claiming it, not bob again"
    );
    let fates = fold(&rows);
    assert_eq!(
        carried_to(&fates),
        vec![Some(7), None, Some(7), None, None, None, None],
        "jane's first two rows (emails compared case-insensitively) wait for her last"
    );
    assert_eq!(display_name(merged(&fates[5])), &json!("Jane Doe"), "the last row's values win");
    let written =
        rows.iter().zip(&fates).filter(|(row, fate)| !row.has_errors() && !matches!(fate, Fate::CarriedTo(_)));
    assert_eq!(written.count(), 3, "jane, bob and whoever has the external id X-1");
}

#[test]
fn a_later_rows_empty_cells_keep_the_earlier_rows_values() {
    let rows = plan(
        "Email,Username,Display Name,Job Title\nann@example.com,ann,Ann,Engineer\nann@example.com,,Ann B.,\n",
        &Profile::default_profile(),
    );
    let fates = fold(&rows);
    assert_eq!(carried_to(&fates), vec![Some(3), None]);
    let written = merged(&fates[1]);
    assert_eq!((display_name(written), &written.attributes["title"]), (&json!("Ann B."), &json!("Engineer")));
    assert_eq!(written.keys.user_name.as_deref(), Some("ann"), "the earlier row's username still finds the user");
}

#[test]
fn rows_sharing_any_key_are_one_person_followed_from_key_to_key() {
    let rows = plan(
        "Email,Username,External ID,Display Name\n\
         ann@example.com,,HR-1,A\n\
         ,ANN,HR-1,B\n\
         ,ann,,C\n\
         bob@example.com,,,Bob\n",
        &Profile::default_profile(),
    );
    let fates = fold(&rows);
    assert_eq!(
        carried_to(&fates),
        vec![Some(3), Some(4), None, None],
        "row 2 shares HR-1 with 3, which shares ann with 4"
    );
    let keys = &merged(&fates[2]).keys;
    assert_eq!(
        (keys.email.as_deref(), keys.user_name.as_deref(), keys.external_id.as_deref()),
        (Some("ann@example.com"), Some("ann"), Some("HR-1"))
    );
    assert_eq!(fates[3], Fate::AsPlanned, "a person named once is written as planned, not copied");
}

#[test]
fn rows_with_errors_are_neither_awaited_nor_merged() {
    let rows = plan("Email,Status\nann@example.com,Active\nann@example.com,Pending\n", &Profile::default_profile());
    assert!(rows[1].has_errors());
    assert_eq!(fold(&rows), vec![Fate::AsPlanned, Fate::AsPlanned]);
}

#[test]
fn a_row_left_out_of_a_commit_does_not_hold_back_its_persons_other_rows() {
    let rows = plan("Email,Display Name\nann@example.com,A\nann@example.com,B\n", &Profile::default_profile());
    assert_eq!(carried_to(&fold(&rows)), vec![Some(3), None]);
    assert_eq!(fold_selected(&rows, Some(&[2])), vec![Fate::AsPlanned]);
}

#[test]
fn keys_that_point_at_two_different_people_are_a_conflict() {
    let rows = plan(
        "Email,Username\nann@example.com,ann\nbob@example.com,bob\nann@example.com,bob\n",
        &Profile::default_profile(),
    );
    assert_row(
        &rows[2],
        &json!({"issues": [{
            "code": "conflict", "severity": "error",
            "message": "row 3 gives the username \"bob\" to another email, and this row gives it to \
                        ann@example.com; two people cannot share one username, so give one of them a different \
                        username"
        }]}),
        "conflict",
    );
    assert_eq!(fold(&rows), vec![Fate::AsPlanned; 3], "the conflicting row is merged into neither person");
}

#[test]
fn external_ids_match_case_exactly() {
    let rows = plan("External ID,Username\nAB-1,a\nab-1,b\nAB-1,c\n", &Profile::default_profile());
    assert_eq!(carried_to(&fold(&rows)), vec![Some(4), None, None], "AB-1 and ab-1 differ");
}
