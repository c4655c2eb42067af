//! Invitations: a one-time, expiring link by which a person sets their password, delivered as an
//! outbox message queued in the caller's transaction (so an invitation is never lost nor queued
//! twice); redeeming the link; and the per-tenant policy that says whom an import invites.
//!
//! Callers that write users (the CSV importer, `POST /api/v1/invitations`) call
//! [`queue_invitation`] inside the same [`crate::store::Store::write`] transaction as the user
//! write. A user has at most one open invitation: queueing again while it is unused and
//! unexpired does nothing ([`QueueStatus::AlreadyPending`]); [`resend_invitation`] replaces it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{hash_password, not_found, ProvisionError, ProvisionResult, Provisioner};
use crate::config::MailSettings;
use crate::mail::validate_address;
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::schema::ResourceKind;
use crate::store::{Invitation, ListQuery, NewOutboxMessage, Repository, ResourceWrite, StoredResource};
use crate::tenant::TenantId;

/// The outbox `kind` of invitation messages.
pub const INVITATION_KIND: &str = crate::mail::invitation::KIND;
/// The `tenant_settings` key holding the policy.
const POLICY_KEY: &str = "invitation_policy";
/// Most users one `POST /api/v1/invitations` may select.
pub const MAX_USERS_PER_REQUEST: usize = 10_000;
/// Random bytes in a token (256 bits), sent as 43 characters of unpadded base64url.
const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

/// Whom an import invites when its `send_invitations` option is not given. Stored per tenant;
/// the default is [`InvitationPolicy::ActiveOnly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvitationPolicy {
    /// Nobody: invitations are sent only on request (`POST /api/v1/invitations`).
    Never,
    /// Every imported user with an email address.
    Always,
    /// Active users holding the `admin` (or `administrator`) role, case-insensitive, in `roles`.
    AdminsOnly,
    /// Users whose `active` is not `false`.
    #[default]
    ActiveOnly,
}

impl InvitationPolicy {
    pub const ALL: [InvitationPolicy; 4] =
        [InvitationPolicy::Never, InvitationPolicy::Always, InvitationPolicy::AdminsOnly, InvitationPolicy::ActiveOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationPolicy::Never => "never",
            InvitationPolicy::Always => "always",
            InvitationPolicy::AdminsOnly => "admins_only",
            InvitationPolicy::ActiveOnly => "active_only",
        }
    }

    /// Accepts the names of [`InvitationPolicy::as_str`] in any case, with `-` for `_`, and the
    /// short forms `admins` and `active`.
    pub fn parse(raw: &str) -> Option<InvitationPolicy> {
        let name = raw.trim().to_ascii_lowercase().replace('-', "_");
        match name.as_str() {
            "admins" => Some(InvitationPolicy::AdminsOnly),
            "active" => Some(InvitationPolicy::ActiveOnly),
            _ => InvitationPolicy::ALL.into_iter().find(|p| p.as_str() == name),
        }
    }

    /// Whether the policy invites this user (its SCIM JSON).
    pub fn covers(self, user: &Value) -> bool {
        match self {
            InvitationPolicy::Never => false,
            InvitationPolicy::Always => true,
            InvitationPolicy::AdminsOnly => is_active(user) && is_admin(user),
            InvitationPolicy::ActiveOnly => is_active(user),
        }
    }
}

/// A user is active when `active` is `true` (RFC 7643 §4.1.1). Every new user is stored with
/// `active: true`; one whose `active` was removed is in no known state and, as for the
/// `active eq true` filter, not active.
pub fn is_active(user: &Value) -> bool {
    user.get("active").and_then(Value::as_bool) == Some(true)
}

/// An administrator holds a `roles` value (RFC 7643 §4.1.2) of `admin` or `administrator`,
/// in any case.
pub fn is_admin(user: &Value) -> bool {
    user.get("roles").and_then(Value::as_array).is_some_and(|roles| {
        roles.iter().filter_map(|role| role.get("value").and_then(Value::as_str)).any(|value| {
            let value = value.trim();
            value.eq_ignore_ascii_case("admin") || value.eq_ignore_ascii_case("administrator")
        })
    })
}

/// Whether an import invites `user`: the import's own `send_invitations` option when given,
/// else the tenant's policy.
pub fn should_invite(policy: InvitationPolicy, import_option: Option<bool>, user: &StoredResource) -> bool {
    import_option.unwrap_or_else(|| policy.covers(&user.data))
}

/// The tenant's policy, or the default when none was set.
pub fn invitation_policy(repo: &mut dyn Repository, tenant: &TenantId) -> ProvisionResult<InvitationPolicy> {
    Ok(repo.tenant_setting(tenant, POLICY_KEY)?.as_deref().and_then(InvitationPolicy::parse).unwrap_or_default())
}

pub fn set_invitation_policy(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    policy: InvitationPolicy,
) -> ProvisionResult<()> {
    Ok(repo.put_tenant_setting(tenant, POLICY_KEY, policy.as_str())?)
}

