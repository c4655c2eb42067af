//! Sorting (RFC 7644 §3.4.2.3), index paging (§3.4.2.4) and cursor paging (RFC 9865).

use serde_json::{json, Value};

use crate::helpers::*;
use crate::users::urlencode;

fn ids(page: &Value) -> Vec<String> {
    page["Resources"].as_array().unwrap().iter().map(id_of).collect()
}

fn names(page: &Value, key: &str) -> Vec<String> {
    page["Resources"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap_or("-").to_string()).collect()
}

/// Creates users concurrently (8 at a time) and returns them in creation order.
fn create_users(app: &TestApp, bodies: Vec<Value>) -> Vec<Value> {
    let mut created = Vec::new();
    for chunk in bodies.chunks(8) {
        let made: Vec<Value> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk.iter().map(|body| scope.spawn(|| app.create_user_with(body.clone()))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        created.extend(made);
    }
    created.sort_by(|a, b| {
        a["meta"]["created"].as_str().cmp(&b["meta"]["created"].as_str()).then(id_of(a).cmp(&id_of(b)))
    });
    created
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": name})
}

/// Follows `nextCursor` from the first page; returns every page.
fn walk_forward(app: &TestApp, path_and_query: &str) -> Vec<Value> {
    let separator = if path_and_query.contains('?') { '&' } else { '?' };
    let mut pages = vec![app.list(&format!("{path_and_query}{separator}cursor="))];
    while let Some(next) = pages.last().unwrap()["nextCursor"].as_str().map(str::to_string) {
        pages.push(app.list(&format!("{path_and_query}{separator}cursor={next}")));
        assert!(pages.len() < 1000, "the walk ends");
    }
    pages
}

#[test]
fn a_cursor_walk_and_an_index_walk_cover_250_users_exactly_once_in_the_same_order() {
    let app = TestApp::spawn();
    let users = create_users(&app, (0..250).map(|i| user(&format!("user{i:03}"))).collect());
    let expected: Vec<String> = users.iter().map(id_of).collect();

    let pages = walk_forward(&app, "/Users?count=100");
    assert_eq!(pages.iter().map(|p| p["itemsPerPage"].as_u64().unwrap()).collect::<Vec<_>>(), [100, 100, 50]);
    for (number, page) in pages.iter().enumerate() {
        assert_eq!(page["totalResults"], 250, "page {number}");
        assert!(page.get("startIndex").is_none(), "cursor pages carry no startIndex");
        assert_eq!(page["previousCursor"].is_string(), number > 0, "page {number}");
        assert_eq!(page["nextCursor"].is_string(), number < 2, "page {number}");
    }
    let by_cursor: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(by_cursor, expected, "creation order, each user once");

    let by_index: Vec<String> = [1, 101, 201]
        .iter()
        .flat_map(|start| ids(&app.list(&format!("/Users?startIndex={start}&count=100"))))
        .collect();
    assert_eq!(by_index, expected);

    let back =
        |page: &Value| app.list(&format!("/Users?count=100&cursor={}", page["previousCursor"].as_str().unwrap()));
    let second_again = back(&pages[2]);
    assert_eq!(ids(&second_again), ids(&pages[1]));
    let first_again = back(&second_again);
    assert_eq!(ids(&first_again), ids(&pages[0]));
    assert!(first_again.get("previousCursor").is_none(), "the first page has no previous page");
    assert!(first_again["nextCursor"].is_string());
}

#[test]
fn previous_cursor_near_the_beginning_answers_the_first_full_page() {
    let app = TestApp::spawn();
    let users = create_users(&app, (0..10).map(|i| user(&format!("u{i}"))).collect());
    let first = app.list("/Users?cursor=&count=3");
    let second = app.list(&format!("/Users?count=3&cursor={}", first["nextCursor"].as_str().unwrap()));
    // Reading backwards from the second page with a larger page size cannot fill a page: the
    // answer is the first page of that size.
    let wider = app.list(&format!("/Users?count=5&cursor={}", second["previousCursor"].as_str().unwrap()));
    assert_eq!(ids(&wider), users[..5].iter().map(id_of).collect::<Vec<_>>());
    assert!(wider.get("previousCursor").is_none());
}

#[test]
fn a_cursor_walk_survives_writes_between_pages() {
    let app = TestApp::spawn();
    let users = create_users(&app, (0..9).map(|i| user(&format!("w{i}"))).collect());
    let first = app.list("/Users?cursor=&count=3");
    // The row the cursor points after disappears, and a user is added: the walk continues
    // right after the deleted row and sees the newcomer at the end.
    assert_eq!(app.delete(&format!("/Users/{}", id_of(&users[2]))).status(), 204);
    let late = app.create_user("w-late");
    let mut seen = ids(&first);
    let mut next = first["nextCursor"].as_str().map(str::to_string);
    while let Some(cursor) = next {
        let page = app.list(&format!("/Users?count=3&cursor={cursor}"));
        seen.extend(ids(&page));
        next = page["nextCursor"].as_str().map(str::to_string);
    }
    let mut expected: Vec<String> = users.iter().map(id_of).collect();
    expected.push(id_of(&late));
    assert_eq!(seen, expected);
}

#[test]
fn tampered_foreign_and_expired_cursors_are_refused() {
    let app = TestApp::spawn_with(&[("ROSTER_CURSOR_TIMEOUT", "1s")]);
    create_users(&app, (0..5).map(|i| user(&format!("c{i}"))).collect());
    let first = app.list("/Users?cursor=&count=2");
    let cursor = first["nextCursor"].as_str().unwrap().to_string();

    let mut tampered = cursor.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "garbage", &cursor[..cursor.len() - 3]] {
        let body = assert_scim_error(app.get(&format!("/Users?count=2&cursor={bad}")), 400, Some("invalidCursor"));
        assert!(body["detail"].as_str().unwrap().contains("cursor"));
    }
    let other_filter = format!("/Users?count=2&filter={}&cursor={cursor}", urlencode("userName pr"));
    let body = assert_scim_error(app.get(&other_filter), 400, Some("invalidCursor"));
    assert!(body["detail"].as_str().unwrap().contains("another query"), "{body}");
    assert_scim_error(app.get(&format!("/Users?count=2&sortBy=userName&cursor={cursor}")), 400, Some("invalidCursor"));
    assert_scim_error(app.get(&format!("/Groups?count=2&cursor={cursor}")), 400, Some("invalidCursor"));
    let other_tenant = app.get_as(&format!("/Users?count=2&cursor={cursor}"), &token("globex", "scim:read"));
    assert_scim_error(other_tenant, 400, Some("invalidCursor"));
    assert_scim_error(app.get(&format!("/Users?startIndex=1&cursor={cursor}")), 400, Some("invalidValue"));

    let config: Value = app.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(config["pagination"]["cursorTimeout"], 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let body = assert_scim_error(app.get(&format!("/Users?count=2&cursor={cursor}")), 400, Some("expiredCursor"));
    assert!(body["detail"].as_str().unwrap().contains("1 seconds"), "{body}");
}

#[test]
fn service_provider_config_advertises_cursor_and_index_paging() {
    let app = TestApp::spawn_with(&[("ROSTER_MAX_PAGE_SIZE", "500")]);
    let config: Value = app.get("/ServiceProviderConfig").json().unwrap();
    assert_eq!(
        config["pagination"],
        json!({
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": 100,
            "maxPageSize": 500,
            "cursorTimeout": 3600
        })
    );
    create_users(&app, (0..3).map(|i| user(&format!("p{i}"))).collect());
    let capped = app.list("/Users?cursor=&count=100000");
    assert_eq!(capped["itemsPerPage"], 3);
    let unpaged = app.list("/Users");
    assert_eq!(unpaged["startIndex"], 1, "index paging is the default");
    assert!(unpaged.get("nextCursor").is_none());
}

/// Users whose sort keys differ, tie, and are missing, to check one ordering rule at a time.
fn sortable_users(app: &TestApp) -> Vec<Value> {
    let bodies = vec![
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "carol", "displayName": "Carol", "title": "Engineer",
               "name": {"familyName": "Zimmer"}, "active": true,
               "emails": [{"value": "zz@example.com"}, {"value": "aa@example.com", "primary": true}],
               ENTERPRISE: {"department": "R&D"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "Alice", "displayName": "alice", "title": "Engineer",
               "name": {"familyName": "young"}, "active": false,
               "emails": [{"value": "MM@example.com"}]}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "bob", "title": "Engineer",
               "name": {"familyName": "Xavier"},
               ENTERPRISE: {"department": "Accounts"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "dave", "displayName": "Dave", "title": "Designer",
               "emails": [{"value": "bb@example.com", "primary": false}, {"value": "cc@example.com"}]}),
        json!({"schemas": [USER_SCHEMA], "userName": "Eve", "displayName": "eve"}),
    ];
    bodies.into_iter().map(|body| app.create_user_with(body)).collect()
}

