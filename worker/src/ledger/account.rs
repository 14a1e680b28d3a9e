//! The account's lifecycle at the platform: when it disables an account, the account's tokens
//! stop (they act with its permissions) and so do its console sessions, which could otherwise
//! create new tokens until they time out.

use patgate_core::time::Timestamp;

use super::audit::{self, AuditAction};
use super::plan::Plan;
use super::protocol::{LedgerError, PlatformRevocation, RevokeAllForPlatform};
use super::schema::{StoredAuditEvent, SESSION_PREFIX};
use super::{Ledger, LedgerPorts};
use crate::store::LedgerStorage;

/// "1 token", "2 tokens".
fn counted(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        _ => format!("{count} {noun}s"),
    }
}

impl<P: LedgerPorts> Ledger<'_, P> {
    /// Revokes every token and ends every session in one commit, with one audit event naming
    /// who asked. A user patgate has never seen has nothing to revoke, and nothing is written.
    pub(super) async fn revoke_all_for_platform(
        &self,
        request: RevokeAllForPlatform,
        now: Timestamp,
    ) -> Result<PlatformRevocation, LedgerError> {
        let mut plan = Plan::default();
        let changes = self.delete_all_tokens(&mut plan).await?;
        let sessions = self.storage.list(SESSION_PREFIX, false, usize::MAX).await?;
        let outcome = PlatformRevocation {
            revoked: changes.len(),
            sessions_ended: sessions.len(),
        };
        if self.account_email().await?.is_none() && plan.is_empty() && sessions.is_empty() {
            return Ok(outcome);
        }
        for (key, raw) in sessions {
            plan.delete(key, raw);
        }
        let reason = request
            .reason
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        let event = StoredAuditEvent {
            at: now,
            action: AuditAction::RevokedAllByPlatform,
            token_id: None,
            token_name: None,
            detail: Some(format!(
                "{} and {}; requested by {}{reason}",
                counted(outcome.revoked, "token"),
                counted(outcome.sessions_ended, "session"),
                request.requested_by
            )),
        };
        audit::append(self.storage, &mut plan, vec![event]).await?;
        self.commit_revocable(plan, &changes, now).await?;
        Ok(outcome)
    }
}
