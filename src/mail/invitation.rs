//! The invitation mail: subject, plain text and HTML, rendered by the outbox worker when it sends
//! the message (the outbox row keeps only the recipient and the link), so a queued invitation
//! costs a few hundred bytes and greets the person by the name they have when it is sent.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::escape_html;

/// The outbox `kind` of invitation messages.
pub const KIND: &str = "invitation";

/// A rendered invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How the person is greeted: displayName, else name.formatted, else given + family name,
/// else userName.
fn greeting_name(user: &Value) -> String {
    let text = |pointer: &str| user.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    text("/displayName")
        .or_else(|| text("/name/formatted"))
        .map(str::to_string)
        .or_else(|| {
            let parts: Vec<&str> = [text("/name/givenName"), text("/name/familyName")].into_iter().flatten().collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .or_else(|| text("/userName").map(str::to_string))
        .unwrap_or_default()
}

/// Subject, plain text and HTML of the invitation of `user` (its SCIM JSON, as it is when the
/// message is sent) whose link is `link`.
pub fn render(user: &Value, link: &str, expires_at: DateTime<Utc>) -> InvitationMail {
    let name = greeting_name(user);
    let user_name = user.get("userName").and_then(Value::as_str).unwrap_or_default();
    let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let subject = "Your account is ready: choose a password".to_string();
    let text = format!(
        "Hello {name},\n\n\
         An account has been created for you (user name: {user_name}).\n\
         Choose your password to start using it:\n\n\
         {link}\n\n\
         The link works once and expires on {expires}.\n\
         If you did not expect this invitation, you can ignore this message.\n"
    );
    let (name, user_name, link) = (escape_html(&name), escape_html(user_name), escape_html(link));
    let html = format!(
        "<!DOCTYPE html><html><body style=\"margin:0;padding:24px;background:#f4f5f7;\
         font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933\">\
         <div style=\"max-width:520px;margin:0 auto;background:#fff;border-radius:8px;padding:32px\">\
         <p>Hello {name},</p>\
         <p>An account has been created for you (user name: <strong>{user_name}</strong>). \
         Choose your password to start using it:</p>\
         <p style=\"margin:28px 0\"><a href=\"{link}\" style=\"background:#2457c5;color:#fff;padding:12px 20px;\
         border-radius:6px;text-decoration:none;display:inline-block\">Choose a password</a></p>\
         <p style=\"font-size:13px;color:#52606d\">Or open this link: <a href=\"{link}\">{link}</a></p>\
         <p style=\"font-size:13px;color:#52606d\">The link works once and expires on {expires}. \
         If you did not expect this invitation, you can ignore this message.</p>\
         </div></body></html>"
    );
    InvitationMail { subject, text, html }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_greeting_prefers_the_display_name_then_the_parts_of_the_name() {
        assert_eq!(greeting_name(&json!({"displayName": " Ann Lee ", "userName": "ann"})), "Ann Lee");
        assert_eq!(greeting_name(&json!({"name": {"givenName": "Bo", "familyName": "Chan"}})), "Bo Chan");
        assert_eq!(greeting_name(&json!({"userName": "cy"})), "cy");
    }

    #[test]
    fn the_link_and_names_are_escaped_in_the_html_only() {
        let user = json!({"displayName": "O'Brien & Co", "userName": "ob"});
        let expires = DateTime::parse_from_rfc3339("2026-11-30T08:05:00Z").unwrap().with_timezone(&Utc);
        let mail = render(&user, "https://x.example/set?token=T&u=1", expires);
        assert!(mail.text.starts_with("Hello O'Brien & Co,"), "{}", mail.text);
        assert!(mail.text.contains("https://x.example/set?token=T&u=1\n"), "{}", mail.text);
        assert!(mail.text.contains("expires on 2026-11-30 08:05 UTC"), "{}", mail.text);
        assert!(mail.html.contains("Hello O&#39;Brien &amp; Co,"), "{}", mail.html);
        assert!(mail.html.contains("href=\"https://x.example/set?token=T&amp;u=1\""), "{}", mail.html);
    }
}
