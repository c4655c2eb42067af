//! A CSV import's manager column naming a person the file repeats (docs/import.md, issue 4): the
//! person is written at their last row, and a row in between that names them as manager points at
//! the user that last row writes, whether it creates them, updates an existing user or fails.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{start_server, TestApp, ENTERPRISE, USER_SCHEMA};
use crate::import_jobs::{id_of as import_id, upload, wait_for_progress, wait_until_done, JOB_ENV};
use crate::imports::{commit, counts, errors, get_json, import, user_named, users, warnings};

/// Ann at rows 2 and 6, Dee at row 5 naming her as manager.
const ANN_AROUND_DEE: &str = "email,first name,last name,manager email\nann@example.com,Ann,Lee,\n\
                              bob@example.com,Bob,Ray,\ncy@example.com,Cy,Ode,\n\
                              dee@example.com,Dee,Fox,ann@example.com\nann@example.com,Ann,Lee-Smith,\n";

fn manager_of(user: &Value) -> &Value {
    &user[ENTERPRISE]["manager"]["value"]
}

/// Users whose manager is no user of the tenant.
fn dangling_managers(app: &TestApp) -> Vec<String> {
    let all = users(app);
    let ids: Vec<&Value> = all.iter().map(|user| &user["id"]).collect();
    all.iter()
        .filter(|user| !manager_of(user).is_null() && !ids.contains(&manager_of(user)))
        .map(|user| user["userName"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn duplicate_at_row_2() -> Vec<(u64, String)> {
    vec![(2, "duplicate_in_file".to_string())]
}

/// The operations row `row` of an import became.
fn operations_of_row(app: &TestApp, import: &Value, row: u64) -> Value {
    let path = format!("/api/v1/imports/{}/operations", import["id"].as_str().unwrap());
    let operations = get_json(app, &path);
    let items = operations["items"].as_array().unwrap();
    items.iter().find(|item| item["row"] == json!(row)).cloned().unwrap_or_else(|| panic!("row {row}: {operations}"))
}

#[test]
fn a_row_naming_as_manager_a_person_repeated_before_and_after_it_gets_that_persons_user() {
    // One batch, and a batch per two rows (Dee's row in another batch than Ann's last); each
    // batch is a transaction with on_error=skip, the whole file one with abort.
    for batch_rows in ["1000", "2"] {
        for query in ["", "?on_error=abort"] {
            let app = TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", batch_rows)]);
            let done = import(&app, ANN_AROUND_DEE, query);
            let case = format!("batch rows {batch_rows}, {query}: {done}");
            assert_eq!(done["status"], "completed", "{case}");
            assert_eq!(counts(&done), (4, 0, 0, 0), "{case}");
            assert_eq!(errors(&done), [], "{case}");
            assert_eq!(warnings(&done), duplicate_at_row_2(), "{case}");
            let ann = user_named(&app, "ann");
            assert_eq!(ann["name"]["familyName"], "Lee-Smith", "the last row's values: {case}");
            assert_eq!(users(&app).len(), 4, "Ann is one user: {case}");
            assert_eq!(manager_of(&user_named(&app, "dee")), &ann["id"], "{case}");
        }
    }
}

#[test]
fn a_preview_and_its_commit_agree_on_the_manager_a_later_row_writes() {
    for batch_rows in ["1000", "2"] {
        let app = TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", batch_rows)]);
        let preview = import(&app, ANN_AROUND_DEE, "?dry_run=true");
        assert_eq!(counts(&preview), (4, 0, 0, 0), "batch rows {batch_rows}: {preview}");
        assert_eq!(errors(&preview), []);
        assert_eq!(warnings(&preview), duplicate_at_row_2());
        let ann_row = operations_of_row(&app, &preview, 6);
        let dee_row = operations_of_row(&app, &preview, 5);
        let dee_body = &dee_row["operations"][0]["data"];
        assert_eq!(manager_of(dee_body), &ann_row["user_id"], "the preview's Dee names the user Ann's row creates");

        let response = commit(&app, &preview, None);
        assert_eq!(response.status(), 200);
        let done: Value = response.json().unwrap();
        assert_eq!(done["status"], "completed", "batch rows {batch_rows}: {done}");
        assert_eq!(counts(&done), (4, 0, 0, 0));
        let ann = user_named(&app, "ann");
        assert_eq!(ann["id"], ann_row["user_id"], "the commit creates Ann as the preview said");
        assert_eq!(manager_of(&user_named(&app, "dee")), &ann["id"]);
    }
}

#[test]
fn a_repeated_manager_whose_last_row_updates_an_existing_user_is_that_user() {
    // By email: every row finds the stored Ann.
    let app = TestApp::spawn();
    let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
        "emails": [{"value": "ann@example.com", "primary": true}]}));
    let done = import(&app, ANN_AROUND_DEE, "");
    assert_eq!(counts(&done), (3, 1, 0, 0), "{done}");
    assert_eq!(errors(&done), []);
    assert_eq!(manager_of(&user_named(&app, "dee")), &ann["id"]);

    // By username only: the stored Ann has another email, so Dee's row cannot find her by the
    // email it names; Ann's last row updates her, and gives her that email.
    let csv = "email,username,first name,last name,manager email\nann@example.com,ann,Ann,Lee,\n\
               dee@example.com,,Dee,Fox,ann@example.com\nann@example.com,ann,Ann,Lee-Smith,\n";
    for batch_rows in ["1000", "1"] {
        for query in ["", "?on_error=abort"] {
            let app = TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", batch_rows)]);
            let ann = app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
                "emails": [{"value": "ann@old.example.com", "primary": true}]}));
            let preview_query =
                if query.is_empty() { "?dry_run=true".to_string() } else { format!("{query}&dry_run=true") };
            let preview = import(&app, csv, &preview_query);
            let case = format!("batch rows {batch_rows}, {query}: {preview}");
            assert_eq!(counts(&preview), (1, 1, 0, 0), "{case}");
            assert_eq!(errors(&preview), [], "{case}");
            let done: Value = commit(&app, &preview, None).json().unwrap();
            let case = format!("batch rows {batch_rows}, {query}: {done}");
            assert_eq!(done["status"], "completed", "{case}");
            assert_eq!(counts(&done), (1, 1, 0, 0), "{case}");
            let updated = user_named(&app, "ann");
            assert_eq!((&updated["id"], &updated["name"]["familyName"]), (&ann["id"], &json!("Lee-Smith")), "{case}");
            let dee = user_named(&app, "dee");
            assert_eq!(manager_of(&dee), &ann["id"], "{case}");
            assert_eq!(dangling_managers(&app), Vec::<String>::new(), "{case}");
            let ann_row = operations_of_row(&app, &done, 4);
            let paths: Vec<&Value> = ann_row["operations"].as_array().unwrap().iter().map(|op| &op["path"]).collect();
            assert!(paths.contains(&&json!(format!("/Users/{}", dee["id"].as_str().unwrap()))), "{ann_row}");
        }
    }
}

