//! Table-driven tests of the PATCH engine, using the RFC 7644 §3.5.2 examples as data.

use serde_json::{json, Value};

use super::*;
use crate::scim::error::ScimType;
use crate::scim::filter::parse_filter;
use crate::scim::schema::{SchemaDef, SchemaRegistry, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

const BJENSEN_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY_ID: &str = "902c246b-6245-4190-8e05-00816be7344a";

fn user_schema() -> ResourceSchema {
    SchemaRegistry::standard().user
}

fn group_schema() -> ResourceSchema {
    SchemaRegistry::standard().group
}

/// Barbara Jensen as stored (RFC 7643 §8.2, trimmed): canonical names, no id/meta/groups.
fn bjensen() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "addresses": [{
            "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
            "region": "CA", "postalCode": "91608", "country": "USA", "primary": true
        }],
        ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

fn tour_guides() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"})
}

fn body(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
}

fn run(schema: &ResourceSchema, stored: &Value, operations: Value) -> Result<PatchOutcome, ScimError> {
    let ops = parse_patch_request(&body(operations))?;
    apply_patch(schema, stored, &ops)
}

/// `(JSON pointer, expected value)`; `null` means the pointer must not resolve.
type Expectations = Vec<(&'static str, Value)>;

fn check_data(case: &str, data: &Value, expectations: &Expectations) {
    for (pointer, expected) in expectations {
        let actual = data.pointer(pointer);
        if expected.is_null() {
            assert!(actual.is_none(), "{case}: {pointer} should be absent, got {actual:?}\n{data:#}");
        } else {
            assert_eq!(actual, Some(expected), "{case}: {pointer}\n{data:#}");
        }
    }
}

const ENT: &str = "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn parse_patch_request_cases() {
    let cases: Vec<(&str, Value, Result<usize, ScimType>)> = vec![
        ("minimal", body(json!([{"op": "remove", "path": "title"}])), Ok(1)),
        (
            "Operations name in another case",
            json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"op": "add", "path": "title", "value": "x"}]}),
            Ok(1),
        ),
        (
            "Entra op spelling and extra members",
            body(json!([{"name": "addMember", "op": "Add", "path": "members", "value": []}])),
            Ok(1),
        ),
        ("not an object", json!([]), Err(ScimType::InvalidSyntax)),
        ("no schemas", json!({"Operations": [{"op": "remove", "path": "x"}]}), Err(ScimType::InvalidSyntax)),
        (
            "wrong schema",
            json!({"schemas": [USER_SCHEMA], "Operations": [{"op": "remove", "path": "x"}]}),
            Err(ScimType::InvalidSyntax),
        ),
        ("no Operations", json!({"schemas": [PATCH_OP_SCHEMA]}), Err(ScimType::InvalidSyntax)),
        ("empty Operations", body(json!([])), Err(ScimType::InvalidSyntax)),
        ("Operations not an array", body(json!({"op": "add"})), Err(ScimType::InvalidSyntax)),
        ("operation not an object", body(json!(["add"])), Err(ScimType::InvalidSyntax)),
        ("no op", body(json!([{"path": "title", "value": "x"}])), Err(ScimType::InvalidSyntax)),
        ("unknown op", body(json!([{"op": "copy", "path": "title"}])), Err(ScimType::InvalidSyntax)),
        ("path not a string", body(json!([{"op": "remove", "path": 3}])), Err(ScimType::InvalidPath)),
        ("unparsable path", body(json!([{"op": "remove", "path": "emails[type eq"}])), Err(ScimType::InvalidPath)),
        ("add without value", body(json!([{"op": "add", "path": "title"}])), Err(ScimType::InvalidValue)),
        (
            "no-path replace with a non-object value",
            body(json!([{"op": "replace", "value": "x"}])),
            Err(ScimType::InvalidValue),
        ),
    ];
    for (name, input, expected) in cases {
        let result = parse_patch_request(&input);
        match expected {
            Ok(count) => assert_eq!(result.map(|ops| ops.len()), Ok(count), "{name}"),
            Err(scim_type) => {
                let error = result.expect_err(name);
                assert_eq!((error.status, error.scim_type), (400, Some(scim_type)), "{name}: {error}");
            }
        }
    }
}