/// The link template (`ROSTER_INVITATION_LINK_TEMPLATE`): `{token}` is required; `{public_url}`,
/// `{tenant}` and `{user_id}` may appear; nothing else in braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplate(String);

impl LinkTemplate {
    const PLACEHOLDERS: [&'static str; 4] = ["{token}", "{public_url}", "{tenant}", "{user_id}"];

    pub fn parse(template: &str) -> Result<LinkTemplate, String> {
        let template = template.trim();
        if !template.contains("{token}") {
            return Err(format!("the invitation link template \"{template}\" must contain {{token}}"));
        }
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').map(|e| start + e + 1).unwrap_or(rest.len());
            let placeholder = &rest[start..end];
            if !Self::PLACEHOLDERS.contains(&placeholder) {
                return Err(format!(
                    "unknown placeholder {placeholder} in the invitation link template; use {}",
                    Self::PLACEHOLDERS.join(", ")
                ));
            }
            rest = &rest[end..];
        }
        Ok(LinkTemplate(template.to_string()))
    }

    pub fn render(&self, public_url: &str, token: &str, tenant: &TenantId, user_id: &str) -> String {
        self.0
            .replace("{public_url}", public_url.trim_end_matches('/'))
            .replace("{tenant}", tenant.as_str())
            .replace("{user_id}", user_id)
            .replace("{token}", token)
    }
}

/// What an invitation needs besides the user: where its link points and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationSettings {
    pub link: LinkTemplate,
    /// Base URL for `{public_url}`: `ROSTER_PUBLIC_URL`, else the address the server listens on.
    pub public_url: String,
    pub ttl: Duration,
}

impl InvitationSettings {
    pub fn new(link_template: &str, public_url: &str, ttl: Duration) -> Result<InvitationSettings, String> {
        Ok(InvitationSettings { link: LinkTemplate::parse(link_template)?, public_url: public_url.to_string(), ttl })
    }

    pub fn from_config(settings: &MailSettings, public_url: &str) -> Result<InvitationSettings, String> {
        InvitationSettings::new(&settings.invitation_link_template, public_url, settings.invitation_ttl)
    }
}

/// Whether a call queued a new invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    /// A new invitation and its message were queued.
    Queued,
    /// The user already had an open, unexpired invitation; nothing was written.
    AlreadyPending,
}

/// The invitation a user now has.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedInvitation {
    pub status: QueueStatus,
    pub invitation_id: String,
    pub user_id: String,
    pub recipient: String,
    pub expires_at: DateTime<Utc>,
}

/// Where a user's invitation goes: the primary email, else the first one (RFC 7643 §4.1.2).
/// The error says why there is none, in words an import report can show.
pub fn invitation_recipient(user: &StoredResource) -> Result<String, String> {
    fn value_of(email: &Value) -> Option<&str> {
        email.get("value").and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty())
    }
    let emails = user.data.get("emails").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let is_primary = |email: &&Value| email.get("primary").and_then(Value::as_bool).unwrap_or(false);
    let chosen = emails.iter().find(is_primary).and_then(value_of).or_else(|| emails.iter().find_map(value_of));
    let name = user.data.get("userName").and_then(Value::as_str).unwrap_or(&user.id);
    let address = chosen.ok_or_else(|| format!("user {name} has no email address to send an invitation to"))?;
    validate_address(address).map_err(|e| format!("user {name}: {e}"))?;
    Ok(address.to_string())
}

/// The user's open, unexpired invitation, if any.
pub fn invitation_pending(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    user_id: &str,
) -> ProvisionResult<Option<Invitation>> {
    let now = Utc::now();
    Ok(repo.open_invitations(tenant, &[user_id])?.into_iter().find(|invitation| invitation.expires_at > now))
}

/// Queues an invitation for `user` unless one is pending. Call inside the transaction that
/// writes the user, so both are committed or neither. A user without a usable email address is
/// a `400 invalidValue` error naming the user.
pub fn queue_invitation(
    repo: &mut dyn Repository,
    settings: &InvitationSettings,
    tenant: &TenantId,
    user: &StoredResource,
) -> ProvisionResult<QueuedInvitation> {
    one(queue_invitations(repo, settings, tenant, &[user], Delivery::UnlessPending)?)
}

/// Queues a fresh invitation for `user`; the links of earlier unused ones stop working and
/// their messages, if still unsent, are cancelled.
pub fn resend_invitation(
    repo: &mut dyn Repository,
    settings: &InvitationSettings,
    tenant: &TenantId,
    user: &StoredResource,
) -> ProvisionResult<QueuedInvitation> {
    one(queue_invitations(repo, settings, tenant, &[user], Delivery::Fresh)?)
}

fn one(mut outcomes: Vec<Result<QueuedInvitation, String>>) -> ProvisionResult<QueuedInvitation> {
    let outcome = outcomes.pop().expect("one outcome per user");
    outcome.map_err(|reason| ScimError::invalid_value(reason).into())
}

/// What [`queue_invitations`] does for a user who has an open invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Keep it while it is unexpired ([`QueueStatus::AlreadyPending`]); replace an expired one.
    UnlessPending,
    /// Always replace it (a resend): its link stops working, its unsent message is cancelled.
    Fresh,
}

