//! CSV imports as jobs: small files in the request, large ones in the background with progress,
//! a lease so one instance runs a job, resumption after a crash without losing or repeating a
//! row, and `roster import` on the command line.

use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde_json::Value;

use crate::helpers::{run_cli, start_server, token, TestApp, TestDatabase, TestServer, ALL_SCOPES, SECRET};

const HEADER: &str = "First Name,Last Name,Email,Department";

/// `rows` people with unique emails, in the default profile's columns.
fn people_csv(rows: usize, prefix: &str) -> String {
    let mut csv = String::with_capacity(rows * 60);
    csv.push_str(HEADER);
    csv.push('\n');
    for n in 1..=rows {
        csv.push_str(&format!("Ana,García {n},{prefix}.{n}@example.com,Sales\n"));
    }
    csv
}

/// Settings that make a few hundred rows a background job of many batches, and a dead
/// worker's lease expire quickly.
pub(crate) const JOB_ENV: [(&str, &str); 5] = [
    ("ROSTER_IMPORT_SYNC_MAX_ROWS", "20"),
    ("ROSTER_IMPORT_BATCH_ROWS", "25"),
    ("ROSTER_IMPORT_LEASE", "2s"),
    ("ROSTER_IMPORT_POLL_INTERVAL", "200ms"),
    ("ROSTER_JWT_SECRET", SECRET),
];

pub(crate) fn upload(app_base: &str, token: &str, csv: &str, query: &str) -> Response {
    reqwest::blocking::Client::new()
        .post(format!("{app_base}/api/v1/imports{query}"))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .expect("POST /api/v1/imports")
}

/// The id of the import an upload created.
pub(crate) fn id_of(response: Response) -> String {
    response.json::<Value>().expect("json")["id"].as_str().expect("an import id").to_string()
}

fn import_of(base: &str, token: &str, id: &str) -> Value {
    let response = reqwest::blocking::Client::new()
        .get(format!("{base}/api/v1/imports/{id}"))
        .bearer_auth(token)
        .send()
        .expect("GET import");
    assert_eq!(response.status(), 200, "GET /api/v1/imports/{id}");
    response.json().expect("json")
}