#[test]
fn parse_keeps_explicit_null_apart_from_missing_value() {
    let ops = parse_patch_request(&body(json!([
        {"op": "replace", "path": "title", "value": null},
        {"op": "remove", "path": "title"}
    ])))
    .unwrap();
    assert_eq!(ops[0].value, Some(Value::Null));
    assert_eq!(ops[1].value, None);
    assert_eq!(ops[0].op, PatchOpKind::Replace);
    assert_eq!(ops[1].op, PatchOpKind::Remove);
}

#[test]
fn user_patches_change_data() {
    let cases: Vec<(&str, Value, Expectations)> = vec![
        (
            "RFC 7644 §3.5.2.1: add emails and nickname without path",
            json!([{"op": "add", "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs"
            }}]),
            vec![
                ("/emails/0/value", json!("bjensen@example.com")),
                ("/emails/1", json!({"value": "babs@jensen.org", "type": "home"})),
                ("/nickName", json!("Babs")),
                ("/nickname", Value::Null),
            ],
        ),
        (
            "RFC 7644 §3.5.2.3: replace emails and nickname without path",
            json!([{"op": "replace", "value": {
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "nickname": "Babs"
            }}]),
            vec![
                (
                    "/emails",
                    json!([
                        {"value": "bjensen@example.com", "type": "work", "primary": true},
                        {"value": "babs@jensen.org", "type": "home"}
                    ]),
                ),
                ("/nickName", json!("Babs")),
            ],
        ),
        (
            "RFC 7644 §3.5.2.3: replace the work address through a filter",
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
                "region": "CA", "postalCode": "91608", "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": true
            }}]),
            vec![
                ("/addresses/0/streetAddress", json!("911 Universal City Plaza")),
                ("/addresses/0/country", json!("US")),
                ("/addresses/0/formatted", json!("911 Universal City Plaza\nHollywood, CA 91608 US")),
                ("/addresses/1", Value::Null),
            ],
        ),
        (
            "RFC 7644 §3.5.2.3: replace one sub-attribute of the work address",
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
            vec![
                ("/addresses/0/streetAddress", json!("1010 Broadway Ave")),
                ("/addresses/0/locality", json!("Hollywood")),
            ],
        ),
        (
            "RFC 7644 §3.5.2.2: remove emails matching a complex filter",
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
            vec![("/emails", Value::Null)],
        ),
        (
            "add on a single-valued attribute replaces it",
            json!([{"op": "add", "path": "displayName", "value": "Barbara"}]),
            vec![("/displayName", json!("Barbara"))],
        ),
        (
            "add of a complex attribute merges sub-attributes",
            json!([{"op": "add", "path": "name", "value": {"middleName": "Jane"}}]),
            vec![("/name/middleName", json!("Jane")), ("/name/familyName", json!("Jensen"))],
        ),
        (
            "replace of a complex attribute leaves unmentioned sub-attributes (RFC 7644 §3.5.2.3)",
            json!([{"op": "replace", "path": "name", "value": {"GIVENNAME": "Babs"}}]),
            vec![("/name/givenName", json!("Babs")), ("/name/familyName", json!("Jensen"))],
        ),
        (
            "replace with a sub-attribute path",
            json!([{"op": "replace", "path": "Name.GivenName", "value": "Babs"}]),
            vec![("/name/givenName", json!("Babs")), ("/Name", Value::Null)],
        ),
        (
            "remove a sub-attribute",
            json!([{"op": "remove", "path": "name.givenName"}]),
            vec![("/name/givenName", Value::Null), ("/name/familyName", json!("Jensen"))],
        ),
        (
            "remove the last sub-attributes drops the complex attribute",
            json!([
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "name.familyName"},
                {"op": "remove", "path": "name.formatted"}
            ]),
            vec![("/name", Value::Null)],
        ),
        (
            "remove a single-valued attribute",
            json!([{"op": "remove", "path": "displayName"}]),
            vec![("/displayName", Value::Null)],
        ),
        (
            "replace with null makes the attribute unassigned (RFC 7643 §2.5)",
            json!([{"op": "replace", "path": "displayName", "value": null}]),
            vec![("/displayName", Value::Null)],
        ),
        (
            "null inside a no-path value makes the attribute unassigned",
            json!([{"op": "replace", "value": {"displayName": null, "name": {"givenName": null}}}]),
            vec![
                ("/displayName", Value::Null),
                ("/name/givenName", Value::Null),
                ("/name/familyName", json!("Jensen")),
            ],
        ),
        (
            "extension attribute path",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}]),
            vec![(
                concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/department"),
                json!("Sales"),
            )],
        ),
        (
            "extension sub-attribute path keeps the other sub-attributes",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "new-boss"}]),
            vec![(
                concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/manager"),
                json!({"value": "new-boss", "displayName": "John Smith"}),
            )],
        ),
        (
            "no-path value keyed by the extension URN",
            json!([{"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x", "costCenter": "4130"}}}]),
            vec![
                (concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/department"), json!("x")),
                (concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/costCenter"), json!("4130")),
                (
                    concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/employeeNumber"),
                    json!("701984"),
                ),
            ],
        ),
        (
            "path naming the whole extension merges into it",
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"division": "Theme Park"}}]),
            vec![
                (
                    concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/division"),
                    json!("Theme Park"),
                ),
                (
                    concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/department"),
                    json!("Tour Operations"),
                ),
            ],
        ),
        (
            "remove an extension attribute",
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
            vec![(concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/manager"), Value::Null)],
        ),
        (
            "remove the whole extension drops its URN from schemas",
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]),
            vec![(ENT, Value::Null), ("/schemas", json!([USER_SCHEMA]))],
        ),
        (
            "add on a multi-valued attribute appends",
            json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]}]),
            vec![("/emails/1/value", json!("babs@jensen.org")), ("/emails/0/primary", json!(true))],
        ),
        (
            "add of one element without an array",
            json!([{"op": "add", "path": "phoneNumbers", "value": {"value": "555-555-8377", "type": "work"}}]),
            vec![("/phoneNumbers", json!([{"value": "555-555-8377", "type": "work"}]))],
        ),
        (
            "replace without filter swaps the whole list",
            json!([{"op": "replace", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]}]),
            vec![("/emails", json!([{"value": "babs@jensen.org", "type": "home"}]))],
        ),
        (
            "replace with an empty list makes the attribute unassigned",
            json!([{"op": "replace", "path": "emails", "value": []}]),
            vec![("/emails", Value::Null)],
        ),
        (
            "remove of a sub-attribute through a filter",
            json!([{"op": "remove", "path": "addresses[type eq \"work\"].postalCode"}]),
            vec![("/addresses/0/postalCode", Value::Null), ("/addresses/0/locality", json!("Hollywood"))],
        ),
        (
            "add through a filter merges into the matching element",
            json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"display": "Work mail"}}]),
            vec![(
                "/emails/0",
                json!({"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work mail"}),
            )],
        ),
        (
            "a new primary email clears the old one (RFC 7643 §2.4)",
            json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home", "primary": true}]}]),
            vec![("/emails/0/primary", Value::Null), ("/emails/1/primary", json!(true))],
        ),
        (
            "primary set through a filter clears the old one",
            json!([
                {"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]},
                {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}
            ]),
            vec![("/emails/0/primary", Value::Null), ("/emails/1/primary", json!(true))],
        ),
        (
            "readOnly sub-attributes in a value are ignored",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "value": {"value": "boss-2", "displayName": "Forged Name"}}]),
            vec![(
                concat!("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "/manager"),
                json!({"value": "boss-2", "displayName": "John Smith"}),
            )],
        ),
        (
            "URN-qualified core attribute path",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "Tour Guide"}]),
            vec![("/title", json!("Tour Guide"))],
        ),
        (
            "a sub-attribute path on a multi-valued attribute without filter edits every value",
            json!([{"op": "replace", "path": "addresses.country", "value": "US"}]),
            vec![("/addresses/0/country", json!("US")), ("/addresses/0/locality", json!("Hollywood"))],
        ),
        (
            "URN-qualified core sub-attribute path",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "value": "Babs"}]),
            vec![("/name/givenName", json!("Babs"))],
        ),
        (
            "externalId is a common attribute stored at the top level",
            json!([{"op": "add", "path": "externalId", "value": "bjensen-ext"}]),
            vec![("/externalId", json!("bjensen-ext"))],
        ),
        (
            "dateTime, integer and decimal values are type-checked, not rejected",
            json!([{"op": "add", "path": "x509Certificates", "value": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}]}]),
            vec![("/x509Certificates/0/value", json!("MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"))],
        ),
    ];
    let schema = user_schema();
    for (name, operations, expectations) in cases {
        let outcome = run(&schema, &bjensen(), operations).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_data(name, &outcome.data, &expectations);
        assert!(outcome.changed, "{name}: should be marked changed");
        assert!(outcome.member_changes.is_empty(), "{name}");
        assert_eq!(outcome.password, None, "{name}");
    }
}

