//! `roster import FILE --tenant T`: a CSV import run from the command line through the same
//! engine as `POST /api/v1/imports` ([`Importer`]): the file is stored with the import, planned,
//! and every row written through provisioning, against `ROSTER_DATABASE_URL`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{ArgAction, Args, ValueEnum};

use crate::config::{DatabaseSettings, ImportSettings, MailSettings};
use crate::provision::import::{ImportOptions, ImportView, Importer, OnError, Placement, PolicyInviter, UploadError};
use crate::provision::invitations::InvitationSettings;
use crate::provision::Provisioner;
use crate::scim::schema::SchemaRegistry;
use crate::startup::open_store;
use crate::store::ImportStatus;
use crate::tenant::TenantId;

/// What to do with the good rows when some rows fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Import every good row; report the bad ones.
    Skip,
    /// Import nothing if any row fails.
    Abort,
}

/// Imports users from a CSV file into one tenant (docs/import.md).
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file (UTF-8, header on the first row, delimiter , ; or tab).
    pub file: PathBuf,
    /// Tenant the users belong to.
    #[arg(long)]
    pub tenant: String,
    /// Evaluate only and print what a commit would do; the preview can be committed later through the API.
    #[arg(long)]
    pub dry_run: bool,
    /// skip: import the good rows and report the bad ones; abort: import nothing if any row fails.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_error: OnErrorArg,
    /// Update users that already exist (false: they are duplicate_email errors).
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub update_existing: bool,
    /// A saved import profile of the tenant to read the file with.
    #[arg(long)]
    pub profile: Option<String>,
    /// Invite the users the import creates (true), nobody (false); the tenant's policy when absent.
    #[arg(long, action = ArgAction::Set)]
    pub send_invitations: Option<bool>,
    /// Read Windows-1252 and UTF-16 files instead of rejecting them.
    #[arg(long)]
    pub transcode_legacy: bool,
    /// Public base URL of the server, used in invitation links.
    #[arg(long, env = "ROSTER_PUBLIC_URL", default_value = "http://localhost:8080")]
    pub public_url: String,
    /// Errors printed at the end (all of them are stored with the import).
    #[arg(long, default_value_t = 20)]
    pub show_errors: usize,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub mail: MailSettings,
    #[command(flatten)]
    pub import: ImportSettings,
}

/// Runs the import; the process's exit status is non-zero when rows failed or the import failed.
pub fn run(args: ImportArgs) -> anyhow::Result<bool> {
    let tenant = TenantId::parse(&args.tenant).map_err(anyhow::Error::msg)?;
    let schemas = Arc::new(SchemaRegistry::standard());
    let store = open_store(&args.database, schemas.clone())?;
    store.migrate()?;
    let invitations = InvitationSettings::from_config(&args.mail, &args.public_url).map_err(anyhow::Error::msg)?;
    let inviter = Arc::new(PolicyInviter::new(invitations));
    let importer = Importer::new(Provisioner::new(store, schemas), args.import.clone(), Some(inviter));
    let options = ImportOptions {
        dry_run: args.dry_run,
        on_error: match args.on_error {
            OnErrorArg::Skip => OnError::Skip,
            OnErrorArg::Abort => OnError::Abort,
        },
        update_existing: args.update_existing,
        send_invitations: args.send_invitations,
        profile: args.profile.clone(),
        mapping: None,
        transcode_legacy: args.transcode_legacy,
        max_rows: None,
    };
    let profile = importer.resolve_profile(&tenant, &options)?;
    let limits = importer.limits(&tenant)?;
    let mut file =
        std::fs::File::open(&args.file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let (id, mut writer) = importer.upload(&tenant, limits.max_file_bytes);
    let mut buffer = vec![0u8; 256 * 1024];
    let stored = loop {
        let n = file.read(&mut buffer).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
        if n == 0 {
            break writer.finish();
        }
        if let Err(error) = writer.push(&buffer[..n]) {
            break Err(error);
        }
    };
    let (bytes, lines) = match stored {
        Ok(sizes) => sizes,
        Err(error) => {
            importer.discard_upload(&tenant, &id);
            return Err(match error {
                UploadError::TooLarge { limit } => {
                    anyhow::anyhow!("the file is larger than this tenant's limit of {limit} bytes")
                }
                UploadError::Store(error) => error.into(),
            });
        }
    };
    let file_name = args.file.file_name().map(|name| name.to_string_lossy().into_owned());
    let (record, _) =
        importer.start(&tenant, id.clone(), options, &profile, file_name, bytes, lines, Some(Placement::Here))?;
    let mut progress = Progress::new();
    let outcome = importer.run(record, &mut |processed, total| progress.show(processed, total));
    progress.finish();
    outcome?;
    let view = importer.view(&tenant, &id)?;
    print_summary(&view, args.show_errors);
    Ok(view.record.status != ImportStatus::Failed && view.record.counts.failed == 0)
}

/// A progress bar on a terminal (stderr), plain lines at most every few seconds otherwise.
struct Progress {
    terminal: bool,
    started: Instant,
    last_line: Option<Instant>,
    drawn: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress { terminal: std::io::stderr().is_terminal(), started: Instant::now(), last_line: None, drawn: false }
    }

    fn show(&mut self, processed: u64, total: u64) {
        let percent = (processed.min(total) * 100).checked_div(total).unwrap_or(100);
        let rate = processed as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let filled = (percent / 4) as usize;
            let _ = write!(
                err,
                "\r[{}{}] {percent:>3}% {processed}/{total} rows ({rate:.0} rows/s)",
                "#".repeat(filled),
                "-".repeat(25 - filled)
            );
            self.drawn = true;
        } else if self.last_line.is_none_or(|at| at.elapsed().as_secs() >= 5) || processed == total {
            let _ = writeln!(err, "progress: {processed}/{total} rows ({percent}%)");
            self.last_line = Some(Instant::now());
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}

fn print_summary(view: &ImportView, show_errors: usize) {
    let record = &view.record;
    let counts = &record.counts;
    println!("import {}: {}", record.id, record.status.as_str());
    println!(
        "rows: {} total, {} created, {} updated, {} unchanged, {} failed, {} skipped; {} invitations queued",
        record.total_rows,
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.failed,
        counts.skipped,
        counts.invitations_queued
    );
    if record.status == ImportStatus::Previewed {
        println!("dry run: nothing was written; commit with POST /api/v1/imports/{}/commit", record.id);
    }
    for issue in view.errors.iter().take(show_errors) {
        println!("error: {issue}");
    }
    if view.error_count > show_errors as u64 {
        println!(
            "... {} more errors (GET /api/v1/imports/{}/errors.csv)",
            view.error_count - show_errors as u64,
            record.id
        );
    }
    if view.warning_count > 0 {
        println!("{} warnings", view.warning_count);
    }
}
