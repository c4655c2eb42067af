//! Invitations for the users an import creates, through the invitations use case: queued in the
//! transaction that writes the users, one per person however many rows name them, a batch of
//! users at a time (one policy read, one read of their open invitations, multi-row inserts).
//! A preview decides alike and writes nothing ([`plan_invitations`]).

use super::Inviter;
use crate::provision::invitations::{
    invitation_policy, invitation_recipient, plan_invitations, queue_invitations, should_invite, Delivery,
    InvitationSettings, QueueStatus,
};
use crate::provision::ProvisionResult;
use crate::store::{Repository, StoredResource};
use crate::tenant::TenantId;

/// Invites as the import's `send_invitations` option, else the tenant's policy, says.
pub struct PolicyInviter {
    settings: InvitationSettings,
}

impl PolicyInviter {
    pub fn new(settings: InvitationSettings) -> PolicyInviter {
        PolicyInviter { settings }
    }
}

impl Inviter for PolicyInviter {
    fn invite(
        &self,
        repo: &mut dyn Repository,
        tenant: &TenantId,
        user: &StoredResource,
        option: Option<bool>,
        dry_run: bool,
    ) -> ProvisionResult<bool> {
        Ok(self.invite_many(repo, tenant, &[user], option, dry_run)?.pop().unwrap_or(false))
    }

    fn invite_many(
        &self,
        repo: &mut dyn Repository,
        tenant: &TenantId,
        users: &[&StoredResource],
        option: Option<bool>,
        dry_run: bool,
    ) -> ProvisionResult<Vec<bool>> {
        if users.is_empty() || option == Some(false) {
            return Ok(vec![false; users.len()]);
        }
        // The policy matters only when the import does not say.
        let policy = match option {
            Some(_) => Default::default(),
            None => invitation_policy(repo, tenant)?,
        };
        // Users without a usable address are no error here: the import invites whom it can.
        let invited: Vec<bool> = users
            .iter()
            .map(|user| should_invite(policy, option, user) && invitation_recipient(user).is_ok())
            .collect();
        let chosen: Vec<&StoredResource> =
            users.iter().zip(&invited).filter(|(_, invite)| **invite).map(|(user, _)| *user).collect();
        let statuses = if dry_run {
            plan_invitations(repo, tenant, &chosen, Delivery::UnlessPending)?
        } else {
            let queued = queue_invitations(repo, &self.settings, tenant, &chosen, Delivery::UnlessPending)?;
            queued.into_iter().map(|outcome| outcome.map(|queued| queued.status)).collect()
        };
        let mut statuses = statuses.into_iter();
        Ok(invited
            .into_iter()
            .map(|invite| invite && matches!(statuses.next(), Some(Ok(QueueStatus::Queued))))
            .collect())
    }
}