#[test]
fn user_patch_errors() {
    let cases: Vec<(&str, Value, ScimType)> = vec![
        ("remove without path (RFC 7644 §3.5.2.2)", json!([{"op": "remove"}]), ScimType::NoTarget),
        (
            "replace through a filter matching nothing (RFC 7644 §3.5.2.3)",
            json!([{"op": "replace", "path": "addresses[type eq \"home\"]", "value": {"type": "home", "locality": "Anaheim"}}]),
            ScimType::NoTarget,
        ),
        (
            "replace of a sub-attribute through a non-equality filter matching nothing",
            json!([{"op": "replace", "path": "emails[value ew \"nowhere.org\"].type", "value": "other"}]),
            ScimType::NoTarget,
        ),
        ("unknown attribute", json!([{"op": "replace", "path": "shoeSize", "value": "9"}]), ScimType::InvalidPath),
        (
            "unknown sub-attribute",
            json!([{"op": "replace", "path": "name.nickName", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (
            "unknown extension attribute",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize", "value": "9"}]),
            ScimType::InvalidPath,
        ),
        (
            "filter on a single-valued attribute",
            json!([{"op": "remove", "path": "name[givenName eq \"x\"]"}]),
            ScimType::InvalidPath,
        ),
        (
            "filter on an unknown sub-attribute",
            json!([{"op": "remove", "path": "emails[kind eq \"work\"]"}]),
            ScimType::InvalidPath,
        ),
        (
            "sub-attribute of a simple attribute",
            json!([{"op": "replace", "path": "title.value", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (
            "unknown attribute in a no-path value",
            json!([{"op": "add", "value": {"shoeSize": "9"}}]),
            ScimType::InvalidPath,
        ),
        ("readOnly id", json!([{"op": "replace", "path": "id", "value": "x"}]), ScimType::Mutability),
        (
            "readOnly meta sub-attribute",
            json!([{"op": "replace", "path": "meta.created", "value": "2011-08-01T18:29:49.793Z"}]),
            ScimType::Mutability,
        ),
        ("readOnly groups", json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]), ScimType::Mutability),
        ("remove of readOnly groups", json!([{"op": "remove", "path": "groups"}]), ScimType::Mutability),
        (
            "readOnly groups in a no-path value",
            json!([{"op": "add", "value": {"groups": [{"value": "g1"}]}}]),
            ScimType::Mutability,
        ),
        (
            "readOnly manager.displayName path",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}]),
            ScimType::Mutability,
        ),
        (
            "remove of required userName (RFC 7644 §3.5.2.2)",
            json!([{"op": "remove", "path": "userName"}]),
            ScimType::Mutability,
        ),
        (
            "required userName replaced by null",
            json!([{"op": "replace", "value": {"userName": null}}]),
            ScimType::Mutability,
        ),
        ("password cannot be removed", json!([{"op": "remove", "path": "password"}]), ScimType::Mutability),
        (
            "boolean given a non-boolean string",
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            ScimType::InvalidValue,
        ),
        ("complex given a string", json!([{"op": "replace", "path": "name", "value": "Babs"}]), ScimType::InvalidValue),
        (
            "multi-valued complex given a string",
            json!([{"op": "add", "path": "emails", "value": "babs@jensen.org"}]),
            ScimType::InvalidValue,
        ),
        (
            "string sub-attribute given a number",
            json!([{"op": "add", "path": "emails", "value": [{"value": 5}]}]),
            ScimType::InvalidValue,
        ),
        (
            "unknown sub-attribute in a value",
            json!([{"op": "add", "value": {"name": {"nickName": "x"}}}]),
            ScimType::InvalidValue,
        ),
        (
            "password given a number",
            json!([{"op": "replace", "path": "password", "value": 1234}]),
            ScimType::InvalidValue,
        ),
        (
            "single-valued given a list of several values",
            json!([{"op": "replace", "path": "title", "value": ["a", "b"]}]),
            ScimType::InvalidValue,
        ),
        (
            "two primaries in one value (RFC 7643 §2.4)",
            json!([{"op": "replace", "path": "emails", "value": [
                {"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}
            ]}]),
            ScimType::InvalidValue,
        ),
        (
            "a filter selecting two elements cannot make both primary",
            json!([
                {"op": "add", "path": "emails", "value": [{"value": "b@example.com", "type": "work"}]},
                {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}
            ]),
            ScimType::InvalidValue,
        ),
        (
            "remove of a multi-valued attribute with a bare value list it cannot express",
            json!([{"op": "remove", "path": "emails", "value": [{}]}]),
            ScimType::InvalidValue,
        ),
    ];
    let schema = user_schema();
    for (name, operations, scim_type) in cases {
        let error = run(&schema, &bjensen(), operations).expect_err(name);
        assert_eq!((error.status, error.scim_type), (400, Some(scim_type)), "{name}: {error}");
    }
}

#[test]
fn operations_apply_all_or_nothing() {
    let schema = user_schema();
    let stored = bjensen();
    let cases: Vec<(&str, Value)> = vec![
        (
            "second operation has an unknown path",
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "shoeSize", "value": "9"}
            ]),
        ),
        (
            "last operation removes a required attribute",
            json!([
                {"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org"}]},
                {"op": "replace", "path": "name.givenName", "value": "Babs"},
                {"op": "remove", "path": "userName"}
            ]),
        ),
        (
            "password set and a later failure",
            json!([
                {"op": "replace", "path": "password", "value": "t1meMa$heen"},
                {"op": "remove"}
            ]),
        ),
    ];
    for (name, operations) in cases {
        let ops = parse_patch_request(&body(operations)).unwrap();
        assert!(apply_patch(&schema, &stored, &ops).is_err(), "{name}");
        let first_only = apply_patch(&schema, &stored, &ops[..1]).unwrap();
        assert!(first_only.changed, "{name}: the first operation alone is a real change");
    }
    assert_eq!(stored, bjensen());
}

