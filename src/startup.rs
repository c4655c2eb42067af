//! The composition root: opens the database, prepares token verification, binds the listener
//! (port 0 picks a free port) and builds the HTTP server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, HttpServer};

use crate::api::{application, AppState};
use crate::auth::{ensure_stored_secret, parse_scopes, TokenRequest, TokenVerifier};
use crate::config::{DatabaseSettings, ServeSettings};
use crate::mail::mailer_from_settings;
use crate::mail::outbox::{OutboxHandle, OutboxSettings, OutboxWorker};
use crate::provision::invitations::InvitationSettings;
use crate::provision::Provisioner;
use crate::scim::discovery::{BulkLimits, Capabilities};
use crate::scim::extension::ExtensionDefinition;
use crate::scim::list::PageLimits;
use crate::scim::schema::{ResourceKind, SchemaRegistry};
use crate::store::{DatabaseUrl, Store};
use crate::tenant::TenantId;

/// Opens (and migrates) the configured database.
pub fn open_store(settings: &DatabaseSettings, schemas: Arc<SchemaRegistry>) -> anyhow::Result<Store> {
    let url = DatabaseUrl::parse(&settings.database_url);
    let store = Store::open(&url, settings.db_pool_size, schemas).map_err(|e| {
        let problem = e.to_string().trim_end().to_owned();
        let hint = if problem.contains("SSL support is not compiled in") {
            " (TLS to PostgreSQL needs a build with `--features postgres-tls`, see the README)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot open database {}: {problem}{hint}", url.redacted())
    })?;
    Ok(store.with_wal_limit(settings.sqlite_wal_max_bytes))
}

