//! Filters (RFC 7644 §3.4.2.2) end to end: every operator on every attribute type, precedence,
//! value filters, extension URNs, Users and Groups, and the errors of bad filters.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::users::urlencode;

/// Three users and three groups with known attributes; ids kept for filters that need them.
struct Directory {
    app: TestApp,
    barbara: Value,
    john: Value,
    alice: Value,
    guides: Value,
    engineers: Value,
}

impl Directory {
    fn seed() -> Directory {
        let app = TestApp::spawn();
        let alice = app.create_user_with(json!({
            "schemas": [USER_SCHEMA],
            "userName": "ajones",
            "name": {"familyName": "Jones"},
            "title": "Manager",
            "active": true,
            "emails": [{"value": "ajones@example.com", "type": "home"}]
        }));
        let barbara = app.create_user_with(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "BJensen@Example.com",
            "externalId": "Ext-1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "addresses": [{"type": "work", "postalCode": "91608", "locality": "Hollywood"}],
            ENTERPRISE: {"department": "Tour Operations", "manager": {"value": id_of(&alice)}}
        }));
        let john = app.create_user_with(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "jsmith",
            "externalId": "ext-1",
            "name": {"givenName": "John", "familyName": "Smith"},
            "displayName": "John Smith",
            "active": false,
            "emails": [{"value": "JSmith@Example.ORG", "type": "work"}],
            "addresses": [{"type": "home", "postalCode": "91608"}],
            ENTERPRISE: {"department": "Engineering"}
        }));
        let guides = app.create_group("Tour Guides", &[&id_of(&barbara), &id_of(&alice)]);
        let engineers = app.create_group("Engineering", &[&id_of(&john)]);
        app.create_group("Empty", &[]);
        Directory { app, barbara, john, alice, guides, engineers }
    }

    /// The sorted userNames (or group displayNames) a filter selects.
    fn matching(&self, endpoint: &str, filter: &str) -> Vec<String> {
        let page = self.app.list(&format!("{endpoint}?filter={}", urlencode(filter)));
        let key = if endpoint == "/Groups" { "displayName" } else { "userName" };
        let mut names: Vec<String> =
            page["Resources"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap().to_string()).collect();
        names.sort();
        assert_eq!(page["totalResults"], names.len(), "{filter}");
        names
    }

    fn check(&self, endpoint: &str, cases: &[(String, &[&str])]) {
        let mut failures = Vec::new();
        for (filter, expected) in cases {
            let got = self.matching(endpoint, filter);
            if got != *expected {
                failures.push(format!("{filter}\n    expected {expected:?}\n    got      {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{} filter(s) failed:\n  {}", failures.len(), failures.join("\n  "));
    }
}

const ALL: &[&str] = &["BJensen@Example.com", "ajones", "jsmith"];
const A: &str = "ajones";
const B: &str = "BJensen@Example.com";
const J: &str = "jsmith";

fn cases(list: &[(&str, &'static [&'static str])]) -> Vec<(String, &'static [&'static str])> {
    list.iter().map(|(f, e)| (f.to_string(), *e)).collect()
}