#[test]
fn changed_is_false_for_no_op_patches() {
    let schema = user_schema();
    let cases: Vec<(&str, Value, bool)> = vec![
        ("same single value", json!([{"op": "replace", "path": "displayName", "value": "Babs Jensen"}]), false),
        (
            "existing email added again",
            json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
            false,
        ),
        (
            "existing email added again in another case (caseExact false)",
            json!([{"op": "add", "path": "emails", "value": [{"value": "BJensen@Example.com", "type": "WORK", "primary": true}]}]),
            false,
        ),
        ("remove of an absent attribute", json!([{"op": "remove", "path": "title"}]), false),
        (
            "remove through a filter matching nothing",
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            false,
        ),
        (
            "same complex sub-attribute",
            json!([{"op": "replace", "path": "name", "value": {"givenName": "Barbara"}}]),
            false,
        ),
        (
            "set then reset",
            json!([
                {"op": "replace", "path": "title", "value": "Tour Guide"},
                {"op": "remove", "path": "title"}
            ]),
            false,
        ),
        ("a real change", json!([{"op": "replace", "path": "displayName", "value": "Barbara"}]), true),
        ("password set", json!([{"op": "replace", "path": "password", "value": "t1meMa$heen"}]), true),
    ];
    for (name, operations, expected) in cases {
        let outcome = run(&schema, &bjensen(), operations).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.changed, expected, "{name}");
        if !expected {
            assert_eq!(outcome.data, bjensen(), "{name}");
        }
    }
}

