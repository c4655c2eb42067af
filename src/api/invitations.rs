//! `/api/v1/invitations` (send or re-send invitations to chosen users, the post-import action)
//! and `/api/v1/tenant/invitation-policy` (whom an import invites by default).

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::ScimBody;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::provision::invitations::{
    InvitationPolicy, InvitationRefusal, InvitationTargets, QueueStatus, UserInvitation,
};
use crate::scim::error::ScimError;
use crate::scim::filter::parse_filter;

/// Whom to invite: `user_ids` or `filter`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    /// Ids of the users to invite. Each user is invited once, however often listed.
    #[schema(example = json!(["2819c223-7f76-453a-919d-413861904646"]))]
    pub user_ids: Option<Vec<String>>,
    /// A SCIM filter selecting the users instead (RFC 7644 §3.4.2.2).
    #[schema(example = "emails.value ew \"@example.com\"")]
    pub filter: Option<String>,
    /// `true`: a fresh invitation for each user; links of earlier unused invitations stop working.
    /// `false`: users whose invitation is still pending are left alone (`already_pending`).
    #[serde(default = "resend_by_default")]
    #[schema(default = true)]
    pub resend: bool,
    /// Invite only the users the tenant's invitation policy covers; the others are `skipped`.
    #[serde(default)]
    pub apply_policy: bool,
}

fn resend_by_default() -> bool {
    true
}

/// What happened for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// An invitation was queued; the email follows shortly.
    Queued,
    /// The user's earlier invitation is still pending (with `resend: false`).
    AlreadyPending,
    /// Not covered by the tenant's invitation policy (with `apply_policy: true`).
    Skipped,
    /// Not invited; `code` says why.
    Error,
}

/// The outcome for one user.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResult {
    pub user_id: String,
    pub status: InvitationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    /// The address the invitation goes to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Why the user was skipped or not invited: `policy`, `not_found`, `no_email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "no_email")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Per-user outcomes and their counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    pub queued: usize,
    pub already_pending: usize,
    pub skipped: usize,
    pub failed: usize,
    pub results: Vec<InvitationResult>,
}

/// A tenant's invitation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyName {
    /// Imports invite nobody unless their `send_invitations` option says so.
    Never,
    /// Every imported user with an email address.
    Always,
    /// Active users with the role `admin` (or `administrator`, any case).
    #[serde(alias = "admins")]
    AdminsOnly,
    /// Active users (the default).
    #[serde(alias = "active")]
    ActiveOnly,
}

impl From<InvitationPolicy> for PolicyName {
    fn from(policy: InvitationPolicy) -> PolicyName {
        match policy {
            InvitationPolicy::Never => PolicyName::Never,
            InvitationPolicy::Always => PolicyName::Always,
            InvitationPolicy::AdminsOnly => PolicyName::AdminsOnly,
            InvitationPolicy::ActiveOnly => PolicyName::ActiveOnly,
        }
    }
}

impl From<PolicyName> for InvitationPolicy {
    fn from(name: PolicyName) -> InvitationPolicy {
        match name {
            PolicyName::Never => InvitationPolicy::Never,
            PolicyName::Always => InvitationPolicy::Always,
            PolicyName::AdminsOnly => InvitationPolicy::AdminsOnly,
            PolicyName::ActiveOnly => InvitationPolicy::ActiveOnly,
        }
    }
}

/// Body of the invitation-policy routes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationPolicyBody {
    pub policy: PolicyName,
}

fn parse_body<T: serde::de::DeserializeOwned>(body: ScimBody) -> Result<T, ScimError> {
    serde_json::from_value(body.0).map_err(|e| ScimError::invalid_value(format!("bad request body: {e}")))
}

fn targets_of(request: &InvitationRequest) -> Result<InvitationTargets, ScimError> {
    match (&request.user_ids, request.filter.as_deref().map(str::trim)) {
        (Some(ids), None) if !ids.is_empty() => Ok(InvitationTargets::Users(ids.clone())),
        (None, Some(filter)) if !filter.is_empty() => Ok(InvitationTargets::Filter(parse_filter(filter)?)),
        _ => Err(ScimError::invalid_value("give either a non-empty \"user_ids\" list or a \"filter\"")),
    }
}