#[test]
fn a_repeated_manager_whose_last_row_fails_leaves_no_manager_pointing_nowhere() {
    // A stored "ann" with another email: Ann's last row would create a user named "ann" too, a
    // conflict; Dee is imported without a manager and Ann's row says so.
    for batch_rows in ["1000", "2"] {
        let app = TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", batch_rows)]);
        app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
            "emails": [{"value": "ann@old.example.com", "primary": true}]}));
        let preview = import(&app, ANN_AROUND_DEE, "?dry_run=true");
        let done: Value = commit(&app, &preview, None).json().unwrap();
        for import in [&preview, &done] {
            let case = format!("batch rows {batch_rows}: {import}");
            assert_eq!(counts(import), (3, 0, 0, 1), "{case}");
            assert_eq!(errors(import), [(6, "conflict".to_string())], "{case}");
            let mut expected = duplicate_at_row_2();
            expected.push((6, "invalid_value".to_string()));
            assert_eq!(warnings(import), expected, "{case}");
            let note = import["warnings"].as_array().unwrap().iter().find(|w| w["row"] == json!(6)).unwrap();
            assert!(note["message"].as_str().unwrap().contains("dee"), "the warning names Dee: {case}");
        }
        assert_eq!(done["status"], "completed", "the commit agrees with its preview: {done}");
        let dee = user_named(&app, "dee");
        assert!(manager_of(&dee).is_null(), "{dee}");
        assert_eq!(dangling_managers(&app), Vec::<String>::new());
        assert_eq!(users(&app).len(), 4, "the stored ann, Bob, Cy and Dee");

        let app = TestApp::spawn_with(&[("ROSTER_IMPORT_BATCH_ROWS", batch_rows)]);
        app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
            "emails": [{"value": "ann@old.example.com", "primary": true}]}));
        let aborted = import(&app, ANN_AROUND_DEE, "?on_error=abort");
        assert_eq!(aborted["status"], "failed", "{aborted}");
        assert_eq!(users(&app).len(), 1, "nothing written");
    }
}