#[test]
fn password_is_pulled_out_of_data() {
    let schema = user_schema();
    let cases: Vec<(&str, Value)> = vec![
        ("with path", json!([{"op": "replace", "path": "password", "value": "t1meMa$heen"}])),
        ("without path", json!([{"op": "replace", "value": {"password": "t1meMa$heen"}}])),
        ("add, any case", json!([{"op": "add", "path": "PASSWORD", "value": "t1meMa$heen"}])),
    ];
    for (name, operations) in cases {
        let outcome = run(&schema, &bjensen(), operations).unwrap();
        assert_eq!(outcome.password.as_deref(), Some("t1meMa$heen"), "{name}");
        assert_eq!(outcome.data, bjensen(), "{name}");
        assert!(outcome.changed, "{name}");
    }
}

#[test]
fn schemas_are_recomputed() {
    let schema = user_schema();
    let stored = json!({"schemas": [USER_SCHEMA], "userName": "mandy"});
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "an extension attribute adds the extension URN",
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}]),
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
        ),
        (
            "an extension object that ends up empty is dropped",
            json!([
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ]),
            json!([USER_SCHEMA]),
        ),
        (
            "an extension URN key in another case is canonicalised",
            json!([{"op": "add", "value": {"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "Sales"}}}]),
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
        ),
    ];
    for (name, operations, expected) in cases {
        let outcome = run(&schema, &stored, operations).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.data["schemas"], expected, "{name}");
        let keys: Vec<&String> = outcome.data.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "schemas", "{name}");
        if expected.as_array().unwrap().len() == 2 {
            assert_eq!(outcome.data[ENTERPRISE_USER_SCHEMA]["department"], json!("Sales"), "{name}");
        }
    }
}