/// Queues invitations for several users in the caller's transaction, with a fixed number of
/// statements whatever their number (one read of the open invitations, multi-row inserts of the
/// invitations and of their messages). One outcome per user, in order: `Err` says why a user
/// has no usable email address. A user listed twice gets one invitation (the second outcome is
/// [`QueueStatus::AlreadyPending`]).
pub fn queue_invitations(
    repo: &mut dyn Repository,
    settings: &InvitationSettings,
    tenant: &TenantId,
    users: &[&StoredResource],
    delivery: Delivery,
) -> ProvisionResult<Vec<Result<QueuedInvitation, String>>> {
    let now = Utc::now();
    let recipients: Vec<Result<String, String>> = users.iter().map(|user| invitation_recipient(user)).collect();
    let Decisions { mut outcomes, fresh, replaced } = decide(repo, tenant, users, &recipients, delivery, now)?;
    if !replaced.is_empty() {
        repo.revoke_open_invitations(tenant, &replaced, now)?;
    }
    create_invitations(repo, settings, tenant, &fresh, now, &mut outcomes)?;
    Ok(in_order(users, &recipients, &outcomes, |outcome| outcome.status = QueueStatus::AlreadyPending))
}

/// What [`queue_invitations`] would do, decided alike (the same read of the open invitations)
/// but writing nothing: for a preview, which must count the invitations its commit will queue
/// without queueing them.
pub fn plan_invitations(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    users: &[&StoredResource],
    delivery: Delivery,
) -> ProvisionResult<Vec<Result<QueueStatus, String>>> {
    let recipients: Vec<Result<String, String>> = users.iter().map(|user| invitation_recipient(user)).collect();
    let decided = decide(repo, tenant, users, &recipients, delivery, Utc::now())?;
    let mut statuses: HashMap<&str, QueueStatus> =
        decided.outcomes.keys().map(|id| (*id, QueueStatus::AlreadyPending)).collect();
    statuses.extend(decided.fresh.iter().map(|(user, _)| (user.id.as_str(), QueueStatus::Queued)));
    Ok(in_order(users, &recipients, &statuses, |status| *status = QueueStatus::AlreadyPending))
}

/// Who gets a new invitation: each addressed user once, in order.
struct Decisions<'a> {
    /// Users whose open, unexpired invitation stays.
    outcomes: HashMap<&'a str, QueuedInvitation>,
    /// Users to give a new invitation, with their address.
    fresh: Vec<(&'a StoredResource, &'a str)>,
    /// Users whose open invitations are to be revoked first.
    replaced: Vec<&'a str>,
}

fn decide<'a>(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    users: &[&'a StoredResource],
    recipients: &'a [Result<String, String>],
    delivery: Delivery,
    now: DateTime<Utc>,
) -> ProvisionResult<Decisions<'a>> {
    let mut seen = HashSet::new();
    let addressed: Vec<(&StoredResource, &str)> = users
        .iter()
        .zip(recipients)
        .filter_map(|(user, recipient)| Some((*user, recipient.as_deref().ok()?)))
        .filter(|(user, _)| seen.insert(user.id.as_str()))
        .collect();
    let ids: Vec<&str> = addressed.iter().map(|(user, _)| user.id.as_str()).collect();
    let mut outcomes: HashMap<&str, QueuedInvitation> = HashMap::with_capacity(ids.len());
    let mut open: HashMap<String, Invitation> = HashMap::new();
    if delivery == Delivery::UnlessPending && !ids.is_empty() {
        open = repo.open_invitations(tenant, &ids)?.into_iter().map(|i| (i.user_id.clone(), i)).collect();
    }
    let mut replaced: Vec<&str> = Vec::new();
    let mut fresh: Vec<(&StoredResource, &str)> = Vec::new();
    for (user, recipient) in addressed {
        match open.remove(&user.id) {
            Some(pending_one) if pending_one.expires_at > now => {
                outcomes.insert(user.id.as_str(), pending(pending_one, recipient.to_string()));
            }
            Some(_) => {
                replaced.push(user.id.as_str());
                fresh.push((user, recipient));
            }
            None => fresh.push((user, recipient)),
        }
    }
    if delivery == Delivery::Fresh {
        replaced = fresh.iter().map(|(user, _)| user.id.as_str()).collect();
    }
    Ok(Decisions { outcomes, fresh, replaced })
}

/// One outcome per user, in order: the user's, or the reason it has no address; a user listed
/// again gets its outcome marked by `repeated`.
fn in_order<T: Clone>(
    users: &[&StoredResource],
    recipients: &[Result<String, String>],
    outcomes: &HashMap<&str, T>,
    repeated: impl Fn(&mut T),
) -> Vec<Result<T, String>> {
    let mut reported = HashSet::new();
    users
        .iter()
        .zip(recipients)
        .map(|(user, recipient)| {
            recipient.as_ref().map_err(Clone::clone).map(|_| {
                let mut outcome = outcomes[user.id.as_str()].clone();
                if !reported.insert(user.id.as_str()) {
                    repeated(&mut outcome);
                }
                outcome
            })
        })
        .collect()
}

