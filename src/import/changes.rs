//! What a planned row asks of the user it matched: the SCIM PATCH operations (RFC 7644 §3.5.2)
//! that bring the stored user to the row's values, or the POST body (RFC 7644 §3.3) of a new one.
//!
//! Each column is compared the way the export writes it ([`stored_text`]), so a file exported by
//! Roster and imported again yields no operation at all; a row whose operations are empty (and
//! whose groups are already as asked) is `unchanged` and nothing is written. Email addresses and
//! the username are compared case-insensitively (RFC 7643 §4.1.1 and §4.1.2: `userName` and
//! `emails.value` are caseExact=false), so a username differing only in case renames nobody, and a
//! row's email that the user already has under any type is not written again.

use serde_json::{json, Map, Value};

use super::path::{AttrPath, ENTERPRISE_USER};
use super::profile::{eq_ignore_case, ColumnLayout, ColumnSpec, Rules, Target};
use super::report::{stored_text, value_text};
use super::row::{normalised_text, PlannedRow};
use crate::scim::schema::USER_SCHEMA;

/// The `add` operation (RFC 7644 §3.5.2.1) of the row's values of an additive column that the
/// user does not have yet; none when it has them all.
fn additive_operation(path: &AttrPath, wanted: &Value, current: &Map<String, Value>) -> Option<Value> {
    let have = path.get(current).and_then(Value::as_array).cloned().unwrap_or_default();
    let wanted = match wanted {
        Value::Array(values) => values.clone(),
        single => vec![single.clone()],
    };
    let missing: Vec<Value> = wanted.into_iter().filter(|value| !have.contains(value)).collect();
    (!missing.is_empty()).then(|| json!({"op": "add", "path": path.to_string(), "value": missing}))
}

/// The PATCH `Operations` (as JSON, RFC 7644 §3.5.2) that make `current` (a stored User) what the
/// row asks for; `manager_id` is the row's manager email already resolved to a user id. A stored
/// value that the profile would normalise to the row's value ([`normalised_text`]) is left as it is.
pub fn update_operations(
    layout: &ColumnLayout,
    rules: &Rules,
    row: &PlannedRow,
    current: &Map<String, Value>,
    manager_id: Option<&str>,
) -> Vec<Value> {
    let columns: Vec<ColumnSpec> = layout.bound.iter().map(|bound| bound.spec.clone()).collect();
    let mut operations = Vec::new();
    for column in &columns {
        let Target::Attribute(path) = &column.target else {
            continue;
        };
        if column.target.is_manager_email() {
            continue;
        }
        let Some(wanted) = path.get(&row.attributes) else {
            continue;
        };
        if path.is_email() && wanted.as_str().is_some_and(|email| has_email(current, email)) {
            continue;
        }
        if column.additive {
            if let Some(operation) = additive_operation(path, wanted, current) {
                operations.push(operation);
            }
            continue;
        }
        let have = stored_text(&columns, column, current);
        let want = value_text(column, wanted);
        let same = if column.target.identifies_person() {
            eq_ignore_case(&have, &want) || eq_ignore_case(&normalised_text(column, rules, &have), &want)
        } else {
            have == want || normalised_text(column, rules, &have) == want
        };
        if !same {
            operations.push(json!({"op": "replace", "path": path.to_string(), "value": wanted}));
        }
    }
    if let Some(manager_id) = manager_id {
        let current_manager = current.get(ENTERPRISE_USER).and_then(|e| e.pointer("/manager/value"));
        if current_manager.and_then(Value::as_str) != Some(manager_id) {
            let path = format!("{ENTERPRISE_USER}:manager");
            operations.push(json!({"op": "replace", "path": path, "value": {"value": manager_id}}));
        }
    }
    for cleared in &row.cleared {
        let Ok(path) = cleared.parse::<AttrPath>() else {
            continue;
        };
        if path.get(current).is_some_and(|value| !value.is_null()) {
            operations.push(json!({"op": "remove", "path": cleared}));
        }
    }
    operations
}

