//! The file transport: each message becomes an `.eml` file (RFC 5322, openable in any mail
//! client) in a folder. It is what Roster uses when no SMTP server is configured.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use super::{Composer, MailError, Mailer, OutgoingMessage};

/// Writes `<folder>/<created>-<id>.eml`. Writing the same message again replaces its file, so a
/// message sent twice after a crash still shows once.
#[derive(Debug, Clone)]
pub struct FileMailer {
    folder: PathBuf,
    composer: Composer,
}

impl FileMailer {
    pub fn new(folder: PathBuf, composer: Composer) -> FileMailer {
        FileMailer { folder, composer }
    }

    /// The file a message is written to.
    pub fn path_of(&self, message: &OutgoingMessage) -> PathBuf {
        let stamp = message.created_at.format("%Y%m%dT%H%M%S%.6fZ");
        self.folder.join(format!("{stamp}-{}.eml", message.id))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let partial = path.with_extension("eml.partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

impl Mailer for FileMailer {
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let bytes = self.composer.compose(message)?.formatted();
            let path = self.path_of(message);
            let shown = path.display().to_string();
            tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                .await
                .map_err(|e| MailError::Transient(format!("writing {shown} was interrupted: {e}")))?
                .map_err(|e| MailError::Transient(format!("cannot write {shown}: {e}")))
        })
    }

    fn describe(&self) -> String {
        format!("writing .eml files to {} (set ROSTER_SMTP_URL to send through SMTP)", self.folder.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_become_eml_files_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = FileMailer::new(dir.path().join("mail"), Composer::new("Roster <no-reply@localhost>").unwrap());
        let message = OutgoingMessage {
            id: "m1".into(),
            to: "ana@example.com".into(),
            subject: "Hello".into(),
            text: "Body".into(),
            html: None,
            created_at: chrono::Utc::now(),
        };
        mailer.send(&message).await.unwrap();
        mailer.send(&message).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail")).unwrap().collect();
        assert_eq!(files.len(), 1, "sending twice keeps one file");
        let text = std::fs::read_to_string(mailer.path_of(&message)).unwrap();
        assert!(text.contains("To: ana@example.com") && text.contains("Subject: Hello"), "{text}");
    }
}