#[test]
fn every_operator_on_case_insensitive_user_name() {
    let directory = Directory::seed();
    directory.check(
        "/Users",
        &cases(&[
            (r#"userName eq "bjensen@example.com""#, &[B]),
            (r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#, &[B]),
            (r#"userName ne "JSMITH""#, &[B, A]),
            (r#"userName co "JONES""#, &[A]),
            (r#"userName sw "bj""#, &[B]),
            (r#"userName ew "@EXAMPLE.COM""#, &[B]),
            (r#"userName pr"#, ALL),
            (r#"userName gt "b""#, &[B, J]),
            (r#"userName ge "jsmith""#, &[J]),
            (r#"userName lt "B""#, &[A]),
            (r#"userName le "ajones""#, &[A]),
            (r#"userName co "%""#, &[]),
            (r#"userName sw "_""#, &[]),
        ]),
    );
}

#[test]
fn every_operator_on_case_exact_external_id_and_id() {
    let directory = Directory::seed();
    let barbara_id = id_of(&directory.barbara);
    let by_id = format!(r#"id eq "{barbara_id}""#);
    let by_upper_id = format!(r#"id eq "{}""#, barbara_id.to_uppercase());
    // Ids are UUID v7: the first 12 digits are the creation time, shared by users made together.
    let id_prefix = format!(r#"id sw "{}""#, &barbara_id[..30]);
    let mut list = cases(&[
        (r#"externalId eq "Ext-1""#, &[B]),
        (r#"externalId eq "ext-1""#, &[J]),
        (r#"externalId ne "Ext-1""#, &[A, J]),
        (r#"externalId co "xt""#, &[B, J]),
        (r#"externalId co "XT""#, &[]),
        (r#"externalId sw "E""#, &[B]),
        (r#"externalId ew "-1""#, &[B, J]),
        (r#"externalId pr"#, &[B, J]),
        (r#"externalId gt "Ext-1""#, &[J]),
        (r#"externalId lt "ext-1""#, &[B]),
        (r#"externalId ge "ext-1""#, &[J]),
        (r#"externalId le "Ext-1""#, &[B]),
    ]);
    list.push((by_id, &[B]));
    list.push((by_upper_id, &[]));
    list.push((id_prefix, &[B]));
    directory.check("/Users", &list);
}

#[test]
fn booleans_compare_with_eq_and_ne() {
    let directory = Directory::seed();
    directory.check(
        "/Users",
        &cases(&[
            ("active eq true", &[B, A]),
            ("active eq false", &[J]),
            ("active ne true", &[J]),
            ("active eq TRUE", &[B, A]),
            ("active pr", ALL),
            (r#"emails[primary eq true]"#, &[B]),
        ]),
    );
}

#[test]
fn date_times_compare_as_instants_with_values_taken_from_responses() {
    let directory = Directory::seed();
    let app = &directory.app;
    let created = |user: &Value| user["meta"]["created"].as_str().unwrap().to_string();
    let barbara_created = created(&directory.barbara);
    let shifted = chrono::DateTime::parse_from_rfc3339(&barbara_created)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let before_patch = app.get(&format!("/Users/{}", id_of(&directory.john))).json::<Value>().unwrap()["meta"]
        ["lastModified"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let patched = app.patch(
        &format!("/Users/{}", id_of(&directory.john)),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]}),
    );
    assert_eq!(patched.status(), 200);
    let list = vec![
        (format!(r#"meta.created gt "{barbara_created}""#), &[J][..]),
        (format!(r#"meta.created ge "{barbara_created}""#), &[B, J][..]),
        (format!(r#"meta.created lt "{barbara_created}""#), &[A][..]),
        (format!(r#"meta.created le "{barbara_created}""#), &[B, A][..]),
        (format!(r#"meta.created eq "{barbara_created}""#), &[B][..]),
        (format!(r#"meta.created eq "{shifted}""#), &[B][..]),
        (format!(r#"meta.lastModified gt "{before_patch}""#), &[J][..]),
        (format!(r#"meta.lastModified le "{before_patch}""#), &[B, A][..]),
        ("meta.created pr".to_string(), ALL),
        (r#"meta.resourceType eq "User""#.to_string(), ALL),
        (r#"meta.resourceType eq "Group""#.to_string(), &[][..]),
    ];
    directory.check("/Users", &list);
}

#[test]
fn not_matches_resources_that_lack_the_attribute() {
    let directory = Directory::seed();
    directory.check(
        "/Users",
        &cases(&[
            (r#"title eq "tour guide""#, &[B]),
            (r#"not (title eq "Tour Guide")"#, &[A, J]),
            (r#"title ne "Manager""#, &[B, J]),
            ("title pr", &[B, A]),
            ("not (title pr)", &[J]),
            (r#"not (externalId sw "E")"#, &[A, J]),
            (r#"not (displayName co "smith")"#, &[B, A]),
            (r#"not (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr)"#, &[A]),
        ]),
    );
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_regroup() {
    let directory = Directory::seed();
    directory.check(
        "/Users",
        &cases(&[
            (r#"userName eq "jsmith" or userName eq "ajones" and active eq false"#, &[J]),
            (r#"(userName eq "jsmith" or userName eq "ajones") and active eq true"#, &[A]),
            (r#"userName eq "ajones" and active eq false or userName eq "jsmith""#, &[J]),
            (r#"not (active eq true) or title eq "Manager""#, &[A, J]),
            (r#"not (active eq true or title eq "Manager")"#, &[J]),
            (r#"title pr and (name.familyName sw "J" and not (userName sw "a"))"#, &[B]),
            (r#"((((userName eq "ajones"))))"#, &[A]),
        ]),
    );
}

#[test]
fn value_filters_and_sub_attributes_of_multi_valued_attributes() {
    let directory = Directory::seed();
    directory.check(
        "/Users",
        &cases(&[
            (r#"emails[type eq "work" and value co "@example.com"]"#, &[B]),
            (r#"emails[type eq "home"]"#, &[B, A]),
            (r#"emails[not (type eq "work")]"#, &[B, A]),
            (r#"emails.value eq "JSMITH@example.org""#, &[J]),
            (r#"emails eq "ajones@example.com""#, &[A]),
            (r#"emails.value ew ".org""#, &[B, J]),
            (r#"emails.type eq "home""#, &[B, A]),
            ("emails pr", ALL),
            (r#"emails[type eq "work"].value eq "bjensen@example.com""#, &[B]),
            (r#"emails[type eq "work"].value eq "babs@jensen.org""#, &[]),
            (r#"emails[type eq "work" and value eq "jsmith@example.org"]"#, &[J]),
            (r#"emails[display pr]"#, &[]),
            (r#"name.familyName sw "J""#, &[B, A]),
            (r#"name.givenName eq "barbara""#, &[B]),
            ("name.givenName pr", &[B, J]),
            (r#"addresses[type eq "work" and postalCode eq "91608"]"#, &[B]),
            (r#"addresses.postalCode eq "91608""#, &[B, J]),
            (r#"addresses[locality co "WOOD"]"#, &[B]),
            (r#"displayName eq "babs jensen""#, &[B]),
        ]),
    );
}

#[test]
fn enterprise_extension_attributes_filter_with_their_urn_prefix() {
    let directory = Directory::seed();
    let manager = format!(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "{}""#,
        id_of(&directory.alice)
    );
    let mut list = cases(&[
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#, &[B]),
        (r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department sw "eng""#, &[J]),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jsmith""#, &[J]),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#, &[B]),
    ]);
    list.push((manager, &[B]));
    directory.check("/Users", &list);
}

#[test]
fn group_members_and_user_groups_are_filterable() {
    let directory = Directory::seed();
    let (barbara, john, alice) = (id_of(&directory.barbara), id_of(&directory.john), id_of(&directory.alice));
    let (guides, engineers) = (id_of(&directory.guides), id_of(&directory.engineers));
    let group_cases: Vec<(String, &[&str])> = vec![
        (format!(r#"members[value eq "{barbara}"]"#), &["Tour Guides"]),
        (format!(r#"members.value eq "{john}""#), &["Engineering"]),
        (format!(r#"members eq "{alice}""#), &["Tour Guides"]),
        (format!(r#"members[value eq "{john}" or value eq "{alice}"]"#), &["Engineering", "Tour Guides"]),
        (r#"members[type eq "User"]"#.to_string(), &["Engineering", "Tour Guides"]),
        ("members pr".to_string(), &["Engineering", "Tour Guides"]),
        ("not (members pr)".to_string(), &["Empty"]),
        (r#"displayName sw "TOUR""#.to_string(), &["Tour Guides"]),
        (r#"displayName eq "engineering""#.to_string(), &["Engineering"]),
        (r#"meta.resourceType eq "Group""#.to_string(), &["Empty", "Engineering", "Tour Guides"]),
    ];
    directory.check("/Groups", &group_cases);
    let user_cases: Vec<(String, &[&str])> = vec![
        (format!(r#"groups.value eq "{guides}""#), &[B, A]),
        (format!(r#"groups[value eq "{engineers}"]"#), &[J]),
        (format!(r#"groups eq "{engineers}""#), &[J]),
        (format!(r#"not (groups.value eq "{guides}")"#), &[J]),
        ("groups pr".to_string(), ALL),
    ];
    directory.check("/Users", &user_cases);
}

#[test]
fn zero_matches_is_an_empty_list_response() {
    let directory = Directory::seed();
    let page = directory.app.list(&format!("/Users?filter={}", urlencode(r#"userName eq "nobody""#)));
    assert_eq!(page["totalResults"], 0);
    assert_eq!(page["Resources"], json!([]));
    assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
}

#[test]
fn bad_filters_are_400_invalid_filter_naming_the_problem() {
    let directory = Directory::seed();
    let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    let long = format!(r#"userName eq "{}""#, "x".repeat(5000));
    let cases: Vec<(&str, String, &str)> = vec![
        ("/Users", r#"nickname eq "x" and nope eq "y""#.into(), "nope"),
        ("/Users", r#"name.nope eq "x""#.into(), "name.nope"),
        ("/Users", r#"urn:example:unknown:2.0:User:badge eq "x""#.into(), "badge"),
        ("/Users", "active gt true".into(), "eq or ne"),
        ("/Users", r#"active eq "yes""#.into(), "true or false"),
        ("/Users", r#"name eq "Barbara""#.into(), "complex"),
        ("/Users", r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "x""#.into(), "complex"),
        ("/Users", "userName eq 42".into(), "string"),
        ("/Users", "title eq true".into(), "string"),
        ("/Users", r#"meta.created gt "yesterday""#.into(), "dateTime"),
        ("/Users", "meta.created gt 5".into(), "dateTime"),
        ("/Users", r#"meta.created co "2026""#.into(), "strings"),
        ("/Users", r#"title[value eq "x"]"#.into(), "multi-valued"),
        ("/Users", r#"emails[type eq "work""#.into(), "]"),
        ("/Users", r#"userName eq"#.into(), "value"),
        ("/Users", r#"userName equals "x""#.into(), "operator"),
        ("/Users", r#"password eq "secret""#.into(), "password"),
        ("/Groups", r#"userName eq "x""#.into(), "userName"),
        ("/Users", deep, "nest"),
        ("/Users", long, "4096"),
    ];
    let mut failures = Vec::new();
    for (endpoint, filter, mention) in &cases {
        let response = directory.app.get(&format!("{endpoint}?filter={}", urlencode(filter)));
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        let detail = body["detail"].as_str().unwrap_or_default();
        let ok = status == 400
            && body["scimType"] == "invalidFilter"
            && detail.to_lowercase().contains(&mention.to_lowercase());
        if !ok {
            failures.push(format!("{endpoint}?filter={}: {status} {body}", &filter[..filter.len().min(80)]));
        }
    }
    assert!(failures.is_empty(), "{} bad filter(s) not rejected well:\n  {}", failures.len(), failures.join("\n  "));
    let healthy = directory.app.list("/Users");
    assert_eq!(healthy["totalResults"], 3, "the server survives every bad filter");
}

const SKILLS: &str = "urn:example:params:scim:schemas:extension:skills:2.0:User";

/// An extension with numeric and boolean attributes, registered like an operator would.
pub fn skills_extension() -> Value {
    json!({
        "resourceType": "User",
        "required": false,
        "schema": {
            "id": SKILLS,
            "name": "Skills",
            "description": "Numbers to filter and sort by.",
            "attributes": [
                {"name": "level", "type": "integer"},
                {"name": "score", "type": "decimal"},
                {"name": "remote", "type": "boolean"}
            ]
        }
    })
}

#[test]
fn numbers_compare_and_sort_as_numbers() {
    let app = crate::extensions::spawn_with_extensions(&[skills_extension()]);
    for (name, level, score, remote) in
        [("nine", 9, 2.5, true), ("ten", 10, 10.25, false), ("hundred", 100, -1.0, true)]
    {
        app.create_user_with(json!({"schemas": [USER_SCHEMA, SKILLS], "userName": name,
                                    SKILLS: {"level": level, "score": score, "remote": remote}}));
    }
    app.create_user("unskilled");
    let matching = |filter: String| -> Vec<String> {
        let page = app.list(&format!("/Users?filter={}&sortBy=userName", urlencode(&filter)));
        page["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_string()).collect()
    };
    let cases: Vec<(String, &[&str])> = vec![
        (format!("{SKILLS}:level eq 10"), &["ten"]),
        (format!("{SKILLS}:level ne 10"), &["hundred", "nine", "unskilled"]),
        (format!("{SKILLS}:level gt 9"), &["hundred", "ten"]),
        (format!("{SKILLS}:level ge 10"), &["hundred", "ten"]),
        (format!("{SKILLS}:level lt 10"), &["nine"]),
        (format!("{SKILLS}:level le 100"), &["hundred", "nine", "ten"]),
        (format!("{SKILLS}:level pr"), &["hundred", "nine", "ten"]),
        (format!("{SKILLS}:score gt 2.4"), &["nine", "ten"]),
        (format!("{SKILLS}:score lt 0"), &["hundred"]),
        (format!("{SKILLS}:score eq 10.25"), &["ten"]),
        (format!("{SKILLS}:remote eq true"), &["hundred", "nine"]),
        (format!("not ({SKILLS}:remote eq true)"), &["ten", "unskilled"]),
    ];
    let mut failures = Vec::new();
    for (filter, expected) in cases {
        let got = matching(filter.clone());
        if got != expected {
            failures.push(format!("{filter}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let by_level = |order: &str, extra: &str| -> Vec<String> {
        let page = app.list(&format!("/Users?sortBy={SKILLS}:level&sortOrder={order}{extra}"));
        page["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(by_level("ascending", ""), ["nine", "ten", "hundred", "unskilled"], "9 < 10 < 100, missing last");
    assert_eq!(by_level("descending", ""), ["unskilled", "hundred", "ten", "nine"]);
    let first = app.list(&format!("/Users?sortBy={SKILLS}:score&count=2&cursor="));
    let next = first["nextCursor"].as_str().unwrap();
    let second = app.list(&format!("/Users?sortBy={SKILLS}:score&count=2&cursor={next}"));
    let walked: Vec<&str> = first["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["Resources"].as_array().unwrap())
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(walked, ["hundred", "nine", "ten", "unskilled"], "-1 < 2.5 < 10.25 across a cursor");

    for (filter, mention) in [
        (format!("{SKILLS}:level co 1"), "strings"),
        (format!(r#"{SKILLS}:level eq "ten""#), "number"),
        (format!("{SKILLS}:remote gt false"), "eq or ne"),
    ] {
        let body =
            assert_scim_error(app.get(&format!("/Users?filter={}", urlencode(&filter))), 400, Some("invalidFilter"));
        assert!(body["detail"].as_str().unwrap().contains(mention), "{filter}: {body}");
    }
}

#[test]
fn the_derived_display_and_type_of_groups_and_members_are_filterable() {
    let directory = Directory::seed();
    let guides = id_of(&directory.guides);
    let group_cases: Vec<(String, &[&str])> = vec![
        (r#"members.display eq "babs jensen""#.to_string(), &["Tour Guides"]),
        (r#"members[display eq "ajones" and type eq "User"]"#.to_string(), &["Tour Guides"]),
        (r#"members[display sw "John"]"#.to_string(), &["Engineering"]),
        (r#"not (members.display co "o")"#.to_string(), &["Empty"]),
    ];
    directory.check("/Groups", &group_cases);
    let user_cases: Vec<(String, &[&str])> = vec![
        (r#"groups.display eq "tour guides""#.to_string(), &[B, A]),
        (format!(r#"groups[display ew "ing" or value eq "{guides}"]"#), ALL),
        (r#"groups[type eq "direct" and display sw "Eng"]"#.to_string(), &[J]),
        (r#"groups.type eq "indirect""#.to_string(), &[]),
    ];
    directory.check("/Users", &user_cases);
}