#[test]
fn a_manager_must_appear_before_the_row_naming_them_and_in_the_rows_committed() {
    // Ann's rows are both after Dee's: the manager is not imported first.
    let app = TestApp::spawn();
    let csv = "email,manager email\ndee@example.com,ann@example.com\nann@example.com,\nann@example.com,\n";
    let done = import(&app, csv, "");
    assert_eq!(errors(&done), [(2, "invalid_value".to_string())], "{done}");
    assert!(manager_of(&user_named(&app, "ann")).is_null());

    // A commit of some rows without Ann's last: Ann is written at row 2, and Dee points at her.
    let app = TestApp::spawn();
    let preview = import(&app, ANN_AROUND_DEE, "?dry_run=true");
    let selection = json!({"rows": [2, 3, 4, 5]});
    let response = commit(&app, &preview, Some(selection.clone()));
    assert_eq!(response.status(), 409, "Ann's id and Dee's manager differ from the preview's");
    let done: Value = commit(&app, &preview, Some(selection)).json().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(counts(&done), (4, 0, 0, 0), "{done}");
    let ann = user_named(&app, "ann");
    assert_eq!(ann["name"]["familyName"], "Lee");
    assert_eq!(manager_of(&user_named(&app, "dee")), &ann["id"]);

    // Without Ann's rows at all, Dee's manager is nobody.
    let app = TestApp::spawn();
    let preview = import(&app, ANN_AROUND_DEE, "?dry_run=true");
    let selection = json!({"rows": [3, 4, 5]});
    assert_eq!(commit(&app, &preview, Some(selection.clone())).status(), 409);
    let done: Value = commit(&app, &preview, Some(selection)).json().unwrap();
    assert_eq!(errors(&done), [(5, "invalid_value".to_string())], "{done}");
    let names: Vec<Value> = users(&app).iter().map(|user| user["userName"].clone()).collect();
    assert_eq!(names, [json!("bob"), json!("cy")]);
}

#[test]
fn a_resumed_import_still_clears_the_manager_of_rows_naming_a_person_whose_last_row_fails() {
    // A background job of many batches, killed once Dee's row is committed: the instance that
    // resumes it must know, at Ann's failing last row, that Dee named her.
    let rows = 3000;
    let mut csv = String::from("email,first name,last name,manager email\nann@example.com,Ann,Lee,\n");
    csv.push_str("dee@example.com,Dee,Fox,ann@example.com\n");
    (4..rows).for_each(|n| csv.push_str(&format!("f{n}@example.com,F,{n},\n")));
    csv.push_str("ann@example.com,Ann,Lee-Smith,\n");
    let mut app = TestApp::spawn_with(&JOB_ENV);
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "ann",
        "emails": [{"value": "ann@old.example.com", "primary": true}]}));
    let response = upload(&app.server.base, &app.token, &csv, "");
    assert_eq!(response.status(), 202);
    let id = import_id(response);
    wait_for_progress(&app.server.base, &app.token, &id, 100);
    let pid = app.server.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    app.server.wait_for_exit(Duration::from_secs(10)).expect("the server died");

    app.server = start_server(&app.db, &JOB_ENV);
    let done = wait_until_done(&app.server, &app.token, &id, Duration::from_secs(300));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["failed"], 1, "Ann's last row: {done}");
    let dee = app.list("/Users?filter=userName%20eq%20%22dee%22");
    assert_eq!(dee["totalResults"], 1);
    assert!(manager_of(&dee["Resources"][0]).is_null(), "{dee}");
    let managed = app.list(&format!("/Users?filter={ENTERPRISE}:manager.value%20pr"));
    assert_eq!(managed["totalResults"], 0, "no manager points at a user never created: {managed}");
}