#[test]
fn sort_by_orders_each_attribute_type_with_missing_values_last_and_ties_by_creation() {
    let app = TestApp::spawn();
    sortable_users(&app);
    let sorted = |query: &str| names(&app.list(&format!("/Users?{query}")), "userName");
    let cases: Vec<(&str, &[&str])> = vec![
        ("sortBy=userName", &["Alice", "bob", "carol", "dave", "Eve"]),
        ("sortBy=USERNAME&sortOrder=descending", &["Eve", "dave", "carol", "bob", "Alice"]),
        ("sortBy=displayName", &["Alice", "carol", "dave", "Eve", "bob"]),
        ("sortBy=displayName&sortOrder=descending", &["bob", "Eve", "dave", "carol", "Alice"]),
        ("sortBy=name.familyName", &["bob", "Alice", "carol", "dave", "Eve"]),
        ("sortBy=title", &["dave", "carol", "Alice", "bob", "Eve"]),
        ("sortBy=title&sortOrder=descending", &["Eve", "bob", "Alice", "carol", "dave"]),
        ("sortBy=emails", &["carol", "dave", "Alice", "bob", "Eve"]),
        ("sortBy=emails.value&sortOrder=descending", &["Eve", "bob", "Alice", "dave", "carol"]),
        ("sortBy=active", &["Alice", "carol", "bob", "dave", "Eve"]),
        ("sortBy=meta.created&sortOrder=descending", &["Eve", "dave", "bob", "Alice", "carol"]),
        ("sortBy=id&count=0", &[]),
        (
            "sortBy=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            &["bob", "carol", "Alice", "dave", "Eve"],
        ),
        ("sortBy=userName&startIndex=2&count=2", &["bob", "carol"]),
        ("sortBy=userName&filter=title%20pr&sortOrder=descending", &["dave", "carol", "bob", "Alice"]),
    ];
    let mut failures = Vec::new();
    for (query, expected) in cases {
        let got = sorted(query);
        if got != expected {
            failures.push(format!("{query}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let by_id = ids(&app.list("/Users?sortBy=id"));
    let mut sorted_ids = by_id.clone();
    sorted_ids.sort();
    assert_eq!(by_id, sorted_ids);
}

#[test]
fn sorting_by_last_modified_puts_the_latest_change_last() {
    let app = TestApp::spawn();
    let users = sortable_users(&app);
    let patched = app.patch(
        &format!("/Users/{}", id_of(&users[0])),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}),
    );
    assert_eq!(patched.status(), 200);
    let order = names(&app.list("/Users?sortBy=meta.lastModified"), "userName");
    assert_eq!(order, ["Alice", "bob", "dave", "Eve", "carol"]);
}

#[test]
fn cursor_pages_follow_every_sort_order_exactly_like_one_big_page() {
    let app = TestApp::spawn();
    sortable_users(&app);
    let more: Vec<Value> = (0..7)
        .map(|i| {
            let mut body = json!({"schemas": [USER_SCHEMA], "userName": format!("zed{i}"), "title": "Engineer"});
            if i % 2 == 0 {
                body["displayName"] = json!("Same");
            }
            body
        })
        .collect();
    create_users(&app, more);
    let mut failures = Vec::new();
    for sort_by in ["userName", "displayName", "title", "name.familyName", "emails", "active", "meta.created", "id"] {
        for order in ["ascending", "descending"] {
            let base = format!("/Users?sortBy={sort_by}&sortOrder={order}");
            let whole = ids(&app.list(&format!("{base}&count=1000")));
            let pages = walk_forward(&app, &format!("{base}&count=3"));
            let forward: Vec<String> = pages.iter().flat_map(ids).collect();
            let mut backward = Vec::new();
            let mut page = pages.last().unwrap().clone();
            backward.splice(0..0, ids(&page));
            while let Some(previous) = page["previousCursor"].as_str().map(str::to_string) {
                page = app.list(&format!("{base}&count=3&cursor={previous}"));
                backward.splice(0..0, ids(&page));
            }
            if forward != whole || backward != whole {
                failures.push(format!(
                    "{sort_by} {order}:\n whole    {whole:?}\n forward  {forward:?}\n backward {backward:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn groups_sort_and_page_by_cursor_too() {
    let app = TestApp::spawn();
    for name in ["Sales", "admins", "Engineering", "board"] {
        app.create_group(name, &[]);
    }
    assert_eq!(
        names(&app.list("/Groups?sortBy=displayName"), "displayName"),
        ["admins", "board", "Engineering", "Sales"]
    );
    let pages = walk_forward(&app, "/Groups?sortBy=displayName&sortOrder=descending&count=3");
    let walked: Vec<String> = pages.iter().flat_map(|p| names(p, "displayName")).collect();
    assert_eq!(walked, ["Sales", "Engineering", "board", "admins"]);
}

#[test]
fn bad_sort_parameters_are_400_invalid_value() {
    let app = TestApp::spawn();
    for query in ["sortBy=nope", "sortBy=name", "sortBy=password", "sortBy=userName&sortOrder=sideways", "sortBy=a%20b"]
    {
        let response = app.get(&format!("/Users?{query}"));
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap();
        assert_eq!(status, 400, "{query}: {body}");
        assert!(["invalidValue", "invalidFilter"].contains(&body["scimType"].as_str().unwrap()), "{query}: {body}");
    }
}
