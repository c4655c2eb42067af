//! The `roster` command line: serve, migrate, openapi, token create/revoke, import.

mod import;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::auth::{parse_scopes, parse_ttl, TokenRequest, TokenVerifier};
use crate::config::{apply_config_file, config_file_from, AuthSettings, DatabaseSettings, ServeSettings};
use crate::scim::schema::SchemaRegistry;
use crate::startup::{open_store, Application};
use crate::tenant::TenantId;

/// Roster: a SCIM 2.0 identity provisioning server.
///
/// Settings come from flags, then ROSTER_* environment variables, then the config file
/// (lines of ROSTER_NAME=value) named by --config or ROSTER_CONFIG.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, long_about)]
pub struct Cli {
    /// Config file of ROSTER_NAME=value lines (lowest precedence).
    #[arg(long, global = true, env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (SQLite file roster.db by default; migrations run at start).
    Serve(Box<ServeSettings>),
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Create or revoke bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import users from a CSV file into a tenant (the engine of POST /api/v1/imports).
    Import(Box<import::ImportArgs>),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a signed token the server accepts (uses the secret stored in the database).
    Create {
        /// Tenant the token acts for.
        #[arg(long)]
        tenant: String,
        /// Space-separated scopes: scim:read scim:write import admin.
        #[arg(long, default_value = "scim:read scim:write")]
        scope: String,
        /// Lifetime, e.g. 90d, 12h, 30m.
        #[arg(long, default_value = "90d")]
        ttl: String,
        /// Subject (who the token is for, e.g. okta).
        #[arg(long, default_value = "roster-cli")]
        sub: String,
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        auth: AuthSettings,
    },
    /// Revoke a token by its id (the `jti` claim); it stops working at once on every instance.
    Revoke {
        /// The token id (jti).
        jti: String,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

pub fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = config_file_from(&args) {
        apply_config_file(&path)?;
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(settings) => serve(*settings),
        Command::Migrate { database } => {
            let store = open_store(&database, Arc::new(SchemaRegistry::standard()))?;
            let applied = store.migrate()?;
            println!("database is up to date ({applied} migrations applied now)");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&crate::api::openapi_document())?);
            Ok(())
        }
        Command::Token(TokenCommand::Create { tenant, scope, ttl, sub, database, auth }) => {
            let request = TokenRequest {
                tenant: TenantId::parse(&tenant).map_err(anyhow::Error::msg)?,
                subject: sub,
                scopes: parse_scopes(&scope).map_err(anyhow::Error::msg)?,
                ttl: parse_ttl(&ttl).map_err(anyhow::Error::msg)?,
            };
            let store = open_store(&database, Arc::new(SchemaRegistry::standard()))?;
            let key = auth.verification_key(|| Ok(crate::startup::stored_secret(&store)?.0))?;
            let issued =
                TokenVerifier::new(&key).map_err(anyhow::Error::msg)?.issue(&request).map_err(anyhow::Error::msg)?;
            eprintln!("token id (jti): {}  expires (unix): {}", issued.claims.jti, issued.claims.exp);
            println!("{}", issued.token);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { jti, database }) => {
            let store = open_store(&database, Arc::new(SchemaRegistry::standard()))?;
            let newly = store.write(|repo| repo.revoke_token(&jti))?;
            println!("{}", if newly { format!("revoked {jti}") } else { format!("{jti} was already revoked") });
            Ok(())
        }
        Command::Import(args) => {
            if !import::run(*args)? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    crate::telemetry::init(settings.log_format);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        app.run_until_stopped().await?;
        tracing::info!("roster stopped");
        Ok(())
    })
}
