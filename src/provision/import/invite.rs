//! Invitations for the users an import creates, through the invitations use case: queued in the
//! transaction that writes the user, one per person however many rows name them.

use super::Inviter;
use crate::provision::invitations::{
    invitation_policy, invitation_recipient, queue_invitation, should_invite, InvitationSettings, QueueStatus,
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
    ) -> ProvisionResult<bool> {
        let policy = invitation_policy(repo, tenant)?;
        if !should_invite(policy, option, user) || invitation_recipient(user).is_err() {
            return Ok(false);
        }
        Ok(queue_invitation(repo, &self.settings, tenant, user)?.status == QueueStatus::Queued)
    }
}
