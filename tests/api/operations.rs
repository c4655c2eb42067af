//! Running Roster: first start, restarts, several instances, CLI tokens, probes, logs, docs.

use serde_json::{json, Value};

use crate::helpers::*;

#[test]
fn the_suite_runs_on_the_backend_ci_expects() {
    let db = TestDatabase::new();
    if let Ok(expected) = std::env::var("ROSTER_TEST_EXPECT_BACKEND") {
        assert_eq!(expected == "postgres", db.is_postgres(), "ROSTER_TEST_EXPECT_BACKEND={expected}");
    }
    let server = start_server(&db, &[("ROSTER_JWT_SECRET", SECRET)]);
    let scheme = if db.is_postgres() { "postgres" } else { "sqlite" };
    assert!(server.stdout.iter().any(|l| l.contains(&format!("database: {scheme}://"))), "{:?}", server.stdout);
    println!("backend under test: {scheme}");
}

#[test]
fn health_and_readiness_need_no_token() {
    let app = TestApp::spawn();
    assert_eq!(app.client.get(app.url("/healthz")).send().unwrap().status(), 200);
    let ready: Value = app.client.get(app.url("/readyz")).send().unwrap().json().unwrap();
    assert_eq!(ready["status"], "ready");
}

#[test]
fn first_start_prints_a_token_and_a_curl_line_that_creates_a_user() {
    let db = TestDatabase::new();
    let server = start_server(&db, &[]);
    let output = server.stdout.join("\n");
    let token = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("export ROSTER_TOKEN="))
        .unwrap_or_else(|| panic!("no token printed: {output}"))
        .to_string();
    let curl = output.lines().map(str::trim).find(|l| l.starts_with("curl ")).expect("curl line");
    let result = std::process::Command::new("bash").arg("-c").arg(curl).env("ROSTER_TOKEN", &token).output().unwrap();
    let created: Value = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&result.stdout)));
    assert_eq!(created["userName"], "bjensen@example.com");
    let id = id_of(&created);
    let log = std::fs::read_to_string(&server.log_path).unwrap_or_default();
    assert!(!log.contains("ERROR"), "a first start logs no error:\n{log}");
    if !db.is_postgres() {
        assert!(db.dir().join("roster.db-wal").exists(), "the SQLite file is in WAL mode");
    }

    // A restart reuses the stored secret: the old token works and the user is still there.
    drop(server);
    let again = start_server(&db, &[]);
    assert!(!again.stdout.join("\n").contains("export ROSTER_TOKEN"), "no new token on later starts");
    let client = reqwest::blocking::Client::new();
    let fetched: Value =
        client.get(format!("{}/scim/v2/Users/{id}", again.base)).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!(fetched["userName"], "bjensen@example.com");
    assert_eq!(fetched["meta"]["version"], created["meta"]["version"]);

    // `roster token create` on the same database signs tokens the server accepts.
    let (ok, cli_token, stderr) =
        run_cli(&db, &["token", "create", "--tenant", "default", "--scope", "scim:read", "--ttl", "1h"], &[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("jti"), "{stderr}");
    let listed: Value = client
        .get(format!("{}/scim/v2/Users", again.base))
        .bearer_auth(cli_token.trim())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["totalResults"], 1);
}

#[test]
fn data_survives_a_restart() {
    let db = TestDatabase::new();
    let env = [("ROSTER_JWT_SECRET", SECRET)];
    let server = start_server(&db, &env);
    let client = reqwest::blocking::Client::new();
    let token = token("acme", ALL_SCOPES);
    let created: Value = client
        .post(format!("{}/scim/v2/Users", server.base))
        .bearer_auth(&token)
        .header("Content-Type", "application/scim+json")
        .body(json!({"schemas": [USER_SCHEMA], "userName": "persistent"}).to_string())
        .send()
        .unwrap()
        .json()
        .unwrap();
    drop(server);
    let restarted = start_server(&db, &env);
    let fetched: Value = client
        .get(format!("{}/scim/v2/Users/{}", restarted.base, id_of(&created)))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(without_location(fetched), without_location(created));
}

/// Locations name the instance that answered (its host and port); everything else must match.
fn without_location(mut resource: Value) -> Value {
    resource["meta"].as_object_mut().expect("meta").remove("location");
    resource
}

#[test]
fn two_instances_on_one_database_are_interchangeable() {
    let db = TestDatabase::new();
    let env = [("ROSTER_JWT_SECRET", SECRET)];
    let (one, two) = (start_server(&db, &env), start_server(&db, &env));
    let client = reqwest::blocking::Client::new();
    let token = token("acme", ALL_SCOPES);
    let post = |base: &str, name: &str| {
        client
            .post(format!("{base}/scim/v2/Users"))
            .bearer_auth(&token)
            .header("Content-Type", "application/scim+json")
            .body(json!({"schemas": [USER_SCHEMA], "userName": name}).to_string())
            .send()
            .unwrap()
    };
    let created: Value = post(&one.base, "roams").json().unwrap();
    let path = format!("/scim/v2/Users/{}", id_of(&created));
    let seen: Value = client.get(format!("{}{path}", two.base)).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!(without_location(seen), without_location(created.clone()));
    assert_eq!(post(&two.base, "ROAMS").status(), 409, "uniqueness holds across instances");
    let replaced = client
        .put(format!("{}{path}", two.base))
        .bearer_auth(&token)
        .header("Content-Type", "application/scim+json")
        .header("If-Match", created["meta"]["version"].as_str().unwrap())
        .body(json!({"schemas": [USER_SCHEMA], "userName": "roams", "title": "moved"}).to_string())
        .send()
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let stale = client
        .delete(format!("{}{path}", one.base))
        .bearer_auth(&token)
        .header("If-Match", created["meta"]["version"].as_str().unwrap())
        .send()
        .unwrap();
    assert_scim_error(stale, 412, None);
    let jti = uuid::Uuid::new_v4().to_string();
    let revocable =
        token_with(json!({"sub": "t", "tenant": "acme", "scope": ALL_SCOPES, "exp": now() + 600, "jti": jti}));
    assert!(run_cli(&db, &["token", "revoke", &jti], &[]).0);
    for base in [&one.base, &two.base] {
        let response = client.get(format!("{base}/scim/v2/Users")).bearer_auth(&revocable).send().unwrap();
        assert_eq!(response.status(), 401, "revocation holds on {base}");
    }
}

