//! The SQLite write-ahead log stays bounded: after a write, a WAL file larger than
//! `ROSTER_SQLITE_WAL_MAX_BYTES` is checkpointed into the database and truncated, so a long
//! import cannot grow it without end (it reached 10 GB in a 1,000,000-row import).

use serde_json::Value;

use crate::helpers::TestApp;

/// `rows` people with unique emails, in the default profile's columns.
fn people_csv(rows: usize) -> String {
    let mut csv = String::from("First Name,Last Name,Email,Department,Job Title\n");
    for n in 1..=rows {
        csv.push_str(&format!("Ana,García {n},ana.garcia.{n}@example.com,Sales,Account manager for the region\n"));
    }
    csv
}

#[test]
fn after_an_import_the_sqlite_wal_is_no_larger_than_its_limit() {
    const LIMIT: u64 = 64 * 1024;
    let limit = LIMIT.to_string();
    let app = TestApp::spawn_with(&[("ROSTER_SQLITE_WAL_MAX_BYTES", &limit), ("ROSTER_IMPORT_BATCH_ROWS", "50")]);
    // In the request (below the synchronous limit), without invitations: no write follows it.
    let response = app
        .client
        .post(app.url("/api/v1/imports?send_invitations=false"))
        .bearer_auth(&app.token)
        .header("Content-Type", "text/csv")
        .body(people_csv(400))
        .send()
        .expect("POST /api/v1/imports");
    assert_eq!(response.status(), 201);
    let import: Value = response.json().unwrap();
    assert_eq!((import["status"].as_str(), import["created"].as_u64()), (Some("completed"), Some(400)), "{import}");
    assert_eq!(app.list("/Users?count=0")["totalResults"], 400);
    if app.db.is_postgres() {
        return;
    }
    let wal = std::path::PathBuf::from(format!("{}-wal", app.db.url));
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // 400 users, their e-mail index rows and the import's rows are some hundred KiB of pages.
    assert!(size <= LIMIT, "the WAL is {size} bytes after the import; the limit is {LIMIT}");
}