fn member(value: &str, display: Option<&str>) -> MemberRef {
    MemberRef { value: value.to_string(), member_type: None, display: display.map(str::to_string) }
}

#[test]
fn group_member_changes() {
    let babs = json!({
        "display": "Babs Jensen",
        "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
        "value": BJENSEN_ID
    });
    let mandy = json!({
        "display": "Mandy Pepperidge",
        "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
        "value": MANDY_ID
    });
    let cases: Vec<(&str, Value, Vec<MemberChange>)> = vec![
        (
            "RFC 7644 §3.5.2.1: add a member",
            json!([{"op": "add", "path": "members", "value": [babs.clone()]}]),
            vec![MemberChange::Add(vec![member(BJENSEN_ID, Some("Babs Jensen"))])],
        ),
        (
            "RFC 7644 §3.5.2.2: remove a member by filter",
            json!([{"op": "remove", "path": format!("members[value eq \"{BJENSEN_ID}\"]")}]),
            vec![MemberChange::Remove(vec![BJENSEN_ID.to_string()])],
        ),
        (
            "RFC 7644 §3.5.2.2: remove all members",
            json!([{"op": "remove", "path": "members"}]),
            vec![MemberChange::RemoveAll],
        ),
        (
            "RFC 7644 §3.5.2.2: replace all members by remove then add",
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [babs.clone(), mandy.clone()]}
            ]),
            vec![
                MemberChange::RemoveAll,
                MemberChange::Add(vec![
                    member(BJENSEN_ID, Some("Babs Jensen")),
                    member(MANDY_ID, Some("Mandy Pepperidge")),
                ]),
            ],
        ),
        (
            "RFC 7644 §3.5.2.3: replace members",
            json!([{"op": "replace", "path": "members", "value": [babs.clone(), mandy.clone()]}]),
            vec![MemberChange::Replace(vec![
                member(BJENSEN_ID, Some("Babs Jensen")),
                member(MANDY_ID, Some("Mandy Pepperidge")),
            ])],
        ),
        (
            "replace members with an empty list",
            json!([{"op": "replace", "path": "members", "value": []}]),
            vec![MemberChange::Replace(vec![])],
        ),
        (
            "or-ed value equalities remove by id",
            json!([{"op": "remove", "path": format!("members[value eq \"{BJENSEN_ID}\" or value eq \"{MANDY_ID}\"]")}]),
            vec![MemberChange::Remove(vec![BJENSEN_ID.to_string(), MANDY_ID.to_string()])],
        ),
        (
            "any other member filter is left to the storage layer",
            json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
            vec![MemberChange::RemoveMatching(parse_filter("type eq \"Group\"").unwrap())],
        ),
        (
            "members in a no-path add",
            json!([{"op": "add", "value": {"members": [{"value": MANDY_ID, "type": "User"}]}}]),
            vec![MemberChange::Add(vec![MemberRef {
                value: MANDY_ID.to_string(),
                member_type: Some("User".to_string()),
                display: None,
            }])],
        ),
        (
            "repeated ids are added once",
            json!([{"op": "add", "path": "members", "value": [{"value": MANDY_ID}, {"value": MANDY_ID}]}]),
            vec![MemberChange::Add(vec![member(MANDY_ID, None)])],
        ),
    ];
    let schema = group_schema();
    for (name, operations, expected) in cases {
        let outcome = run(&schema, &tour_guides(), operations).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.member_changes, expected, "{name}");
        assert_eq!(outcome.data, tour_guides(), "{name}: members never enter data");
        assert!(outcome.changed, "{name}");
    }
}