fn pending(open: Invitation, recipient: String) -> QueuedInvitation {
    QueuedInvitation {
        status: QueueStatus::AlreadyPending,
        invitation_id: open.id,
        user_id: open.user_id,
        recipient,
        expires_at: open.expires_at,
    }
}

/// Stores a new invitation and its message for each user (who has no open invitation by now);
/// a user given one concurrently by another transaction keeps that one.
fn create_invitations<'a>(
    repo: &mut dyn Repository,
    settings: &InvitationSettings,
    tenant: &TenantId,
    users: &[(&'a StoredResource, &str)],
    now: DateTime<Utc>,
    outcomes: &mut HashMap<&'a str, QueuedInvitation>,
) -> ProvisionResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let ttl = chrono::Duration::from_std(settings.ttl).unwrap_or(chrono::Duration::MAX);
    let expires_at = now.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let tokens: Vec<String> = users.iter().map(|_| new_token()).collect();
    let invitations: Vec<Invitation> = users
        .iter()
        .zip(&tokens)
        .map(|((user, _), token)| Invitation {
            id: super::new_resource_id(),
            tenant: tenant.clone(),
            user_id: user.id.clone(),
            token_hash: token_hash(token),
            expires_at,
            used_at: None,
            revoked_at: None,
            created_at: now,
        })
        .collect();
    let stored: HashSet<String> = repo.insert_invitations(&invitations)?.into_iter().collect();
    let mut messages = Vec::with_capacity(stored.len());
    let mut raced = Vec::new();
    for (((user, recipient), token), invitation) in users.iter().zip(tokens).zip(invitations) {
        if !stored.contains(&invitation.id) {
            raced.push((user.id.as_str(), *recipient));
            continue;
        }
        // The mail itself is rendered by the outbox worker when it sends it (crate::mail::invitation).
        let link = settings.link.render(&settings.public_url, &token, tenant, &user.id);
        messages.push(NewOutboxMessage {
            id: super::new_resource_id(),
            tenant: tenant.clone(),
            kind: INVITATION_KIND.to_string(),
            recipient: recipient.to_string(),
            content: None,
            dedupe_key: format!("{INVITATION_KIND}:{tenant}:{}:{}", user.id, invitation.id),
            invitation_id: Some(invitation.id.clone()),
            redact: Some(token),
            link: Some(link),
            created_at: now,
        });
        outcomes.insert(
            user.id.as_str(),
            QueuedInvitation {
                status: QueueStatus::Queued,
                invitation_id: invitation.id,
                user_id: user.id.clone(),
                recipient: recipient.to_string(),
                expires_at: invitation.expires_at,
            },
        );
    }
    repo.enqueue_messages(&messages)?;
    if !raced.is_empty() {
        let ids: Vec<&str> = raced.iter().map(|(id, _)| *id).collect();
        let mut open: HashMap<String, Invitation> =
            repo.open_invitations(tenant, &ids)?.into_iter().map(|i| (i.user_id.clone(), i)).collect();
        for (id, recipient) in raced {
            let open = open.remove(id).ok_or_else(|| {
                ProvisionError::Scim(ScimError::new(409, None, "the invitation changed concurrently"))
            })?;
            outcomes.insert(id, pending(open, recipient.to_string()));
        }
    }
    Ok(())
}

fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Lowercase hex SHA-256: what the database keeps instead of the token.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Why a link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// No invitation has this token (mistyped or truncated link).
    Unknown,
    /// The password was already set with this link.
    Used,
    Expired,
    /// A newer invitation replaced this one.
    Replaced,
}

/// Why a chosen password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    Mismatch,
}

/// Why redeeming an invitation failed.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("invitation link not usable: {0:?}")]
    Token(TokenProblem),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
}

impl From<crate::store::StoreError> for AcceptError {
    fn from(error: crate::store::StoreError) -> AcceptError {
        AcceptError::Provision(error.into())
    }
}

/// A password a person chose: at least [`NewPassword::MIN_CHARS`] characters, typed twice alike.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(password: &str, confirmation: &str) -> Result<NewPassword, PasswordProblem> {
        let length = password.chars().count();
        if length < Self::MIN_CHARS {
            return Err(PasswordProblem::TooShort);
        }
        if length > Self::MAX_CHARS {
            return Err(PasswordProblem::TooLong);
        }
        if password != confirmation {
            return Err(PasswordProblem::Mismatch);
        }
        Ok(NewPassword(password.to_string()))
    }
}

/// What the set-password page shows about the account.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationView {
    pub user_name: String,
    pub expires_at: DateTime<Utc>,
}

/// The account whose password was set.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedInvitation {
    pub tenant: TenantId,
    pub user_id: String,
    pub user_name: String,
}

