//! Turns an [`OutgoingMessage`] into an RFC 5322 message: sender, recipient, subject, a stable
//! `Message-ID`, and a plain-text body with an optional HTML alternative.

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::{MailError, OutgoingMessage};

/// Builds messages from one configured sender.
#[derive(Debug, Clone)]
pub struct Composer {
    from: Mailbox,
}

impl Composer {
    /// `from` is a mailbox such as `Roster <no-reply@localhost>` (`ROSTER_MAIL_FROM`).
    pub fn new(from: &str) -> Result<Composer, String> {
        let from = from.parse::<Mailbox>().map_err(|e| format!("ROSTER_MAIL_FROM \"{from}\" is not a mailbox: {e}"))?;
        Ok(Composer { from })
    }

    /// The message, with `Message-ID: <outbox id@sender domain>` so that a copy sent again after
    /// a crash carries the same id (RFC 5322 §3.6.4) and mail clients can drop the duplicate.
    pub fn compose(&self, message: &OutgoingMessage) -> Result<Message, MailError> {
        let to = message.to.parse::<Mailbox>().map_err(|e| MailError::Permanent(format!("bad recipient: {e}")))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .message_id(Some(format!("<{}@{}>", message.id, self.from.email.domain())))
            .date(message.created_at.into());
        let built = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(message.text.clone())),
        };
        built.map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(html: Option<&str>) -> OutgoingMessage {
        OutgoingMessage {
            id: "3f1c".into(),
            to: "Barbara Jensen <bjensen@example.com>".into(),
            subject: "Set your password".into(),
            text: "Open https://roster.example/onboarding/set-password?token=abc".into(),
            html: html.map(str::to_string),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn messages_carry_sender_recipient_and_a_stable_message_id() {
        let composer = Composer::new("Acme IT <it@acme.example>").unwrap();
        let formatted = String::from_utf8(composer.compose(&message(None)).unwrap().formatted()).unwrap();
        assert!(
            formatted.contains("From: \"Acme IT\" <it@acme.example>")
                || formatted.contains("From: Acme IT <it@acme.example>"),
            "{formatted}"
        );
        assert!(
            formatted.contains("To: \"Barbara Jensen\" <bjensen@example.com>")
                || formatted.contains("To: Barbara Jensen <bjensen@example.com>"),
            "{formatted}"
        );
        assert!(formatted.contains("Message-ID: <3f1c@acme.example>"), "{formatted}");
        assert!(formatted.contains("token=abc"), "{formatted}");
    }

    #[test]
    fn an_html_body_becomes_an_alternative_part() {
        let composer = Composer::new("Roster <no-reply@localhost>").unwrap();
        let formatted = String::from_utf8(composer.compose(&message(Some("<p>hi</p>"))).unwrap().formatted()).unwrap();
        assert!(formatted.contains("multipart/alternative"), "{formatted}");
        assert!(formatted.contains("text/html"), "{formatted}");
    }

    #[test]
    fn bad_addresses_are_permanent_failures() {
        assert!(Composer::new("not a mailbox").is_err());
        let composer = Composer::new("Roster <no-reply@localhost>").unwrap();
        let mut bad = message(None);
        bad.to = "nobody".into();
        assert!(matches!(composer.compose(&bad), Err(MailError::Permanent(_))));
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(escape_html(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