#[test]
fn group_patch_errors() {
    let cases: Vec<(&str, Value, ScimType)> = vec![
        ("remove of required displayName", json!([{"op": "remove", "path": "displayName"}]), ScimType::Mutability),
        (
            "member sub-attribute path",
            json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}]),
            ScimType::Mutability,
        ),
        (
            "member without value",
            json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
            ScimType::InvalidValue,
        ),
        ("member given as a string", json!([{"op": "add", "path": "members", "value": ["x"]}]), ScimType::InvalidValue),
        (
            "member filter on an unknown sub-attribute",
            json!([{"op": "remove", "path": "members[email eq \"x\"]"}]),
            ScimType::InvalidPath,
        ),
        ("User attribute on a Group", json!([{"op": "add", "path": "userName", "value": "x"}]), ScimType::InvalidPath),
    ];
    let schema = group_schema();
    for (name, operations, scim_type) in cases {
        let error = run(&schema, &tour_guides(), operations).expect_err(name);
        assert_eq!((error.status, error.scim_type), (400, Some(scim_type)), "{name}: {error}");
    }
}

fn with_roster_extension() -> ResourceSchema {
    let extension = SchemaDef::from_json(&json!({
        "id": "urn:example:params:scim:schemas:extension:roster:2.0:User",
        "name": "RosterUser",
        "attributes": [
            {"name": "badge", "type": "string", "mutability": "immutable"},
            {"name": "clearance", "type": "integer"},
            {"name": "rating", "type": "decimal"},
            {"name": "hiredAt", "type": "dateTime"},
            {"name": "tags", "type": "string", "multiValued": true, "caseExact": true},
            {"name": "auditedAt", "type": "dateTime", "mutability": "readOnly"}
        ]
    }))
    .unwrap();
    SchemaRegistry::standard().with_extension(ResourceKind::User, extension, false).unwrap().user
}

