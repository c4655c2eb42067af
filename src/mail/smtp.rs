//! The SMTP transport (RFC 5321) through lettre, with a connection pool and TLS from the URL:
//! `smtp://host` (plain), `smtp://host?tls=required` or `?tls=opportunistic` (STARTTLS),
//! `smtps://host` (implicit TLS); credentials as `user:pass@`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Composer, MailError, Mailer, OutgoingMessage};

/// Sends through one SMTP server. Build it inside the Tokio runtime: the pool starts a task.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    composer: Composer,
    shown_url: String,
}

impl SmtpMailer {
    pub fn new(url: &str, composer: Composer, timeout: Duration) -> Result<SmtpMailer, String> {
        let shown_url = without_credentials(url);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("ROSTER_SMTP_URL {shown_url} is not usable: {e}"))?
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(4))
            .build();
        Ok(SmtpMailer { transport, composer, shown_url })
    }
}

/// The URL without `user:password@`, for logs and the banner.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.rsplit_once('@').map_or(rest, |(_, host)| host)),
        None => "(unparsable URL)".to_string(),
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let email = self.composer.compose(message)?;
            match self.transport.send(email).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
                Err(e) => Err(MailError::Transient(e.to_string())),
            }
        })
    }

    fn describe(&self) -> String {
        format!("sending through SMTP server {}", self.shown_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_banner() {
        assert_eq!(
            without_credentials("smtp://user:s3cret@mail.example:587?tls=required"),
            "smtp://mail.example:587?tls=required"
        );
        assert_eq!(without_credentials("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
    }

    #[tokio::test]
    async fn unusable_urls_are_rejected_at_startup() {
        let composer = Composer::new("Roster <no-reply@localhost>").unwrap();
        assert!(SmtpMailer::new("http://mail.example", composer.clone(), Duration::from_secs(1)).is_err());
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525", composer, Duration::from_secs(1)).is_ok());
    }
}