/// The invitation a token opens, or why it opens none. The stored hash is compared in constant
/// time; tokens of the wrong shape are refused without a query.
fn usable_invitation(
    repo: &mut dyn Repository,
    token: &str,
    now: DateTime<Utc>,
) -> ProvisionResult<Result<(Invitation, StoredResource), TokenProblem>> {
    let well_formed =
        token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Ok(Err(TokenProblem::Unknown));
    }
    let hash = token_hash(token);
    let Some(invitation) = repo.invitation_by_token_hash(&hash)? else {
        return Ok(Err(TokenProblem::Unknown));
    };
    if !constant_time_eq(invitation.token_hash.as_bytes(), hash.as_bytes()) {
        return Ok(Err(TokenProblem::Unknown));
    }
    let problem = if invitation.used_at.is_some() {
        Some(TokenProblem::Used)
    } else if invitation.revoked_at.is_some() {
        Some(TokenProblem::Replaced)
    } else if invitation.expires_at <= now {
        Some(TokenProblem::Expired)
    } else {
        None
    };
    if let Some(problem) = problem {
        return Ok(Err(problem));
    }
    let user = repo
        .get(&invitation.tenant, ResourceKind::User, &invitation.user_id)?
        .ok_or_else(|| not_found(ResourceKind::User, &invitation.user_id))?;
    Ok(Ok((invitation, user)))
}

fn user_name_of(user: &StoredResource) -> String {
    user.data.get("userName").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Which users `POST /api/v1/invitations` addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum InvitationTargets {
    Users(Vec<String>),
    Filter(Filter),
}

/// Why a user got no invitation from a request.
#[derive(Debug, Clone, PartialEq)]
pub enum InvitationRefusal {
    NotFound,
    /// No usable email address; the text says why.
    NoEmail(String),
    /// `apply_policy` was asked and the tenant's policy does not cover the user.
    NotCovered(InvitationPolicy),
}

/// The outcome for one user of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInvitation {
    pub user_id: String,
    pub outcome: Result<QueuedInvitation, InvitationRefusal>,
}

impl Provisioner {
    /// The tenant's invitation policy (the default when none was set).
    pub fn invitation_policy(&self, tenant: &TenantId) -> ProvisionResult<InvitationPolicy> {
        self.store.read(|repo| invitation_policy(repo, tenant))
    }

    pub fn set_invitation_policy(&self, tenant: &TenantId, policy: InvitationPolicy) -> ProvisionResult<()> {
        self.store.write(|repo| set_invitation_policy(repo, tenant, policy))
    }

    /// Invites the selected users in one transaction: a fresh invitation each when `resend`,
    /// otherwise only those without a pending one; with `apply_policy`, only users the tenant's
    /// policy covers. Each user is listed once, however often selected.
    pub fn invite_users(
        &self,
        settings: &InvitationSettings,
        tenant: &TenantId,
        targets: &InvitationTargets,
        resend: bool,
        apply_policy: bool,
    ) -> ProvisionResult<Vec<UserInvitation>> {
        self.store.write(|repo| {
            let users = select_users(repo, tenant, targets)?;
            let policy = invitation_policy(repo, tenant)?;
            let mut refusals = Vec::with_capacity(users.len());
            let mut invited = Vec::new();
            for (user_id, user) in &users {
                let refusal = match user {
                    None => Some(InvitationRefusal::NotFound),
                    Some(user) if apply_policy && !policy.covers(&user.data) => {
                        Some(InvitationRefusal::NotCovered(policy))
                    }
                    Some(user) => match invitation_recipient(user) {
                        Err(reason) => Some(InvitationRefusal::NoEmail(reason)),
                        Ok(_) => {
                            invited.push(user);
                            None
                        }
                    },
                };
                refusals.push((user_id, refusal));
            }
            let delivery = if resend { Delivery::Fresh } else { Delivery::UnlessPending };
            let mut queued = queue_invitations(repo, settings, tenant, &invited, delivery)?.into_iter();
            let results = refusals
                .into_iter()
                .map(|(user_id, refusal)| {
                    let outcome = match refusal {
                        Some(refusal) => Err(refusal),
                        None => {
                            queued.next().expect("one outcome per invited user").map_err(InvitationRefusal::NoEmail)
                        }
                    };
                    UserInvitation { user_id: user_id.clone(), outcome }
                })
                .collect();
            Ok(results)
        })
    }

    /// What the set-password page shows for a token, or why the token is not usable.
    pub fn check_invitation(&self, token: &str) -> Result<InvitationView, AcceptError> {
        let found = self.store.read(|repo| usable_invitation(repo, token, Utc::now()))?;
        let (invitation, user) = found.map_err(AcceptError::Token)?;
        Ok(InvitationView { user_name: user_name_of(&user), expires_at: invitation.expires_at })
    }

