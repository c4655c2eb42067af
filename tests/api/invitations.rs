//! Invitations end to end: queued through the API, delivered by the outbox worker to a real SMTP
//! server on localhost (aiosmtpd, started by each test), the link's set-password page, retries,
//! restarts, several instances on one database, the `.eml` fallback and the tenant policy.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use reqwest::blocking::Response;
use serde_json::{json, Value};

use crate::helpers::{
    assert_scim_error, id_of, start_server, token, TestApp, TestDatabase, TestServer, SECRET, USER_SCHEMA,
};

/// A local SMTP server: `python3 -m aiosmtpd` with its Maildir handler, so every message it
/// accepts becomes a file in `<dir>/maildir/new`.
struct SmtpSink {
    port: u16,
    maildir: PathBuf,
    process: Child,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        SmtpSink::start_on(free_port())
    }

    fn start_on(port: u16) -> SmtpSink {
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        let log = std::fs::File::create(dir.path().join("aiosmtpd.log")).expect("log file");
        let process = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start python3 -m aiosmtpd (python3 -m pip install aiosmtpd)");
        let mut sink = SmtpSink { port, maildir, process, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = sink.process.try_wait() {
                let log = std::fs::read_to_string(sink._dir.path().join("aiosmtpd.log")).unwrap_or_default();
                panic!("aiosmtpd exited ({status}); is it installed (python3 -m pip install aiosmtpd)?\n{log}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        sink
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, raw.
    fn messages(&self) -> Vec<String> {
        read_files(&self.maildir.join("new"), "")
    }

    /// Waits until at least `count` messages arrived.
    fn wait_for(&self, count: usize, limit: Duration) -> Vec<String> {
        wait_until(limit, || Some(self.messages()).filter(|m| m.len() >= count))
            .unwrap_or_else(|| panic!("expected {count} messages, got {}", self.messages().len()))
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// The files in `folder` (those ending in `.extension`, unless it is empty), in name order.
fn read_files(folder: &Path, extension: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| extension.is_empty() || p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

fn wait_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` escapes.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The set-password link in a raw message.
fn link_in(message: &str) -> String {
    let decoded = decode_quoted_printable(message);
    let start = decoded.find("/onboarding/set-password?token=").expect("a link");
    let begin = decoded[..start].rfind("http").expect("link start");
    let end =
        decoded[start..].find(|c: char| c.is_whitespace() || c == '"' || c == '<').map_or(decoded.len(), |e| start + e);
    decoded[begin..end].to_string()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("token").to_string()
}

fn recipient_of(message: &str) -> String {
    message.lines().find_map(|line| line.strip_prefix("To: ")).map(|to| to.trim().to_string()).expect("To header")
}

fn fast_outbox(smtp: Option<&str>) -> Vec<(&str, &str)> {
    let mut env = vec![
        ("ROSTER_OUTBOX_POLL_INTERVAL", "100ms"),
        ("ROSTER_OUTBOX_RETRY_DELAY", "200ms"),
        ("ROSTER_OUTBOX_LEASE", "3s"),
    ];
    if let Some(url) = smtp {
        env.push(("ROSTER_SMTP_URL", url));
    }
    env
}

fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Option<&Value>, token: &str) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(body.to_string());
    }
    request.send().expect("request")
}

fn invite(app: &TestApp, body: Value) -> Value {
    let response = api(app, reqwest::Method::POST, "/api/v1/invitations", Some(&body), &app.token);
    assert_eq!(response.status(), 200, "POST /api/v1/invitations {body}");
    response.json().expect("json")
}

fn create_person(app: &TestApp, user_name: &str, extra: Value) -> String {
    let mut body = json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "displayName": format!("{user_name} Example"),
        "emails": [{"value": format!("{user_name}@example.com"), "primary": true}],
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    id_of(&app.create_user_with(body))
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn submit_password(app: &TestApp, token: &str, password: &str, confirmation: &str) -> (u16, String) {
    let response = app
        .client
        .post(app.url("/onboarding/set-password"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(&[("token", token), ("password", password), ("confirmation", confirmation)]))
        .send()
        .expect("POST form");
    let status = response.status().as_u16();
    (status, response.text().expect("page"))
}

fn open_page(app: &TestApp, url: &str) -> (u16, String) {
    let response = app.client.get(url).send().expect("GET page");
    let status = response.status().as_u16();
    (status, response.text().expect("page"))
}

#[derive(QueryableByName, Debug)]
struct OutboxRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    body_text: Option<String>,
    /// The token (`redact`) and the link that holds it, both cleared once the message is settled.
    #[diesel(sql_type = Nullable<Text>)]
    secret: Option<String>,
}

#[derive(QueryableByName)]
struct HashRow {
    #[diesel(sql_type = Nullable<Text>)]
    password_hash: Option<String>,
}

fn query<R>(db: &TestDatabase, sql: &str) -> Vec<R>
where
    R: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    if db.is_postgres() {
        let mut conn = diesel::PgConnection::establish(&db.url).expect("connect");
        diesel::sql_query(sql).load(&mut conn).expect("query")
    } else {
        let mut conn = diesel::SqliteConnection::establish(&db.url).expect("connect");
        diesel::sql_query(sql).load(&mut conn).expect("query")
    }
}

fn outbox(db: &TestDatabase) -> Vec<OutboxRow> {
    query(
        db,
        "SELECT status, attempts, last_error, body_text, COALESCE(redact, link) AS secret FROM outbox \
         ORDER BY created_at, id",
    )
}

fn password_hash(db: &TestDatabase, user_id: &str) -> Option<String> {
    let rows: Vec<HashRow> = query(db, &format!("SELECT password_hash FROM scim_users WHERE id = '{user_id}'"));
    rows.into_iter().next().and_then(|r| r.password_hash)
}

/// Messages the file transport wrote to `folder`.
fn eml_files(folder: &Path, count: usize) -> Vec<String> {
    wait_until(Duration::from_secs(15), || Some(read_files(folder, "eml")).filter(|m| m.len() >= count))
        .unwrap_or_else(|| panic!("expected {count} .eml files in {}", folder.display()))
}

#[test]
fn an_invitation_arrives_once_over_smtp_and_its_link_sets_the_password() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let app = TestApp::spawn_with(&fast_outbox(Some(&url)));
    let user_id = create_person(&app, "ana", json!({}));

    let response = invite(&app, json!({"user_ids": [user_id]}));
    assert_eq!(response["queued"], 1, "{response}");
    assert_eq!(response["results"][0]["status"], "queued", "{response}");
    assert_eq!(response["results"][0]["recipient"], "ana@example.com", "{response}");

    let messages = sink.wait_for(1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1, "exactly one message");
    let message = &messages[0];
    assert_eq!(recipient_of(message), "ana@example.com");
    assert!(message.contains("Subject: Your account is ready"), "{message}");
    let link = link_in(message);
    assert!(link.starts_with(&format!("{}/onboarding/set-password?token=", app.server.base)), "{link}");

    let page = app.client.get(&link).send().expect("GET page");
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().unwrap();
    assert!(
        html.contains("ana") && html.contains("name=\"password\"") && html.contains("name=\"confirmation\""),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"), "self-contained: {html}");

    let token = token_of(&link);
    let (status, html) = submit_password(&app, &token, "correct horse battery", "correct horse battery");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Your password is set"), "{html}");
    let hash = password_hash(&app.db, &user_id).expect("a password hash is stored");
    assert!(hash.starts_with("$argon2"), "{hash}");
    assert!(roster::provision::verify_password("correct horse battery", &hash));

    let (again, html) = submit_password(&app, &token, "another password", "another password");
    assert_eq!(again, 410, "a link works once: {html}");
    assert!(html.contains("already used"), "{html}");
    assert_eq!(open_page(&app, &link).0, 410);
    assert!(roster::provision::verify_password("correct horse battery", &password_hash(&app.db, &user_id).unwrap()));

    let stored = outbox(&app.db);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, "sent");
    assert!(!stored[0].body_text.as_deref().unwrap_or_default().contains(&token), "no body holds the token");
    assert_eq!(stored[0].secret, None, "the token is scrubbed from the sent message");
}

#[test]
fn a_short_or_mismatched_password_shows_the_form_again_with_the_reason() {
    let app = TestApp::spawn_with(&fast_outbox(None));
    let user_id = create_person(&app, "bo", json!({}));
    invite(&app, json!({"user_ids": [user_id]}));
    let link = link_in(&eml_files(&app.db.dir().join("outbox"), 1)[0]);
    let token = token_of(&link);

    let (status, html) = submit_password(&app, &token, "short", "short");
    assert_eq!(status, 400);
    assert!(html.contains("at least 8 characters") && html.contains("name=\"password\""), "{html}");
    let (status, html) = submit_password(&app, &token, "long enough 1", "long enough 2");
    assert_eq!(status, 400);
    assert!(html.contains("do not match") && html.contains("name=\"password\""), "{html}");
    assert_eq!(password_hash(&app.db, &user_id), None, "nothing was stored");

    let (status, html) = submit_password(&app, &token, "long enough 1", "long enough 1");
    assert_eq!(status, 200, "the link still works after a refused password: {html}");
}

#[test]
fn an_expired_link_is_refused() {
    let mut env = fast_outbox(None);
    env.push(("ROSTER_INVITATION_TTL", "1s"));
    let app = TestApp::spawn_with(&env);
    let user_id = create_person(&app, "cy", json!({}));
    invite(&app, json!({"user_ids": [user_id]}));
    let link = link_in(&eml_files(&app.db.dir().join("outbox"), 1)[0]);
    std::thread::sleep(Duration::from_millis(1300));

    let (status, html) = open_page(&app, &link);
    assert_eq!(status, 410);
    assert!(html.contains("expired"), "{html}");
    let (status, _) = submit_password(&app, &token_of(&link), "long enough 1", "long enough 1");
    assert_eq!(status, 410);
    assert_eq!(password_hash(&app.db, &user_id), None);
}

#[test]
fn unknown_missing_or_malformed_tokens_are_refused() {
    let app = TestApp::spawn();
    for path in [
        "/onboarding/set-password",
        "/onboarding/set-password?token=",
        "/onboarding/set-password?token=abc",
        "/onboarding/set-password?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, html) = open_page(&app, &app.url(path));
        assert_eq!(status, 400, "{path}");
        assert!(html.contains("not valid"), "{path}: {html}");
    }
    let (status, _) =
        submit_password(&app, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "long enough", "long enough");
    assert_eq!(status, 400);
    let incomplete = app
        .client
        .post(app.url("/onboarding/set-password"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("token=abc")
        .send()
        .unwrap();
    assert_eq!(incomplete.status(), 400);
}

#[test]
fn a_resend_replaces_the_earlier_link() {
    let app = TestApp::spawn_with(&fast_outbox(None));
    let user_id = create_person(&app, "dee", json!({}));
    let folder = app.db.dir().join("outbox");
    invite(&app, json!({"user_ids": [user_id]}));
    let first = link_in(&eml_files(&folder, 1)[0]);
    let response = invite(&app, json!({"user_ids": [user_id]}));
    assert_eq!(response["results"][0]["status"], "queued", "a resend queues a fresh invitation: {response}");
    let links: Vec<String> = eml_files(&folder, 2).iter().map(|m| link_in(m)).collect();
    let second = links.into_iter().find(|l| *l != first).expect("a new link");

    let (status, html) = open_page(&app, &first);
    assert_eq!(status, 410);
    assert!(html.contains("replaced"), "{html}");
    assert_eq!(open_page(&app, &second).0, 200);
}

#[test]
fn one_invitation_per_user_however_often_named() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let app = TestApp::spawn_with(&fast_outbox(Some(&url)));
    let user_id = create_person(&app, "eve", json!({}));

    let response = invite(&app, json!({"user_ids": [user_id, user_id, user_id], "resend": false}));
    assert_eq!(response["results"].as_array().unwrap().len(), 1, "{response}");
    assert_eq!(response["queued"], 1);
    let again = invite(&app, json!({"user_ids": [user_id], "resend": false}));
    assert_eq!(again["results"][0]["status"], "already_pending", "{again}");
    assert_eq!(again["results"][0]["invitation_id"], response["results"][0]["invitation_id"]);
    assert_eq!(again["queued"], 0);

    sink.wait_for(1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(sink.messages().len(), 1, "one message for one user");
    assert_eq!(outbox(&app.db).len(), 1);
}

#[test]
fn delivery_retries_with_backoff_until_the_smtp_server_comes_up() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&fast_outbox(Some(&url)));
    let user_id = create_person(&app, "fay", json!({}));
    invite(&app, json!({"user_ids": [user_id]}));

    let failing = wait_until(Duration::from_secs(15), || {
        outbox(&app.db).into_iter().next().filter(|row| row.attempts >= 2 && row.status == "pending")
    })
    .expect("attempts while the SMTP server is down");
    assert!(failing.last_error.is_some(), "{failing:?}");
    assert!(app.server_log().contains("will retry"), "{}", app.server_log());

    let sink = SmtpSink::start_on(port);
    let messages = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(recipient_of(&messages[0]), "fay@example.com");
    let sent = wait_until(Duration::from_secs(5), || outbox(&app.db).into_iter().next().filter(|r| r.status == "sent"))
        .expect("marked sent");
    assert!(sent.attempts >= 3, "{sent:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1, "sent once");
}

#[test]
fn an_invitation_is_rendered_when_sent_greeting_a_renamed_user_and_none_goes_to_a_deleted_one() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&fast_outbox(Some(&url)));
    let renamed = create_person(&app, "ivy", json!({}));
    let deleted = create_person(&app, "jon", json!({}));
    invite(&app, json!({"user_ids": [renamed, deleted]}));
    wait_until(Duration::from_secs(15), || {
        let rows = outbox(&app.db);
        (rows.len() == 2 && rows.iter().all(|r| r.attempts >= 1 && r.status == "pending")).then_some(())
    })
    .expect("both messages tried while the SMTP server is down");
    assert!(outbox(&app.db).iter().all(|r| r.body_text.is_none()), "queued without a rendered body");

    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "path": "userName", "value": "ivy.new"},
        {"op": "replace", "path": "displayName", "value": "Ivy Renamed"},
    ]});
    assert_eq!(app.patch(&format!("/Users/{renamed}"), &rename).status(), 200);
    assert_eq!(app.delete(&format!("/Users/{deleted}")).status(), 204);
    assert_eq!(outbox(&app.db).len(), 1, "the deleted user's invitation and message went with the user");
    let invitations =
        |user: &str| app.db.count(&format!("SELECT COUNT(*) AS n FROM invitations WHERE user_id = '{user}'"));
    assert_eq!((invitations(&deleted), invitations(&renamed)), (0, 1));

    let sink = SmtpSink::start_on(port);
    let message = decode_quoted_printable(&sink.wait_for(1, Duration::from_secs(30))[0]);
    assert_eq!(recipient_of(&message), "ivy@example.com", "sent where it was addressed when queued");
    assert!(message.contains("Hello Ivy Renamed,") && message.contains("(user name: ivy.new)"), "{message}");
    wait_until(Duration::from_secs(5), || outbox(&app.db).into_iter().next().filter(|r| r.status == "sent"))
        .expect("marked sent");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1, "nothing for the deleted user");
}

/// Accepts SMTP connections and never answers, so a send hangs until the client gives up.
fn silent_smtp_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    port
}

#[test]
fn a_restart_mid_queue_loses_nothing() {
    let db = TestDatabase::new();
    let silent = format!("smtp://127.0.0.1:{}", silent_smtp_server());
    let first_env = [
        ("ROSTER_JWT_SECRET", SECRET),
        ("ROSTER_SMTP_URL", silent.as_str()),
        ("ROSTER_OUTBOX_POLL_INTERVAL", "100ms"),
        ("ROSTER_OUTBOX_RETRY_DELAY", "1h"),
        ("ROSTER_OUTBOX_LEASE", "6s"),
    ];
    let first = start_server(&db, &first_env);
    let app = TestApp::attach(db, first);
    let users: Vec<String> = (0..5).map(|i| create_person(&app, &format!("restart{i}"), json!({}))).collect();
    invite(&app, json!({"user_ids": users}));
    wait_until(Duration::from_secs(10), || {
        let rows = outbox(&app.db);
        (rows.len() == 5 && rows.iter().all(|r| r.attempts >= 1)).then_some(())
    })
    .expect("the first instance claimed every message");
    let (db, first) = app.detach();
    drop(first);

    let sink = SmtpSink::start();
    let url = sink.url();
    let mut second_env = vec![("ROSTER_JWT_SECRET", SECRET)];
    second_env.extend(fast_outbox(Some(&url)));
    let _second = start_server(&db, &second_env);
    let messages = sink.wait_for(5, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(800));
    let recipients: BTreeSet<String> = messages.iter().map(|m| recipient_of(m)).collect();
    assert_eq!(recipients.len(), 5, "{recipients:?}");
    assert_eq!(sink.messages().len(), 5, "each message once");
    assert!(outbox(&db).iter().all(|r| r.status == "sent"));
}

#[test]
fn without_smtp_messages_are_written_as_eml_files() {
    let app = TestApp::spawn_with(&fast_outbox(None));
    assert!(app.server.stdout.iter().any(|l| l.contains("writing .eml files")), "{:?}", app.server.stdout);
    let user_id = create_person(&app, "gus", json!({}));
    invite(&app, json!({"user_ids": [user_id]}));
    let files = eml_files(&app.db.dir().join("outbox"), 1);
    assert_eq!(recipient_of(&files[0]), "gus@example.com");
    assert!(files[0].contains("Subject: Your account is ready"), "{}", files[0]);
    let link = link_in(&files[0]);
    assert_eq!(open_page(&app, &link).0, 200);

    let chosen = tempfile::tempdir().unwrap();
    let folder = chosen.path().join("mail");
    let mut env = fast_outbox(None);
    let folder_text = folder.to_string_lossy().into_owned();
    env.push(("ROSTER_MAIL_DIR", folder_text.as_str()));
    let other = TestApp::spawn_with(&env);
    let user_id = create_person(&other, "hal", json!({}));
    invite(&other, json!({"user_ids": [user_id]}));
    assert_eq!(recipient_of(&eml_files(&folder, 1)[0]), "hal@example.com");
}

#[test]
fn two_instances_on_one_database_send_each_message_once() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let db = TestDatabase::new();
    let mut env = vec![("ROSTER_JWT_SECRET", SECRET)];
    env.extend(fast_outbox(Some(&url)));
    env.push(("ROSTER_OUTBOX_POLL_INTERVAL", "30ms"));
    let first = start_server(&db, &env);
    let second = start_server(&db, &env);
    let app = TestApp::attach(db, first);
    let users: Vec<String> = (0..50).map(|i| create_person(&app, &format!("pair{i:02}"), json!({}))).collect();

    let bases = [app.server.base.clone(), second.base.clone()];
    let handles: Vec<_> = users
        .chunks(25)
        .zip(bases)
        .map(|(chunk, base)| {
            let body = json!({"user_ids": chunk});
            let token = app.token.clone();
            std::thread::spawn(move || {
                let response = reqwest::blocking::Client::new()
                    .post(format!("{base}/api/v1/invitations"))
                    .bearer_auth(token)
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .expect("POST");
                assert_eq!(response.status(), 200);
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("request thread");
    }

    let messages = sink.wait_for(50, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.messages().len(), 50, "each of the 50 messages exactly once");
    let recipients: BTreeSet<String> = messages.iter().map(|m| recipient_of(m)).collect();
    assert_eq!(recipients.len(), 50);
    assert!(outbox(&app.db).iter().all(|r| r.status == "sent"));
    let senders: Vec<SenderRow> = query(&app.db, "SELECT locked_by FROM outbox");
    let instances: BTreeMap<String, usize> = senders.iter().fold(BTreeMap::new(), |mut counts, row| {
        let instance = row.locked_by.as_deref().and_then(|claim| claim.split(':').next()).unwrap_or("?");
        *counts.entry(instance.to_string()).or_default() += 1;
        counts
    });
    assert_eq!(instances.len(), 2, "both instances took part: {instances:?}");
}

#[derive(QueryableByName)]
struct SenderRow {
    #[diesel(sql_type = Nullable<Text>)]
    locked_by: Option<String>,
}

fn policy_request(app: &TestApp, method: reqwest::Method, body: Option<Value>, token: &str) -> Response {
    api(app, method, "/api/v1/tenant/invitation-policy", body.as_ref(), token)
}

#[test]
fn the_invitation_policy_is_kept_per_tenant() {
    let app = TestApp::spawn();
    let current = |token: &str| -> Value {
        let response = policy_request(&app, reqwest::Method::GET, None, token);
        assert_eq!(response.status(), 200);
        response.json().unwrap()
    };
    assert_eq!(current(&app.token), json!({"policy": "active_only"}), "the default");
    for policy in ["never", "always", "admins_only", "active_only", "never"] {
        let response = policy_request(&app, reqwest::Method::PUT, Some(json!({"policy": policy})), &app.token);
        assert_eq!(response.status(), 200, "{policy}");
        assert_eq!(current(&app.token), json!({"policy": policy}));
    }
    let other_tenant = token("globex", "admin");
    assert_eq!(current(&other_tenant), json!({"policy": "active_only"}), "another tenant keeps the default");

    let short = policy_request(&app, reqwest::Method::PUT, Some(json!({"policy": "admins"})), &app.token);
    assert_eq!(short.json::<Value>().unwrap(), json!({"policy": "admins_only"}));
    let unknown = policy_request(&app, reqwest::Method::PUT, Some(json!({"policy": "sometimes"})), &app.token);
    assert_scim_error(unknown, 400, Some("invalidValue"));
    let not_admin = policy_request(&app, reqwest::Method::GET, None, &token("acme", "scim:read scim:write import"));
    assert_scim_error(not_admin, 403, None);
}

#[test]
fn applying_the_policy_invites_exactly_the_users_it_covers() {
    let app = TestApp::spawn();
    let admin_role = json!({"roles": [{"value": "Admin"}]});
    let active_admin = create_person(&app, "ada", admin_role.clone());
    let mut inactive = admin_role.clone();
    inactive["active"] = json!(false);
    let inactive_admin = create_person(&app, "ian", inactive);
    let active_user = create_person(&app, "uma", json!({"roles": [{"value": "user"}]}));
    let inactive_user = create_person(&app, "ivy", json!({"active": false}));
    let everyone = [&active_admin, &inactive_admin, &active_user, &inactive_user];

    let cases = [
        ("never", [false, false, false, false]),
        ("always", [true, true, true, true]),
        ("admins_only", [true, false, false, false]),
        ("active_only", [true, false, true, false]),
    ];
    for (policy, expected) in cases {
        let set = policy_request(&app, reqwest::Method::PUT, Some(json!({"policy": policy})), &app.token);
        assert_eq!(set.status(), 200);
        let response = invite(&app, json!({"user_ids": everyone, "apply_policy": true}));
        let statuses: BTreeMap<String, String> = response["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["user_id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
            .collect();
        for (user, invited) in everyone.iter().zip(expected) {
            let want = if invited { "queued" } else { "skipped" };
            assert_eq!(statuses[user.as_str()], want, "{policy}: {response}");
        }
    }
}

#[test]
fn each_user_gets_an_outcome_and_a_filter_selects_users() {
    let app = TestApp::spawn();
    let with_email = create_person(&app, "team-joy", json!({}));
    let also = create_person(&app, "team-kim", json!({}));
    let without_email = id_of(&app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "team-noemail"})));

    let response = invite(&app, json!({"user_ids": [with_email, without_email, "no-such-user"]}));
    let results = response["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "queued", "{response}");
    assert_eq!((results[1]["status"].as_str(), results[1]["code"].as_str()), (Some("error"), Some("no_email")));
    assert!(results[1]["detail"].as_str().unwrap().contains("team-noemail"), "{response}");
    assert_eq!((results[2]["status"].as_str(), results[2]["code"].as_str()), (Some("error"), Some("not_found")));
    assert_eq!((response["queued"].as_u64(), response["failed"].as_u64()), (Some(1), Some(2)));

    let by_filter = invite(&app, json!({"filter": "userName sw \"team-\" and emails pr", "resend": false}));
    let ids: BTreeMap<String, String> = by_filter["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["user_id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(ids, BTreeMap::from([(with_email, "already_pending".to_string()), (also, "queued".to_string())]));

    let post = |body: Value| api(&app, reqwest::Method::POST, "/api/v1/invitations", Some(&body), &app.token);
    assert_scim_error(post(json!({"filter": "userName zz \"x\""})), 400, Some("invalidFilter"));
    assert_scim_error(post(json!({})), 400, Some("invalidValue"));
    assert_scim_error(post(json!({"user_ids": []})), 400, Some("invalidValue"));
    assert_scim_error(post(json!({"user_ids": ["a"], "surprise": 1})), 400, Some("invalidValue"));
}

#[test]
fn inviting_needs_the_import_or_admin_scope() {
    let app = TestApp::spawn();
    let user_id = create_person(&app, "lee", json!({}));
    let body = json!({"user_ids": [user_id]});
    let as_token =
        |scopes: &str| api(&app, reqwest::Method::POST, "/api/v1/invitations", Some(&body), &token("acme", scopes));
    assert_scim_error(as_token("scim:read scim:write"), 403, None);
    assert_eq!(as_token("import").status(), 200);
    assert_eq!(as_token("admin").status(), 200);
    let anonymous = app.client.post(app.url("/api/v1/invitations")).json(&body).send().unwrap();
    assert_eq!(anonymous.status(), 401);
}

impl TestApp {
    /// A fixture around an already started server (to run several servers on one database).
    fn attach(db: TestDatabase, server: TestServer) -> TestApp {
        TestApp {
            db,
            server,
            client: reqwest::blocking::Client::new(),
            token: token("acme", crate::helpers::ALL_SCOPES),
        }
    }

    fn detach(self) -> (TestDatabase, TestServer) {
        (self.db, self.server)
    }
}