#[test]
fn custom_extension_types_and_mutability() {
    const ROSTER: &str = "urn:example:params:scim:schemas:extension:roster:2.0:User";
    let schema = with_roster_extension();
    let stored = json!({
        "schemas": [USER_SCHEMA, ROSTER],
        "userName": "mandy",
        ROSTER: {"badge": "B-17", "tags": ["Day", "night"], "auditedAt": "2024-01-01T00:00:00Z"}
    });
    let path = |name: &str| format!("{ROSTER}:{name}");
    let cases: Vec<(&str, Value, Result<Value, ScimType>)> = vec![
        (
            "integer accepted",
            json!([{"op": "add", "path": path("clearance"), "value": 3}]),
            Ok(json!({"clearance": 3})),
        ),
        (
            "integer rejects a fraction",
            json!([{"op": "add", "path": path("clearance"), "value": 3.5}]),
            Err(ScimType::InvalidValue),
        ),
        (
            "decimal accepts a fraction",
            json!([{"op": "add", "path": path("rating"), "value": 4.5}]),
            Ok(json!({"rating": 4.5})),
        ),
        (
            "dateTime accepted",
            json!([{"op": "add", "path": path("hiredAt"), "value": "2008-01-23T04:56:22Z"}]),
            Ok(json!({"hiredAt": "2008-01-23T04:56:22Z"})),
        ),
        (
            "dateTime rejects garbage",
            json!([{"op": "add", "path": path("hiredAt"), "value": "last tuesday"}]),
            Err(ScimType::InvalidValue),
        ),
        (
            "immutable already set (RFC 7644 §3.5.2)",
            json!([{"op": "replace", "path": path("badge"), "value": "B-18"}]),
            Err(ScimType::Mutability),
        ),
        (
            "immutable already set, via a no-path value",
            json!([{"op": "replace", "value": {ROSTER: {"badge": "B-18"}}}]),
            Err(ScimType::Mutability),
        ),
        ("immutable removed", json!([{"op": "remove", "path": path("badge")}]), Err(ScimType::Mutability)),
        (
            "immutable set to the same value",
            json!([{"op": "replace", "path": path("badge"), "value": "B-17"}]),
            Ok(json!({"badge": "B-17"})),
        ),
        (
            "readOnly extension attribute",
            json!([{"op": "replace", "path": path("auditedAt"), "value": "2025-01-01T00:00:00Z"}]),
            Err(ScimType::Mutability),
        ),
        (
            "simple multi-valued add is caseExact",
            json!([{"op": "add", "path": path("tags"), "value": ["day", "Day"]}]),
            Ok(json!({"tags": ["Day", "night", "day"]})),
        ),
        (
            "simple multi-valued remove by value filter",
            json!([{"op": "remove", "path": format!("{}[value eq \"night\"]", path("tags"))}]),
            Ok(json!({"tags": ["Day"]})),
        ),
        (
            "simple multi-valued remove by value list",
            json!([{"op": "remove", "path": path("tags"), "value": ["Day"]}]),
            Ok(json!({"tags": ["night"]})),
        ),
    ];
    for (name, operations, expected) in cases {
        let result = run(&schema, &stored, operations);
        match expected {
            Ok(members) => {
                let outcome = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                for (key, value) in members.as_object().unwrap() {
                    assert_eq!(outcome.data[ROSTER][key], *value, "{name}: {key}");
                }
            }
            Err(scim_type) => {
                let error = result.expect_err(name);
                assert_eq!((error.status, error.scim_type), (400, Some(scim_type)), "{name}: {error}");
            }
        }
    }
}

#[test]
fn immutable_may_be_added_when_unset() {
    const ROSTER: &str = "urn:example:params:scim:schemas:extension:roster:2.0:User";
    let schema = with_roster_extension();
    let stored = json!({"schemas": [USER_SCHEMA], "userName": "mandy"});
    let outcome =
        run(&schema, &stored, json!([{"op": "add", "path": format!("{ROSTER}:badge"), "value": "B-1"}])).unwrap();
    assert_eq!(outcome.data[ROSTER]["badge"], json!("B-1"));
    assert_eq!(outcome.data["schemas"], json!([USER_SCHEMA, ROSTER]));
}

#[test]
fn invalid_stored_resource_is_reported_not_hidden() {
    let schema = user_schema();
    let stored = json!({"schemas": [USER_SCHEMA], "userName": "mandy", "active": "maybe"});
    let error = run(&schema, &stored, json!([{"op": "replace", "path": "title", "value": "x"}])).unwrap_err();
    assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
}