    /// Redeems a link: sets the user's password (argon2) and marks the invitation used, in one
    /// transaction, so a link sets a password at most once.
    pub fn accept_invitation(&self, token: &str, password: &NewPassword) -> Result<AcceptedInvitation, AcceptError> {
        self.check_invitation(token)?;
        let password_hash = hash_password(&password.0).map_err(ProvisionError::from)?;
        let accepted = self.retrying(|repo| {
            let now = Utc::now();
            let (invitation, user) = match usable_invitation(repo, token, now)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            if !repo.mark_invitation_used(&invitation.id, now)? {
                return Ok(Err(TokenProblem::Used));
            }
            let write = ResourceWrite { data: user.data.clone(), password_hash: Some(password_hash.clone()) };
            repo.update(&invitation.tenant, ResourceKind::User, &user.id, user.version, &write)?;
            Ok(Ok(AcceptedInvitation {
                tenant: invitation.tenant,
                user_id: user.id.clone(),
                user_name: user_name_of(&user),
            }))
        })?;
        accepted.map_err(AcceptError::Token)
    }
}

/// The selected users in request order, each once, `None` for ids not in the tenant.
fn select_users(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    targets: &InvitationTargets,
) -> ProvisionResult<Vec<(String, Option<StoredResource>)>> {
    let too_many = |n: usize| {
        ScimError::invalid_value(format!(
            "{n} users selected; at most {MAX_USERS_PER_REQUEST} per request: narrow the selection"
        ))
    };
    match targets {
        InvitationTargets::Users(ids) => {
            let mut seen = HashSet::new();
            let unique: Vec<&String> = ids.iter().filter(|id| seen.insert(id.as_str())).collect();
            if unique.len() > MAX_USERS_PER_REQUEST {
                return Err(too_many(unique.len()).into());
            }
            let wanted: Vec<&str> = unique.iter().map(|id| id.as_str()).collect();
            let mut found: HashMap<String, StoredResource> = repo
                .get_many(tenant, ResourceKind::User, &wanted)?
                .into_iter()
                .map(|user| (user.id.clone(), user))
                .collect();
            Ok(unique.into_iter().map(|id| (id.clone(), found.remove(id))).collect())
        }
        InvitationTargets::Filter(filter) => {
            let query = ListQuery {
                filter: Some(filter.clone()),
                sort: None,
                start_index: 1,
                count: MAX_USERS_PER_REQUEST as u64,
            };
            let page = repo.list(tenant, ResourceKind::User, &query)?;
            if page.total_results > MAX_USERS_PER_REQUEST as u64 {
                return Err(too_many(usize::try_from(page.total_results).unwrap_or(usize::MAX)).into());
            }
            Ok(page.resources.into_iter().map(|user| (user.id.clone(), Some(user))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::scim::schema::SchemaRegistry;
    use crate::store::{DatabaseUrl, Store};

    fn user(data: Value) -> StoredResource {
        StoredResource { id: "u1".into(), data, version: 1, created: Utc::now(), last_modified: Utc::now() }
    }

    #[test]
    fn each_policy_covers_the_users_it_names() {
        let active_admin = json!({"userName": "a", "active": true, "roles": [{"value": "Admin"}]});
        let inactive_admin = json!({"userName": "b", "active": false, "roles": [{"value": "administrator"}]});
        let active_user = json!({"userName": "c", "active": true, "roles": [{"value": "user"}]});
        let inactive_user = json!({"userName": "d", "active": false});
        let active_removed = json!({"userName": "e"});
        let cases = [
            (InvitationPolicy::Never, [false, false, false, false, false]),
            (InvitationPolicy::Always, [true, true, true, true, true]),
            (InvitationPolicy::AdminsOnly, [true, false, false, false, false]),
            (InvitationPolicy::ActiveOnly, [true, false, true, false, false]),
        ];
        for (policy, expected) in cases {
            let users = [&active_admin, &inactive_admin, &active_user, &inactive_user, &active_removed];
            let actual = users.map(|u| policy.covers(u));
            assert_eq!(actual, expected, "{policy:?}");
        }
    }

    #[test]
    fn the_import_option_overrides_the_policy() {
        let inactive = user(json!({"userName": "d", "active": false}));
        assert!(!should_invite(InvitationPolicy::ActiveOnly, None, &inactive));
        assert!(should_invite(InvitationPolicy::Never, Some(true), &inactive));
        assert!(!should_invite(InvitationPolicy::Always, Some(false), &inactive));
    }

    #[test]
    fn policies_parse_from_their_names_and_short_forms() {
        for policy in InvitationPolicy::ALL {
            assert_eq!(InvitationPolicy::parse(policy.as_str()), Some(policy));
        }
        assert_eq!(InvitationPolicy::parse("Admins-Only"), Some(InvitationPolicy::AdminsOnly));
        assert_eq!(InvitationPolicy::parse("admins"), Some(InvitationPolicy::AdminsOnly));
        assert_eq!(InvitationPolicy::parse("active"), Some(InvitationPolicy::ActiveOnly));
        assert_eq!(InvitationPolicy::parse("sometimes"), None);
        assert_eq!(InvitationPolicy::default(), InvitationPolicy::ActiveOnly);
    }

    #[test]
    fn link_templates_need_the_token_and_known_placeholders() {
        let tenant = TenantId::parse("acme").unwrap();
        let default = LinkTemplate::parse("{public_url}/onboarding/set-password?token={token}").unwrap();
        assert_eq!(
            default.render("https://roster.example/", "T0K", &tenant, "u1"),
            "https://roster.example/onboarding/set-password?token=T0K"
        );
        let app = LinkTemplate::parse("https://app.example.com/welcome?t={tenant}&u={user_id}&token={token}").unwrap();
        assert_eq!(app.render("x", "T0K", &tenant, "u1"), "https://app.example.com/welcome?t=acme&u=u1&token=T0K");
        assert!(LinkTemplate::parse("https://app.example.com/welcome").is_err());
        assert!(LinkTemplate::parse("https://x/{token}/{email}").is_err());
    }

    #[test]
    fn the_recipient_is_the_primary_email_else_the_first() {
        let primary = user(
            json!({"userName": "a", "emails": [{"value": "w@x.example"}, {"value": "p@x.example", "primary": true}]}),
        );
        assert_eq!(invitation_recipient(&primary).unwrap(), "p@x.example");
        let first = user(json!({"userName": "a", "emails": [{"value": " f@x.example "}, {"value": "s@x.example"}]}));
        assert_eq!(invitation_recipient(&first).unwrap(), "f@x.example");
        let none = user(json!({"userName": "nomail"}));
        assert!(invitation_recipient(&none).unwrap_err().contains("nomail has no email address"));
        let bad = user(json!({"userName": "a", "emails": [{"value": "not-an-address"}]}));
        assert!(invitation_recipient(&bad).is_err());
    }

    #[test]
    fn passwords_need_eight_characters_typed_twice_alike() {
        assert_eq!(NewPassword::parse("short", "short"), Err(PasswordProblem::TooShort));
        assert_eq!(NewPassword::parse("ünïcödé!", "ünïcödé!").map(|_| ()), Ok(()));
        assert_eq!(NewPassword::parse("long enough", "long enougH"), Err(PasswordProblem::Mismatch));
        assert_eq!(format!("{:?}", NewPassword::parse("long enough", "long enough").unwrap()), "NewPassword(***)");
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_compared() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_CHARS);
        assert_eq!(token_hash(&a).len(), 64);
        assert!(constant_time_eq(token_hash(&a).as_bytes(), token_hash(&a).as_bytes()));
        assert!(!constant_time_eq(token_hash(&a).as_bytes(), token_hash(&b).as_bytes()));
    }

    fn provisioner(dir: &tempfile::TempDir) -> Provisioner {
        let schemas = Arc::new(SchemaRegistry::standard());
        let url = DatabaseUrl::parse(&dir.path().join("invitations.db").to_string_lossy());
        Provisioner::new(Store::open(&url, 2, schemas.clone()).unwrap(), schemas)
    }

    fn settings() -> InvitationSettings {
        InvitationSettings::new(
            "{public_url}/onboarding/set-password?token={token}",
            "http://roster.test",
            Duration::from_secs(3600),
        )
        .unwrap()
    }

    #[test]
    fn queueing_twice_in_one_transaction_queues_one_invitation() {
        let dir = tempfile::tempdir().unwrap();
        let provisioner = provisioner(&dir);
        let tenant = TenantId::parse("acme").unwrap();
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ana",
            "emails": [{"value": "ana@example.com"}],
        });
        let created = provisioner.create(&tenant, ResourceKind::User, &body).unwrap().stored;
        let (first, second) = provisioner
            .store()
            .write(|repo| -> ProvisionResult<_> {
                Ok((
                    queue_invitation(repo, &settings(), &tenant, &created)?,
                    queue_invitation(repo, &settings(), &tenant, &created)?,
                ))
            })
            .unwrap();
        assert_eq!(first.status, QueueStatus::Queued);
        assert_eq!(second.status, QueueStatus::AlreadyPending);
        assert_eq!(first.invitation_id, second.invitation_id);
        let due =
            provisioner.store().write(|repo| repo.claim_messages("test", Utc::now(), Utc::now(), 100, None)).unwrap();
        assert_eq!(due.len(), 1, "one message");
        let link = due[0].link.as_deref().unwrap_or_default();
        assert!(link.starts_with("http://roster.test/onboarding/set-password?token="), "{link}");
        assert_eq!(due[0].content, None, "rendered when it is sent");
        assert_eq!(due[0].dedupe_key, format!("invitation:acme:{}:{}", created.id, first.invitation_id));
    }

    #[test]
    fn a_batch_gives_each_user_one_invitation_and_says_who_has_no_address() {
        let dir = tempfile::tempdir().unwrap();
        let provisioner = provisioner(&dir);
        let tenant = TenantId::parse("acme").unwrap();
        // More users than one multi-row INSERT takes, so the chunks are exercised.
        let users: Vec<StoredResource> = (0..1_200)
            .map(|n| {
                let mut body =
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{n}")});
                if n % 100 != 7 {
                    body["emails"] = json!([{"value": format!("u{n}@example.com")}]);
                }
                provisioner.create(&tenant, ResourceKind::User, &body).unwrap().stored
            })
            .collect();
        let mut batch: Vec<&StoredResource> = users.iter().collect();
        batch.push(&users[0]);
        let outcomes = provisioner
            .store()
            .write(|repo| queue_invitations(repo, &settings(), &tenant, &batch, Delivery::UnlessPending))
            .unwrap();
        assert_eq!(outcomes.len(), 1_201);
        let queued = outcomes.iter().filter(|o| matches!(o, Ok(q) if q.status == QueueStatus::Queued)).count();
        assert_eq!(queued, 1_188, "one each for the users with an address, the repeated one once");
        assert!(outcomes[7].as_ref().unwrap_err().contains("u7 has no email address"));
        let (first, again) = (outcomes[0].as_ref().unwrap(), outcomes[1_200].as_ref().unwrap());
        assert_eq!((again.status, &again.invitation_id), (QueueStatus::AlreadyPending, &first.invitation_id));

        let later = provisioner
            .store()
            .write(|repo| queue_invitations(repo, &settings(), &tenant, &batch, Delivery::UnlessPending))
            .unwrap();
        assert!(later.iter().flatten().all(|q| q.status == QueueStatus::AlreadyPending), "nothing queued twice");
        let due =
            provisioner.store().write(|repo| repo.claim_messages("test", Utc::now(), Utc::now(), 5_000, None)).unwrap();
        assert_eq!(due.len(), 1_188, "one message per invitation");
        let resent = provisioner
            .store()
            .write(|repo| queue_invitations(repo, &settings(), &tenant, &batch[..3], Delivery::Fresh))
            .unwrap();
        assert!(resent.iter().all(|q| q.as_ref().unwrap().status == QueueStatus::Queued));
        assert_ne!(resent[0].as_ref().unwrap().invitation_id, first.invitation_id, "a resend replaces the link");
    }

    #[test]
    fn a_resend_replaces_the_pending_invitation() {
        let dir = tempfile::tempdir().unwrap();
        let provisioner = provisioner(&dir);
        let tenant = TenantId::parse("acme").unwrap();
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bo",
            "emails": [{"value": "bo@example.com"}],
        });
        let created = provisioner.create(&tenant, ResourceKind::User, &body).unwrap().stored;
        let first = provisioner.store().write(|repo| queue_invitation(repo, &settings(), &tenant, &created)).unwrap();
        let second = provisioner.store().write(|repo| resend_invitation(repo, &settings(), &tenant, &created)).unwrap();
        assert_eq!(second.status, QueueStatus::Queued);
        assert_ne!(first.invitation_id, second.invitation_id);
        let pending = provisioner.store().write(|repo| invitation_pending(repo, &tenant, &created.id)).unwrap();
        assert_eq!(pending.map(|i| i.id), Some(second.invitation_id));
        let due =
            provisioner.store().write(|repo| repo.claim_messages("test", Utc::now(), Utc::now(), 100, None)).unwrap();
        assert_eq!(due.len(), 1, "the replaced invitation's unsent message was cancelled");
    }

    #[tokio::test]
    async fn the_worker_renders_an_invitation_when_it_sends_it_and_drops_one_no_longer_open() {
        use crate::mail::outbox::{OutboxSettings, OutboxWorker};
        use crate::mail::MemoryMailer;

        let dir = tempfile::tempdir().unwrap();
        let provisioner = provisioner(&dir);
        let tenant = TenantId::parse("acme").unwrap();
        let person = |name: &str| {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "displayName": format!("{name} Example"),
                "emails": [{"value": format!("{name}@example.com")}],
            });
            provisioner.create(&tenant, ResourceKind::User, &body).unwrap().stored
        };
        let (sent, used) = (person("cy"), person("di"));
        let store = provisioner.store();
        let queued = store.write(|repo| queue_invitation(repo, &settings(), &tenant, &sent)).unwrap();
        let spent = store.write(|repo| queue_invitation(repo, &settings(), &tenant, &used)).unwrap();
        assert!(store.write(|repo| repo.mark_invitation_used(&spent.invitation_id, Utc::now())).unwrap());

        let mailer = Arc::new(MemoryMailer::default());
        let outbox = OutboxSettings {
            poll_interval: Duration::from_millis(20),
            retry_delay: Duration::from_millis(1),
            max_retry_delay: Duration::from_millis(4),
            max_attempts: 3,
            lease: Duration::from_secs(5),
            batch_size: 10,
        };
        let worker = OutboxWorker::new(store.clone(), mailer.clone(), outbox);
        assert_eq!(worker.deliver_due().await.unwrap(), 2);
        assert_eq!(worker.deliver_due().await.unwrap(), 0, "both settled");
        let mail = mailer.sent();
        assert_eq!(mail.len(), 1, "nothing for the used invitation");
        assert_eq!(mail[0].to, "cy@example.com");
        assert_eq!(mail[0].subject, "Your account is ready: choose a password");
        assert!(mail[0].text.starts_with("Hello cy Example,"), "{}", mail[0].text);
        assert!(mail[0].text.contains("http://roster.test/onboarding/set-password?token="), "{}", mail[0].text);
        let expires = queued.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
        assert!(mail[0].text.contains(&expires), "{}", mail[0].text);
        assert!(mail[0].html.as_deref().unwrap_or_default().contains("cy Example"));
    }
}