/// The POST body of the user a row creates: its defaults overlaid with its values, and the
/// resolved manager.
pub fn creation_body(row: &PlannedRow, manager_id: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("schemas".to_owned(), json!([USER_SCHEMA]));
    body.extend(row.creation_attributes());
    if let Some(manager_id) = manager_id {
        let extension = body.entry(ENTERPRISE_USER.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(extension) = extension {
            extension.insert("manager".to_owned(), json!({"value": manager_id}));
        }
    }
    Value::Object(body)
}

/// A PatchOp request (RFC 7644 §3.5.2) carrying `operations`.
pub fn patch_request(operations: Vec<Value>) -> Value {
    // Built by hand: `json!` would copy the operations through the serializer.
    let mut request = Map::new();
    request.insert("schemas".to_owned(), json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]));
    request.insert("Operations".to_owned(), Value::Array(operations));
    Value::Object(request)
}

fn has_email(user: &Map<String, Value>, email: &str) -> bool {
    user.get("emails").and_then(Value::as_array).is_some_and(|emails| {
        emails.iter().filter_map(|e| e.get("value").and_then(Value::as_str)).any(|value| eq_ignore_case(value, email))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Planner, Profile, RawRow};

    fn plan(header: &[&str], cells: &[&str]) -> (Planner, PlannedRow) {
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        let planner = Planner::new(&Profile::default_profile(), &header, 1).unwrap();
        let row =
            planner.plan(RawRow { row: 2, cells: cells.iter().map(|c| (*c).to_owned()).collect(), malformed: None });
        (planner, row)
    }

    fn user(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_row_equal_to_the_stored_user_changes_nothing() {
        let (planner, row) =
            plan(&["Email", "First Name", "Roles", "Status"], &["Ana@X.example", "ana", "Admin", "Active"]);
        let stored = user(json!({
            "userName": "ana",
            "name": {"givenName": "Ana"},
            "emails": [{"value": "ana@x.example", "primary": true}],
            "roles": [{"value": "Admin"}],
            "active": true
        }));
        assert_eq!(update_operations(planner.layout(), &Rules::default(), &row, &stored, None), Vec::<Value>::new());
    }

    #[test]
    fn changed_columns_become_replace_operations_and_the_manager_its_id() {
        let (planner, row) = plan(&["Email", "Job Title", "Mobile"], &["ana@x.example", "CTO", "+1 555"]);
        let stored = user(json!({"userName": "ana", "emails": [{"value": "ana@x.example"}], "title": "Dev"}));
        assert_eq!(
            update_operations(planner.layout(), &Rules::default(), &row, &stored, Some("m-1")),
            vec![
                json!({"op": "replace", "path": "title", "value": "CTO"}),
                json!({"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}),
                json!({"op": "replace", "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": "m-1"}}),
            ]
        );
    }

    #[test]
    fn a_username_or_email_differing_only_in_case_changes_nothing() {
        let (planner, row) = plan(&["Email", "Username"], &["ANN@x.example", "ANN.Lee"]);
        let stored = user(json!({"userName": "ann.lee", "emails": [{"value": "ann@x.example", "primary": true}]}));
        assert_eq!(update_operations(planner.layout(), &Rules::default(), &row, &stored, None), Vec::<Value>::new());
    }

    #[test]
    fn the_creation_body_carries_defaults_values_and_manager() {
        let (_, row) = plan(&["Email", "First Name", "Last Name"], &["ana@x.example", "ana", "lee"]);
        let body = creation_body(&row, Some("m-1"));
        assert_eq!(body["userName"], json!("ana"));
        assert_eq!(body["displayName"], json!("Ana Lee"));
        assert_eq!(body[ENTERPRISE_USER]["manager"], json!({"value": "m-1"}));
    }
}
