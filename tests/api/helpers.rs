//! Test harness: each test gets a fresh database and a real `roster serve` process on a free
//! port, and speaks HTTP to it. The backend is SQLite in a temp dir, or PostgreSQL (a fresh
//! database per test) when `ROSTER_TEST_DATABASE_URL` is set.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

pub const SECRET: &str = "integration-test-secret-0123456789";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const ALL_SCOPES: &str = "scim:read scim:write import admin";

/// The PostgreSQL server URL under test, if any (a database per test is created on it).
pub fn postgres_url() -> Option<String> {
    std::env::var("ROSTER_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// A fresh, empty database, dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn new() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match postgres_url() {
            Some(server) => {
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&server).expect("connect to ROSTER_TEST_DATABASE_URL");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                let url = match server.rsplit_once('/') {
                    Some((prefix, _)) => format!("{prefix}/{name}"),
                    None => panic!("ROSTER_TEST_DATABASE_URL must end with /database"),
                };
                TestDatabase { url, _dir: dir, postgres: Some((server, name)) }
            }
            None => {
                let url = dir.path().join("roster.db").to_string_lossy().into_owned();
                TestDatabase { url, _dir: dir, postgres: None }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub fn dir(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }

    /// The number a `SELECT COUNT(*) AS n ...` query returns, read straight from the database.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let query = diesel::sql_query(sql);
        let rows: Vec<Count> = if self.is_postgres() {
            query.load(&mut diesel::PgConnection::establish(&self.url).expect("connect")).expect("count")
        } else {
            query.load(&mut diesel::SqliteConnection::establish(&self.url).expect("connect")).expect("count")
        };
        rows[0].n
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres {
            if let Ok(mut admin) = diesel::PgConnection::establish(server) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A running server process.
pub struct TestServer {
    pub base: String,
    pub stdout: Vec<String>,
    pub log_path: PathBuf,
    process: Child,
}

impl TestServer {
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Waits for the process to exit by itself.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.process.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub fn roster_binary() -> &'static str {
    env!("CARGO_BIN_EXE_roster")
}

/// Starts `roster serve` on the given database with extra environment variables.
pub fn start_server(db: &TestDatabase, env: &[(&str, &str)]) -> TestServer {
    let log_path = db.dir().join(format!("server-{}.log", uuid::Uuid::new_v4().simple()));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut command = Command::new(roster_binary());
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROSTER_BIND", "127.0.0.1:0")
        .env("ROSTER_DATABASE_URL", &db.url)
        .env("ROSTER_WORKERS", "2")
        .env("ROSTER_DB_POOL_SIZE", "4")
        .current_dir(db.dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    for (key, value) in env {
        command.env(key, value);
    }
    let mut process = command.spawn().expect("start roster serve");
    let stdout = process.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut base = None;
    while base.is_none() {
        match lines_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    base = Some(rest.trim().trim_end_matches("/scim/v2").to_string());
                }
                lines.push(line);
            }
            Err(_) => {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("server did not start; stdout: {lines:?}\nlog:\n{log}");
            }
        }
    }
    // Collect the rest of the banner (it is printed before the server accepts requests).
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(300)) {
        lines.push(line);
    }
    let base = base.expect("base url");
    let server = TestServer { base, stdout: lines, log_path, process };
    wait_ready(&server.base);
    server
}