#[test]
fn the_served_openapi_document_equals_the_committed_one() {
    let app = TestApp::spawn();
    let served: Value = app.client.get(app.url("/openapi.json")).send().unwrap().json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json exists"))
        .expect("committed document is JSON");
    assert!(
        served == committed,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and review the diff"
    );
    let (ok, printed, _) = run_cli(&app.db, &["openapi"], &[]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), committed);
    for (path, item) in committed["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation["operationId"].is_string(), "{method} {path} has an operationId");
            assert!(
                operation["responses"].as_object().unwrap().len() >= 2 || path.ends_with("z"),
                "{method} {path} documents errors"
            );
        }
    }
    assert_eq!(committed["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[test]
fn the_docs_page_and_its_assets_are_served_from_the_binary() {
    let app = TestApp::spawn();
    let page = app.client.get(app.url("/docs/")).send().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("cdn") && !html.contains("unpkg"), "no CDN assets");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = app.client.get(app.url(&format!("/docs/{asset}"))).send().unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().unwrap().len() > 100, "{asset}");
    }
    let redirect = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert!(redirect.get(app.url("/docs")).send().unwrap().status().is_redirection());
}

#[test]
fn each_request_is_logged_once_with_request_id_tenant_and_status_but_never_the_token() {
    let app = TestApp::spawn();
    let password = "hunter2-SECRET-password";
    app.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": "logged", "password": password}));
    let response =
        app.client.get(app.scim("/Users")).bearer_auth(&app.token).header("X-Request-Id", "trace-123").send().unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-123");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = app.server_log();
    let line = log.lines().find(|l| l.contains("trace-123")).unwrap_or_else(|| panic!("no log line: {log}"));
    for field in ["tenant", "acme", "GET", "/scim/v2/Users", "200", "latency_ms"] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    assert!(!log.contains(&app.token), "token leaked into logs");
    assert!(!log.contains(password), "password leaked into logs");
}

#[test]
fn flags_beat_environment_which_beats_the_config_file() {
    let db = TestDatabase::new();
    let config = db.dir().join("roster.env");
    std::fs::write(
        &config,
        "# Roster settings\nROSTER_MAX_PAGE_SIZE=7\nROSTER_MAX_BODY_BYTES=999999\nROSTER_JWT_SECRET=from-the-config-file-0123456789\n",
    )
    .unwrap();
    // The file sets the page size; the environment overrides the body limit.
    let server = start_server(&db, &[("ROSTER_CONFIG", config.to_str().unwrap()), ("ROSTER_MAX_BODY_BYTES", "100")]);
    let client = reqwest::blocking::Client::new();
    let signed = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "t", "tenant": "acme", "scope": ALL_SCOPES, "exp": now() + 600, "jti": "c"}),
        &jsonwebtoken::EncodingKey::from_secret(b"from-the-config-file-0123456789"),
    )
    .unwrap();
    let config_doc: Value = client
        .get(format!("{}/scim/v2/ServiceProviderConfig", server.base))
        .bearer_auth(&signed)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config_doc["filter"]["maxResults"], 7, "value from the config file");
    let body = json!({"schemas": [USER_SCHEMA], "userName": "x".repeat(200)}).to_string();
    let too_big = client
        .post(format!("{}/scim/v2/Users", server.base))
        .bearer_auth(&signed)
        .header("Content-Type", "application/scim+json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(too_big.status(), 413, "environment beats the file");

    // A flag beats the environment.
    let (ok, stdout, stderr) = run_cli(
        &db,
        &["--config", config.to_str().unwrap(), "token", "create", "--tenant", "acme", "--jwt-secret", SECRET],
        &[("ROSTER_JWT_SECRET", "ignored-because-a-flag-is-given")],
    );
    assert!(ok, "{stderr}");
    let claims = jsonwebtoken::decode::<Value>(
        stdout.trim(),
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    );
    assert!(claims.is_ok(), "token signed with the flag's secret");
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let db = TestDatabase::new();
    let mut server = start_server(&db, &[("ROSTER_JWT_SECRET", SECRET)]);
    let pid = server.pid();
    let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let exited = server.wait_for_exit(std::time::Duration::from_secs(15)).expect("exits after SIGTERM");
    assert!(exited.success(), "clean exit status: {exited:?}");
    assert!(std::fs::read_to_string(&server.log_path).unwrap().contains("roster stopped"));
}