/// Polls an import until it leaves `running`, checking on the way that its progress only grows
/// and never passes its total; returns the last view.
pub(crate) fn wait_until_done(server: &TestServer, token: &str, id: &str, limit: Duration) -> Value {
    let base = server.base.as_str();
    let deadline = Instant::now() + limit;
    let mut last_processed = 0;
    loop {
        let import = import_of(base, token, id);
        let processed = import["progress"]["processed_rows"].as_u64().expect("processed_rows");
        let total = import["progress"]["total_rows"].as_u64().expect("total_rows");
        if processed < last_processed {
            let log = std::fs::read_to_string(&server.log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().filter(|l| !l.contains("method=GET")).collect();
            panic!(
                "progress went back from {last_processed} to {processed}: {import}\nserver log (no GETs):\n{}",
                tail[tail.len().saturating_sub(30)..].join("\n")
            );
        }
        assert!(total == 0 || processed <= total, "progress beyond the total: {import}");
        last_processed = processed;
        if import["status"] != "running" {
            return import;
        }
        assert!(Instant::now() < deadline, "import {id} still running after {limit:?}: {import}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until a background import has committed at least `rows` rows and is still running.
pub(crate) fn wait_for_progress(base: &str, token: &str, id: &str, rows: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let import = import_of(base, token, id);
        assert_eq!(import["status"], "running", "the import ended before it could be interrupted: {import}");
        if import["progress"]["processed_rows"].as_u64().unwrap_or(0) >= rows {
            return import;
        }
        assert!(Instant::now() < deadline, "no progress: {import}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn user_count(app: &TestApp) -> u64 {
    app.list("/Users?count=0")["totalResults"].as_u64().expect("totalResults")
}

fn assert_counts_add_up(import: &Value) {
    let sum: u64 =
        ["created", "updated", "unchanged", "failed", "skipped"].iter().map(|k| import[k].as_u64().unwrap()).sum();
    assert_eq!(sum, import["total_rows"].as_u64().unwrap(), "counts do not add up to the rows: {import}");
}

#[test]
fn a_small_file_is_imported_in_the_request() {
    let app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(5, "small"), "");
    assert_eq!(response.status(), 201);
    let import: Value = response.json().unwrap();
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["created"], 5);
    assert_eq!(import["progress"]["processed_rows"], 5);
    assert_eq!(user_count(&app), 5);
}

#[test]
fn a_large_file_runs_as_a_background_job_whose_progress_is_reported() {
    let app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(400, "large"), "");
    assert_eq!(response.status(), 202, "a file above the threshold is accepted for the background");
    assert!(response.headers().get("location").is_some());
    let accepted: Value = response.json().unwrap();
    assert_eq!(accepted["status"], "running", "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_string();

    let done = wait_until_done(&app.server, &app.token, &id, Duration::from_secs(180));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["created"], 400);
    assert_eq!(done["progress"]["processed_rows"], 400);
    assert_eq!(done["progress"]["total_rows"], 400);
    assert_counts_add_up(&done);
    assert_eq!(user_count(&app), 400);
}

#[test]
fn a_large_preview_runs_in_the_background_and_its_commit_writes_every_row() {
    let app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(300, "preview"), "?dry_run=true");
    assert_eq!(response.status(), 202);
    let id = id_of(response);
    let previewed = wait_until_done(&app.server, &app.token, &id, Duration::from_secs(180));
    assert_eq!(previewed["status"], "previewed", "{previewed}");
    assert_eq!(previewed["created"], 300);
    assert_eq!(user_count(&app), 0, "a preview writes nothing");

    let commit = reqwest::blocking::Client::new()
        .post(app.url(&format!("/api/v1/imports/{id}/commit")))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    assert_eq!(commit.status(), 202);
    let committed = wait_until_done(&app.server, &app.token, &id, Duration::from_secs(180));
    assert_eq!(committed["status"], "completed", "the commit matches its preview: {committed}");
    assert_eq!(committed["created"], 300);
    assert_eq!(user_count(&app), 300);
}

/// Kills `server` with SIGKILL: no shutdown, no cleanup, as a crash or an OOM kill would.
fn crash(server: TestServer) {
    drop(server);
}

#[test]
fn an_import_whose_instance_is_killed_is_resumed_by_another_and_writes_every_row_once() {
    let rows = 3000;
    let mut app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(rows, "crash"), "");
    assert_eq!(response.status(), 202);
    let id = id_of(response);
    let before = wait_for_progress(&app.server.base, &app.token, &id, 100);

    let restarted = {
        let placeholder = start_server(&app.db, &JOB_ENV);
        std::mem::replace(&mut app.server, placeholder)
    };
    // Two servers ran on the database for a moment; the first is now killed mid-import, and the
    // second (already running) or a fresh one after a restart must finish the job.
    crash(restarted);
    assert_every_row_written_once(&app, &id, rows, "crash", 1500, &format!("before the crash: {before}"));
}

/// The import ends `completed` with each of the file's `rows` people created once, and the
/// person at `sample` (from `people_csv(rows, prefix)`) is one whole user.
fn assert_every_row_written_once(app: &TestApp, id: &str, rows: usize, prefix: &str, sample: usize, context: &str) {
    let done = wait_until_done(&app.server, &app.token, id, Duration::from_secs(300));
    assert_eq!(done["status"], "completed", "{context}\nafter: {done}");
    assert_eq!(done["created"], rows as u64, "every row created once: {done}");
    assert_eq!(done["failed"], 0, "{done}");
    assert_counts_add_up(&done);
    assert_eq!(user_count(app), rows as u64, "no row lost or written twice");
    let found = app.list(&format!("/Users?filter=emails.value%20eq%20%22{prefix}.{sample}%40example.com%22"));
    assert_eq!(found["totalResults"], 1, "a row from the middle of the file is one whole user: {found}");
    assert_eq!(found["Resources"][0]["name"]["familyName"], format!("García {sample}"), "{found}");
}