fn result_of(invitation: UserInvitation) -> InvitationResult {
    let mut result = InvitationResult {
        user_id: invitation.user_id,
        status: InvitationStatus::Error,
        invitation_id: None,
        recipient: None,
        expires_at: None,
        code: None,
        detail: None,
    };
    match invitation.outcome {
        Ok(queued) => {
            result.status = match queued.status {
                QueueStatus::Queued => InvitationStatus::Queued,
                QueueStatus::AlreadyPending => InvitationStatus::AlreadyPending,
            };
            result.invitation_id = Some(queued.invitation_id);
            result.recipient = Some(queued.recipient);
            result.expires_at = Some(queued.expires_at);
        }
        Err(InvitationRefusal::NotCovered(policy)) => {
            result.status = InvitationStatus::Skipped;
            result.code = Some("policy".into());
            result.detail = Some(format!("not covered by the tenant's invitation policy ({})", policy.as_str()));
        }
        Err(InvitationRefusal::NotFound) => {
            result.code = Some("not_found".into());
            result.detail = Some("no user with this id in the tenant".into());
        }
        Err(InvitationRefusal::NoEmail(reason)) => {
            result.code = Some("no_email".into());
            result.detail = Some(reason);
        }
    }
    result
}

/// Send invitations (a one-time link to set a password) to chosen users.
///
/// The post-import action: invite users an import did not invite, or send a new link to
/// users whose link expired. Messages go through the outbox: the response says what was
/// queued; delivery follows, with retries.
#[utoipa::path(
    tag = "Invitations",
    request_body(content = InvitationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What happened for each user", body = InvitationResponse),
        (status = 400, description = "Bad body or filter", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the import or admin scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/invitations")]
pub async fn create_invitations(
    state: web::Data<AppState>,
    principal: Principal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Import).or_else(|missing| principal.require(Scope::Admin).map_err(|_| missing))?;
    let request: InvitationRequest = parse_body(body)?;
    let targets = targets_of(&request)?;
    let worker = state.clone();
    let invitations = web::block(move || {
        worker.provisioner.invite_users(
            &worker.invitations,
            &principal.tenant,
            &targets,
            request.resend,
            request.apply_policy,
        )
    })
    .await??;
    let results: Vec<InvitationResult> = invitations.into_iter().map(result_of).collect();
    let count = |status: InvitationStatus| results.iter().filter(|r| r.status == status).count();
    let response = InvitationResponse {
        queued: count(InvitationStatus::Queued),
        already_pending: count(InvitationStatus::AlreadyPending),
        skipped: count(InvitationStatus::Skipped),
        failed: count(InvitationStatus::Error),
        results,
    };
    if response.queued > 0 {
        state.outbox.wake();
    }
    Ok(HttpResponse::Ok().json(response))
}

/// Get the tenant's invitation policy: whom a CSV import invites when its `send_invitations`
/// option is not given.
#[utoipa::path(
    tag = "Invitations",
    responses(
        (status = 200, description = "The policy", body = InvitationPolicyBody),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the admin scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/tenant/invitation-policy")]
pub async fn get_invitation_policy(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Admin)?;
    let policy = web::block(move || state.provisioner.invitation_policy(&principal.tenant)).await??;
    Ok(HttpResponse::Ok().json(InvitationPolicyBody { policy: policy.into() }))
}

/// Set the tenant's invitation policy.
#[utoipa::path(
    tag = "Invitations",
    request_body(content = InvitationPolicyBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The policy now in force", body = InvitationPolicyBody),
        (status = 400, description = "Unknown policy", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks the admin scope", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/tenant/invitation-policy")]
pub async fn replace_invitation_policy(
    state: web::Data<AppState>,
    principal: Principal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::Admin)?;
    let InvitationPolicyBody { policy } = parse_body(body)?;
    web::block(move || state.provisioner.set_invitation_policy(&principal.tenant, policy.into())).await??;
    Ok(HttpResponse::Ok().json(InvitationPolicyBody { policy }))
}
