//! Outgoing mail: the [`Mailer`] trait with an SMTP transport (lettre), a file transport that
//! writes `.eml` files (the default, so a fresh setup shows what would be sent), an in-memory
//! transport for unit tests, and the [`outbox`] worker that delivers queued messages.

mod compose;
mod file;
pub mod invitation;
#[cfg(test)]
mod memory;
pub mod outbox;
mod smtp;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::config::MailSettings;
pub use compose::{escape_html, Composer};
pub use file::FileMailer;
#[cfg(test)]
pub use memory::MemoryMailer;
pub use smtp::SmtpMailer;

/// One message to deliver, as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// The outbox id; also the stable `Message-ID`, so a resent duplicate is recognisable.
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Why a send failed: worth retrying, or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The server is down, busy or answered 4xx: retry later.
    #[error("temporary mail failure: {0}")]
    Transient(String),
    /// The message can never be delivered as it is (5xx, invalid address).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

/// Delivers one message.
pub trait Mailer: Send + Sync {
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<(), MailError>>;
    /// Where messages go, for the startup banner (no credentials).
    fn describe(&self) -> String;
}

/// Checks that `address` is a deliverable mailbox address (`local@domain`).
pub fn validate_address(address: &str) -> Result<(), String> {
    address
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| format!("\"{address}\" is not a valid email address: {e}"))
}

/// The configured transport: SMTP when `ROSTER_SMTP_URL` is set, else `.eml` files in
/// `ROSTER_MAIL_DIR`. Call inside the Tokio runtime: the SMTP connection pool starts a task.
pub fn mailer_from_settings(settings: &MailSettings) -> Result<Arc<dyn Mailer>, String> {
    let composer = Composer::new(&settings.mail_from)?;
    Ok(match settings.smtp_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
        Some(url) => Arc::new(SmtpMailer::new(url, composer, smtp_timeout(settings.outbox_lease))?),
        None => Arc::new(FileMailer::new(settings.mail_dir.clone(), composer)),
    })
}

/// The SMTP timeout stays well inside the outbox lease, so a slow server cannot make a lease
/// expire mid-send (which would let another instance send the message too).
fn smtp_timeout(lease: Duration) -> Duration {
    (lease / 3).clamp(Duration::from_millis(200), Duration::from_secs(30))
}