/// Makes the database refuse the running import's work for a moment: on PostgreSQL its
/// connections are terminated (mid-transaction, as a failover or a restarted pooler would); on
/// SQLite another writer holds the lock past the busy timeout. Repeated until the server logs
/// that a transaction was evaluated again.
fn interrupt_the_import(app: &TestApp) {
    use diesel::{Connection, RunQueryDsl};
    let retried = || app.server_log().contains("evaluating its rows again");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !retried() {
        assert!(Instant::now() < deadline, "no import transaction was interrupted:\n{}", app.server_log());
        if app.db.is_postgres() {
            let mut admin = diesel::PgConnection::establish(&app.db.url).expect("connect");
            diesel::sql_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
            )
            .execute(&mut admin)
            .expect("terminate");
            std::thread::sleep(Duration::from_millis(20));
        } else {
            // Tried without waiting: SQLite's busy handler sleeps between tries and would only
            // get the lock once the import's back-to-back transactions are over.
            let mut writer = diesel::SqliteConnection::establish(&app.db.url).expect("open");
            while diesel::sql_query("BEGIN IMMEDIATE").execute(&mut writer).is_err() {
                assert!(Instant::now() < deadline, "the import kept the write lock");
            }
            std::thread::sleep(Duration::from_millis(10_500));
            diesel::sql_query("ROLLBACK").execute(&mut writer).expect("release it");
        }
    }
}

#[test]
fn an_import_whose_transaction_fails_evaluates_its_rows_again_and_writes_each_once() {
    let rows = 3000;
    let app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(rows, "retry"), "");
    assert_eq!(response.status(), 202);
    let id = id_of(response);
    wait_for_progress(&app.server.base, &app.token, &id, 100);
    interrupt_the_import(&app);
    assert_every_row_written_once(&app, &id, rows, "retry", 2999, "after an interrupted transaction");
}

#[test]
fn a_restarted_server_resumes_the_import_a_killed_one_left_running() {
    let rows = 3000;
    let mut app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(rows, "restart"), "");
    assert_eq!(response.status(), 202);
    let id = id_of(response);
    wait_for_progress(&app.server.base, &app.token, &id, 100);
    let pid = app.server.pid();
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    app.server.wait_for_exit(Duration::from_secs(10)).expect("the server died");

    app.server = start_server(&app.db, &JOB_ENV);
    let done = wait_until_done(&app.server, &app.token, &id, Duration::from_secs(300));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["created"], rows as u64, "{done}");
    assert_counts_add_up(&done);
    assert_eq!(user_count(&app), rows as u64);
}

#[test]
fn two_instances_on_one_database_run_each_job_once() {
    let db = TestDatabase::new();
    let first = start_server(&db, &JOB_ENV);
    let second = start_server(&db, &JOB_ENV);
    let token = token("acme", ALL_SCOPES);
    let mut ids = Vec::new();
    for (n, server) in [&first, &second, &first, &second].into_iter().enumerate() {
        let response = upload(&server.base, &token, &people_csv(200, &format!("twin{n}")), "");
        assert_eq!(response.status(), 202);
        ids.push(id_of(response));
    }
    for id in &ids {
        let done = wait_until_done(&first, &token, id, Duration::from_secs(300));
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["created"], 200, "{done}");
        assert_eq!(done["failed"], 0, "a job run twice would fail its rows as conflicts: {done}");
    }
    let users: Value = reqwest::blocking::Client::new()
        .get(format!("{}/scim/v2/Users?count=0", second.base))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(users["totalResults"], 800);
}

