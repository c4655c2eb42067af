//! The set-password page an invitation links to: a small self-contained HTML form (inline CSS,
//! no scripts, no external assets). Being a page for people rather than an API, its errors are
//! HTML pages too (400 for an unknown link, 410 for a used, expired or replaced one), not the
//! SCIM error bodies of `api::error`.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::mail::escape_html;
use crate::provision::invitations::{AcceptError, InvitationView, NewPassword, PasswordProblem, TokenProblem};
use crate::provision::ProvisionError;
use crate::store::StoreError;

/// The link's query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SetPasswordQuery {
    /// The one-time token from the invitation email.
    pub token: Option<String>,
}

/// The form the page posts.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetPasswordForm {
    /// The one-time token from the invitation email.
    pub token: String,
    /// At least 8 characters.
    pub password: String,
    /// The same password again.
    pub confirmation: String,
}

const STYLE: &str = "body{margin:0;background:#f4f5f7;color:#1f2933;\
    font:16px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif}\
    main{max-width:420px;margin:8vh auto;background:#fff;border-radius:8px;padding:32px;\
    box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:22px;margin:0 0 16px}\
    label{display:block;margin:16px 0 4px;font-weight:600}\
    input[type=password]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #cbd2d9;\
    border-radius:6px;font-size:16px}button{margin-top:24px;width:100%;padding:12px;border:0;\
    border-radius:6px;background:#2457c5;color:#fff;font-size:16px;cursor:pointer}\
    .error{background:#fde8e8;color:#9b1c1c;padding:10px 12px;border-radius:6px}\
    .hint{color:#52606d;font-size:14px}";

fn page(status: StatusCode, title: &str, content: &str) -> HttpResponse {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{content}</main></body></html>",
        title = escape_html(title)
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(body)
}

fn form_page(status: StatusCode, token: &str, view: &InvitationView, problem: Option<&str>) -> HttpResponse {
    let problem =
        problem.map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(p))).unwrap_or_default();
    let content = format!(
        "<p>Choose the password for <strong>{user}</strong>.</p>{problem}\
         <form method=\"post\" action=\"set-password\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"password\">New password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"{min}\" required autofocus>\
         <label for=\"confirmation\">Repeat the password</label>\
         <input id=\"confirmation\" name=\"confirmation\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"{min}\" required>\
         <p class=\"hint\">At least {min} characters. This link works once and expires on {expires}.</p>\
         <button type=\"submit\">Set password</button></form>",
        user = escape_html(&view.user_name),
        token = escape_html(token),
        min = NewPassword::MIN_CHARS,
        expires = format_expiry(view.expires_at),
    );
    page(status, "Set your password", &content)
}

fn format_expiry(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn password_message(problem: PasswordProblem) -> String {
    match problem {
        PasswordProblem::TooShort => format!("Choose a password of at least {} characters.", NewPassword::MIN_CHARS),
        PasswordProblem::TooLong => format!("Choose a password of at most {} characters.", NewPassword::MAX_CHARS),
        PasswordProblem::Mismatch => "The two passwords do not match. Type the same password twice.".to_string(),
    }
}

fn token_page(problem: TokenProblem) -> HttpResponse {
    let (status, title, text) = match problem {
        TokenProblem::Unknown => (
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            "Check that you opened the whole link from the invitation email, \
             or ask your administrator for a new invitation.",
        ),
        TokenProblem::Used => (
            StatusCode::GONE,
            "This link was already used",
            "The password for this account has been set. \
             If you need a new one, ask your administrator for a new invitation.",
        ),
        TokenProblem::Expired => (
            StatusCode::GONE,
            "This link has expired",
            "Invitation links work for a limited time. Ask your administrator to send you a new invitation.",
        ),
        TokenProblem::Replaced => (
            StatusCode::GONE,
            "This link was replaced",
            "A newer invitation was sent to you. Use the link in the most recent invitation email.",
        ),
    };
    page(status, title, &format!("<p>{text}</p>"))
}

fn failure_page(error: &ProvisionError) -> HttpResponse {
    if matches!(error, ProvisionError::Store(StoreError::Unavailable(_))) {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            "<p>The service is busy right now. Wait a moment and try again.</p>",
        );
    }
    tracing::error!(%error, "set-password page failed");
    page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "<p>Please try again later.</p>")
}