fn wait_ready(base: &str) {
    let client = Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().is_ok_and(|r| r.status().is_success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server at {base} never became healthy");
}

/// Runs the `roster` CLI against a database; returns (status, stdout, stderr).
pub fn run_cli(db: &TestDatabase, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(roster_binary());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROSTER_DATABASE_URL", &db.url)
        .current_dir(db.dir());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run roster");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The usual fixture: a fresh database, a server signing with [`SECRET`], and a client.
pub struct TestApp {
    pub db: TestDatabase,
    pub server: TestServer,
    pub client: Client,
    /// A token for tenant "acme" with every scope.
    pub token: String,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(&[])
    }

    pub fn spawn_with(env: &[(&str, &str)]) -> TestApp {
        let db = TestDatabase::new();
        let mut all_env = vec![("ROSTER_JWT_SECRET", SECRET)];
        all_env.extend_from_slice(env);
        let server = start_server(&db, &all_env);
        TestApp { db, server, client: Client::new(), token: token("acme", ALL_SCOPES) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base, path)
    }

    pub fn scim(&self, path: &str) -> String {
        format!("{}/scim/v2{}", self.server.base, path)
    }

    fn authed(&self, builder: RequestBuilder, token: &str) -> RequestBuilder {
        builder.bearer_auth(token)
    }

    pub fn get_as(&self, path: &str, token: &str) -> Response {
        self.authed(self.client.get(self.scim(path)), token).send().expect("GET")
    }

    pub fn get(&self, path: &str) -> Response {
        self.get_as(path, &self.token)
    }

    pub fn send_json_as(&self, method: reqwest::Method, path: &str, body: &Value, token: &str) -> Response {
        self.authed(self.client.request(method, self.scim(path)), token)
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
            .send()
            .expect("request")
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send_json_as(reqwest::Method::POST, path, body, &self.token)
    }

    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.send_json_as(reqwest::Method::PUT, path, body, &self.token)
    }

    pub fn patch(&self, path: &str, body: &Value) -> Response {
        self.send_json_as(reqwest::Method::PATCH, path, body, &self.token)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.authed(self.client.delete(self.scim(path)), &self.token).send().expect("DELETE")
    }

    /// Creates a user and returns its JSON (asserting 201).
    pub fn create_user(&self, user_name: &str) -> Value {
        self.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": user_name}))
    }

    pub fn create_user_with(&self, body: Value) -> Value {
        let response = self.post("/Users", &body);
        assert_eq!(response.status(), 201, "create user {body}");
        response.json().expect("json")
    }

    pub fn create_group(&self, name: &str, member_ids: &[&str]) -> Value {
        let members: Vec<Value> = member_ids.iter().map(|id| json!({"value": id})).collect();
        let response =
            self.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}));
        assert_eq!(response.status(), 201, "create group {name}");
        response.json().expect("json")
    }

    /// Lists with a query string and returns the ListResponse JSON (asserting 200).
    pub fn list(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query);
        assert_eq!(response.status(), 200, "GET {path_and_query}");
        response.json().expect("json")
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.server.log_path).unwrap_or_default()
    }
}

/// Signs an HS256 token with the test secret.
pub fn token(tenant: &str, scope: &str) -> String {
    token_with(
        json!({"sub": "test", "tenant": tenant, "scope": scope, "exp": now() + 3600, "jti": uuid::Uuid::new_v4().to_string()}),
    )
}

pub fn token_with(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Asserts a SCIM error response: status, scimType (if given) and the error schema.
pub fn assert_scim_error(response: Response, status: u16, scim_type: Option<&str>) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(content_type.as_deref(), Some("application/scim+json"), "content type");
    let body: Value = response.json().expect("error body is JSON");
    assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{body}");
    assert_eq!(body["status"], json!(status.to_string()), "{body}");
    assert_eq!(body.get("scimType").and_then(Value::as_str), scim_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
}

/// A PatchOp request body (RFC 7644 §3.5.2) carrying `operations`.
pub fn patch_op(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

impl TestApp {
    /// Sends `body` verbatim with the given `Content-Type`, as an identity provider would.
    pub fn send_raw(&self, method: reqwest::Method, path: &str, content_type: &str, body: &str) -> Response {
        self.authed(self.client.request(method, self.scim(path)), &self.token)
            .header("Content-Type", content_type)
            .body(body.to_string())
            .send()
            .expect("request")
    }

    /// The ids of a group's members, sorted.
    pub fn member_ids(&self, group_id: &str) -> Vec<String> {
        let group = self.get(&format!("/Groups/{group_id}?attributes=members"));
        assert_eq!(group.status(), 200, "GET group {group_id}");
        let group: Value = group.json().expect("json");
        let mut ids: Vec<String> = group["members"]
            .as_array()
            .map(|members| members.iter().map(|m| m["value"].as_str().expect("member value").to_string()).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }
}