/// A preview runs in one transaction that is rolled back; on PostgreSQL its progress is published
/// from another connection, so every instance shows it; on SQLite (one instance per file) the
/// instance running it shows it from memory. Small batches make the preview long enough.
#[test]
fn a_running_preview_shows_its_progress_on_every_instance() {
    let db = TestDatabase::new();
    let mut env = JOB_ENV.to_vec();
    env.retain(|(name, _)| *name != "ROSTER_IMPORT_BATCH_ROWS");
    env.push(("ROSTER_IMPORT_BATCH_ROWS", "5"));
    let first = start_server(&db, &env);
    let second = db.is_postgres().then(|| start_server(&db, &env));
    let servers: Vec<&TestServer> = std::iter::once(&first).chain(second.as_ref()).collect();
    let token = token("acme", ALL_SCOPES);
    let response = upload(&first.base, &token, &people_csv(20_000, "live"), "?dry_run=true");
    assert_eq!(response.status(), 202);
    let id = id_of(response);
    let mut seen = vec![None; servers.len()];
    while seen.iter().any(Option::is_none) {
        for (server, shown) in servers.iter().zip(seen.iter_mut()) {
            let import = import_of(&server.base, &token, &id);
            assert_eq!(
                import["status"], "running",
                "the preview ended before every instance showed its progress ({} showed {shown:?}): {import}",
                server.base
            );
            let processed = import["progress"]["processed_rows"].as_u64().expect("processed_rows");
            if processed > 0 && shown.is_none() {
                *shown = Some(processed);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_file(db: &TestDatabase, name: &str, text: &str) -> String {
    let path = db.dir().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn roster_import_imports_a_file_through_the_same_engine_and_prints_the_summary() {
    let app = TestApp::spawn_with(&JOB_ENV);
    let file = write_file(&app.db, "people.csv", &people_csv(60, "cli"));
    let (ok, stdout, stderr) =
        run_cli(&app.db, &["import", &file, "--tenant", "acme", "--send-invitations", "false"], &JOB_ENV);
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains(": completed"), "{stdout}");
    assert!(stdout.contains("60 total, 60 created"), "{stdout}");
    assert!(stderr.contains("progress: 60/60 rows"), "plain progress lines when not a terminal: {stderr}");
    assert_eq!(user_count(&app), 60);
    let imports = reqwest::blocking::Client::new()
        .get(app.url("/api/v1/imports"))
        .bearer_auth(&app.token)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(imports["items"][0]["created"], 60, "the CLI's import is an import like any other: {imports}");

    // The same file again: every user exists and is unchanged.
    let (ok, stdout, _) = run_cli(&app.db, &["import", &file, "--tenant", "acme"], &JOB_ENV);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("0 created, 0 updated, 60 unchanged"), "{stdout}");
}

#[test]
fn roster_import_exits_non_zero_and_lists_the_errors_when_rows_fail() {
    let db = TestDatabase::new();
    let csv = format!("{HEADER}\nAna,Good,good@example.com,Sales\nBea,Bad,not-an-email,Sales\n");
    let file = write_file(&db, "bad.csv", &csv);
    let (ok, stdout, stderr) = run_cli(&db, &["import", &file, "--tenant", "acme"], &JOB_ENV);
    assert!(!ok, "a failed row makes the exit status non-zero: {stdout}");
    assert!(stdout.contains("1 created") && stdout.contains("1 failed"), "{stdout}\n{stderr}");
    assert!(stdout.contains("error: row 3"), "the error names its row: {stdout}");

    let csv = format!("{HEADER}\nCarla,Fine,carla@example.com,Sales\nDora,Bad,not-an-email,Sales\n");
    let file = write_file(&db, "abort.csv", &csv);
    let (ok, stdout, _) = run_cli(&db, &["import", &file, "--tenant", "acme", "--on-error", "abort"], &JOB_ENV);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("0 created"), "on_error=abort writes nothing: {stdout}");
}

#[test]
fn roster_import_dry_run_writes_nothing() {
    let app = TestApp::spawn_with(&JOB_ENV);
    let file = write_file(&app.db, "people.csv", &people_csv(30, "dry"));
    let (ok, stdout, stderr) = run_cli(&app.db, &["import", &file, "--tenant", "acme", "--dry-run"], &JOB_ENV);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains(": previewed") && stdout.contains("30 created"), "{stdout}");
    assert_eq!(user_count(&app), 0);
}

#[test]
fn a_commit_after_the_tenant_changed_is_evaluated_again_and_refused_when_rows_differ() {
    let app = TestApp::spawn_with(&JOB_ENV);
    let response = upload(&app.server.base, &app.token, &people_csv(5, "moved"), "?dry_run=true");
    assert_eq!(response.status(), 201);
    let id = id_of(response);
    // Someone creates the person of row 3 by SCIM after the preview: that row would now update.
    app.create_user_with(serde_json::json!({
        "schemas": [crate::helpers::USER_SCHEMA],
        "userName": "someone.else",
        "emails": [{"value": "moved.2@example.com", "type": "work"}]
    }));
    let commit = reqwest::blocking::Client::new()
        .post(app.url(&format!("/api/v1/imports/{id}/commit")))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    let refused: Value = commit.json().unwrap();
    assert_eq!(refused["status"], "previewed", "{refused}");
    assert_eq!(refused["changes"]["rows"][0]["row"], 3, "{refused}");
    assert_eq!(user_count(&app), 1, "nothing of the file was written");
}