/// The standard schemas plus the operator's extension definition files (docs/custom-schemas.md).
pub fn schema_registry(extension_files: &[PathBuf]) -> anyhow::Result<SchemaRegistry> {
    let mut registry = SchemaRegistry::standard()
        .with_extension(ResourceKind::User, crate::import::path::import_user_schema(), false)
        .map_err(|e| anyhow::anyhow!(e.detail))?;
    for path in extension_files.iter().filter(|path| !path.as_os_str().is_empty()) {
        let fail = |problem: String| anyhow::anyhow!("schema extension file {}: {problem}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let json = serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
        let definition = ExtensionDefinition::from_json(&json).map_err(|e| fail(e.detail))?;
        registry = definition.register(registry).map_err(|e| fail(e.detail))?;
    }
    Ok(registry)
}

/// `/Bulk` limits (RFC 7644 §3.7.4); the payload limit defaults to 1 MiB and may not exceed the
/// body limit every request is read with.
fn bulk_limits(settings: &ServeSettings) -> anyhow::Result<BulkLimits> {
    let max_payload_size = match settings.bulk_max_payload_bytes {
        Some(bytes) if bytes > settings.max_body_bytes => anyhow::bail!(
            "ROSTER_BULK_MAX_PAYLOAD_BYTES ({bytes}) must not exceed ROSTER_MAX_BODY_BYTES ({})",
            settings.max_body_bytes
        ),
        Some(bytes) => bytes,
        None => settings.max_body_bytes.min(1 << 20),
    };
    Ok(BulkLimits { max_operations: settings.bulk_max_operations, max_payload_size: max_payload_size as u64 })
}

/// The HS256 secret from the database, generated on first use; true when generated now.
pub fn stored_secret(store: &Store) -> anyhow::Result<(String, bool)> {
    Ok(store.write(|repo| ensure_stored_secret(repo))?)
}

/// The CSV importer of this instance, with its background worker running (docs/import.md).
fn start_import_worker(
    provisioner: &Provisioner,
    settings: &ServeSettings,
    invitations: &InvitationSettings,
) -> crate::provision::import::Importer {
    use crate::provision::import::{start_worker, Importer, PolicyInviter};
    let inviter = Arc::new(PolicyInviter::new(invitations.clone()));
    let importer = Importer::new(provisioner.clone(), settings.import.clone(), Some(inviter));
    let worker = start_worker(importer.clone());
    importer.with_worker(worker)
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    outbox: OutboxHandle,
}

impl Application {
    pub fn build(settings: &ServeSettings) -> anyhow::Result<Application> {
        let schemas = Arc::new(schema_registry(&settings.schema_extensions)?);
        let bulk = bulk_limits(settings)?;
        let store = open_store(&settings.database, schemas.clone())?;
        let mut first_start = false;
        let key = settings.auth.verification_key(|| {
            let (secret, generated) = stored_secret(&store)?;
            first_start = generated;
            Ok(secret)
        })?;
        let verifier = TokenVerifier::new(&key).map_err(anyhow::Error::msg)?;

        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let public_url = settings.public_url.clone();
        let shown_url = public_url.clone().unwrap_or_else(|| {
            let host = settings.bind.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
            let host = if host == "0.0.0.0" || host == "[::]" { "localhost" } else { host };
            format!("http://{host}:{port}")
        });

        let url = DatabaseUrl::parse(&settings.database.database_url);
        println!("Roster {} (SCIM 2.0) listening on {shown_url}/scim/v2", env!("CARGO_PKG_VERSION"));
        println!("  database: {}", url.redacted());
        println!("  API docs: {shown_url}/docs");
        let mailer = mailer_from_settings(&settings.mail).map_err(anyhow::Error::msg)?;
        let invitations = InvitationSettings::from_config(&settings.mail, &shown_url).map_err(anyhow::Error::msg)?;
        let outbox = OutboxWorker::new(store.clone(), mailer.clone(), OutboxSettings::from_config(&settings.mail));
        println!("  mail:     {}", mailer.describe());
        if first_start {
            print_first_start(&verifier, &shown_url)?;
        } else {
            println!("  tokens:   roster token create --tenant TENANT --scope \"scim:read scim:write\"");
        }

        let provisioner = Provisioner::new(store, schemas);
        let importer = start_import_worker(&provisioner, settings, &invitations);
        let state = web::Data::new(AppState {
            provisioner,
            verifier,
            public_url,
            body_limit: settings.max_body_bytes,
            capabilities: Capabilities {
                patch: true,
                bulk: Some(bulk),
                sort: true,
                etag: true,
                page: PageLimits {
                    default_count: 100.min(settings.max_page_size),
                    max_count: settings.max_page_size,
                    cursor_timeout_secs: settings.cursor_timeout.as_secs(),
                },
            },
            group_patch_no_content: settings.group_patch_no_content,
            invitations,
            outbox: outbox.waker(),
            importer,
        });
        let mut server = HttpServer::new(move || application(state.clone()))
            .shutdown_timeout(10)
            .client_request_timeout(Duration::from_secs(30));
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener)?.run();
        tracing::info!(port, database = %url.redacted(), "roster started");
        Ok(Application { port, server, outbox: outbox.start() })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests and the messages being
    /// sent (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.outbox.stop(Duration::from_secs(10)).await;
        served
    }
}

/// First start: print an admin token for tenant `default` and a curl line that creates a user.
fn print_first_start(verifier: &TokenVerifier, base: &str) -> anyhow::Result<()> {
    let request = TokenRequest {
        tenant: TenantId::parse("default").map_err(anyhow::Error::msg)?,
        subject: "first-start-admin".into(),
        scopes: parse_scopes("scim:read scim:write import admin").map_err(anyhow::Error::msg)?,
        ttl: Duration::from_secs(30 * 86_400),
    };
    let issued = verifier.issue(&request).map_err(anyhow::Error::msg)?;
    println!();
    println!("First start: generated a token-signing secret and stored it in the database.");
    println!("Token for tenant \"default\" (scopes: scim:read scim:write import admin; valid 30 days):");
    println!();
    println!("  export ROSTER_TOKEN={}", issued.token);
    println!();
    println!("Create a user:");
    println!();
    println!(
        "  curl -s -X POST {base}/scim/v2/Users -H \"Authorization: Bearer $ROSTER_TOKEN\" \
         -H \"Content-Type: application/scim+json\" \
         -d '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"bjensen@example.com\",\"name\":{{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"}}}}'"
    );
    println!();
    println!("More tokens: roster token create --tenant TENANT --scope \"scim:read scim:write\" --ttl 90d");
    Ok(())
}