fn error_page(error: AcceptError) -> HttpResponse {
    match error {
        AcceptError::Token(problem) => token_page(problem),
        AcceptError::Provision(ProvisionError::Scim(e)) if e.status == 404 => token_page(TokenProblem::Unknown),
        AcceptError::Provision(error) => failure_page(&error),
    }
}

/// The set-password form an invitation email links to.
#[utoipa::path(
    tag = "Onboarding",
    params(SetPasswordQuery),
    responses(
        (status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 400, description = "Unknown or missing token (an HTML page)",
            content_type = "text/html", body = String),
        (status = 410, description = "The link was used, expired or replaced (an HTML page)",
            content_type = "text/html", body = String),
    )
)]
#[get("/onboarding/set-password")]
pub async fn get_set_password_page(state: web::Data<AppState>, query: web::Query<SetPasswordQuery>) -> HttpResponse {
    let Some(token) = query.into_inner().token.filter(|t| !t.trim().is_empty()) else {
        return token_page(TokenProblem::Unknown);
    };
    let checked = token.clone();
    match web::block(move || state.provisioner.check_invitation(&checked)).await {
        Ok(Ok(view)) => form_page(StatusCode::OK, &token, &view, None),
        Ok(Err(error)) => error_page(error),
        Err(error) => failure_page(&ProvisionError::Store(StoreError::Unavailable(error.to_string()))),
    }
}

/// Sets the password (stored as an argon2 hash) and uses up the link.
#[utoipa::path(
    tag = "Onboarding",
    request_body(content = SetPasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Password set (an HTML page)", content_type = "text/html", body = String),
        (status = 400, description = "Unknown token, or a password refused: the form again with the reason",
            content_type = "text/html", body = String),
        (status = 410, description = "The link was used, expired or replaced (an HTML page)",
            content_type = "text/html", body = String),
    )
)]
#[post("/onboarding/set-password")]
pub async fn set_password(
    state: web::Data<AppState>,
    form: Result<web::Form<SetPasswordForm>, actix_web::Error>,
) -> HttpResponse {
    let Ok(web::Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            "Set your password",
            "<p>The form was incomplete. Open the link from the invitation email again.</p>",
        );
    };
    let worker = state.clone();
    let token = form.token.clone();
    let view = match web::block(move || worker.provisioner.check_invitation(&token)).await {
        Ok(Ok(view)) => view,
        Ok(Err(error)) => return error_page(error),
        Err(error) => return failure_page(&ProvisionError::Store(StoreError::Unavailable(error.to_string()))),
    };
    let password = match NewPassword::parse(&form.password, &form.confirmation) {
        Ok(password) => password,
        Err(problem) => {
            return form_page(StatusCode::BAD_REQUEST, &form.token, &view, Some(&password_message(problem)));
        }
    };
    let token = form.token.clone();
    match web::block(move || state.provisioner.accept_invitation(&token, &password)).await {
        Ok(Ok(accepted)) => {
            let (tenant, user_id) = (&accepted.tenant, &accepted.user_id);
            tracing::info!(%tenant, user_id, "password set through an invitation");
            page(
                StatusCode::OK,
                "Your password is set",
                &format!(
                    "<p>You can now sign in as <strong>{}</strong> with your new password.</p>",
                    escape_html(&accepted.user_name)
                ),
            )
        }
        Ok(Err(error)) => error_page(error),
        Err(error) => failure_page(&ProvisionError::Store(StoreError::Unavailable(error.to_string()))),
    }
}
