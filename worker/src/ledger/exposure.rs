//! Tokens revoked because they were exposed: found in public by a secret scanner, or handed in
//! by someone holding them. The revocation takes the same path as a deletion (announced,
//! committed, written to KV); the ledger also keeps an [`StoredExposure`] per token, which
//! tells the owner at their next sign-in (until dismissed) and makes a later report of the
//! same token a recognised, harmless repeat.

use std::collections::HashMap;

use patgate_core::expiry::is_expired;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;

use super::audit::{self, AuditAction};
use super::plan::Plan;
use super::propagation::{KvChange, KvState};
use super::protocol::{
    DismissNotice, ExposedToken, ExposureCause, ExposureOutcome, LedgerError, Notice, RevokeExposed,
};
use super::schema::{
    decode, encode, exposure_key, Loaded, StoredExposure, TokenEntry, EXPOSURE_PREFIX,
};
use super::tokens::token_event;
use super::{Ledger, LedgerPorts};
use crate::store::LedgerStorage;

/// Exposure records kept per user; the oldest go first.
pub const EXPOSURE_RETENTION: usize = 500;

/// The audit event's action and detail for a token revoked for `cause`.
fn describe(cause: &ExposureCause) -> (AuditAction, String) {
    match cause {
        ExposureCause::SecretScanning(found) => {
            let at = found
                .url
                .as_deref()
                .map(|url| format!(" at {url}"))
                .unwrap_or_default();
            (
                AuditAction::RevokedLeaked,
                format!(
                    "revoked automatically: found in public {}{at}",
                    found.source
                ),
            )
        }
        ExposureCause::Holder => (AuditAction::RevokedByHolder, "revoked by a holder".into()),
    }
}

impl<P: LedgerPorts> Ledger<'_, P> {
    async fn exposures(&self) -> Result<Vec<Loaded<StoredExposure>>, LedgerError> {
        let mut records = Vec::new();
        for (key, raw) in self
            .storage
            .list(EXPOSURE_PREFIX, false, usize::MAX)
            .await?
        {
            let value = decode::<StoredExposure>(&key, &raw)?;
            records.push(Loaded { key, raw, value });
        }
        Ok(records)
    }

    /// Revokes each listed token the user holds that is live at `now`, in one commit, with an
    /// audit event and an exposure record each. An expired token (its KV record may outlive it
    /// briefly) is not live: nothing to revoke, no event, no notice ([`NotHeld`]).
    ///
    /// [`NotHeld`]: ExposureOutcome::NotHeld
    pub(super) async fn revoke_exposed(
        &self,
        revoke: RevokeExposed,
        now: Timestamp,
    ) -> Result<Vec<ExposureOutcome>, LedgerError> {
        let held: HashMap<StorageKey, Loaded<TokenEntry>> = self
            .all_entries()
            .await?
            .into_iter()
            .map(|loaded| (loaded.value.storage_key.clone(), loaded))
            .collect();
        let exposures = self.exposures().await?;
        let mut plan = Plan::default();
        let mut changes: Vec<KvChange> = Vec::new();
        let mut events = Vec::new();
        let mut records = Vec::new();
        let mut outcomes = Vec::with_capacity(revoke.tokens.len());
        for ExposedToken { key, cause } in revoke.tokens {
            let already = changes.iter().any(|change| change.key == key)
                || exposures
                    .iter()
                    .any(|record| record.key == exposure_key(&key));
            let live = held
                .get(&key)
                .filter(|entry| !is_expired(entry.value.expires_at, now));
            let outcome = match live {
                _ if already => ExposureOutcome::RevokedBefore,
                Some(entry) => {
                    let (action, detail) = describe(&cause);
                    events.push(token_event(action, &entry.value, Some(detail), now));
                    plan.delete(entry.key.clone(), entry.raw.clone());
                    let record = StoredExposure {
                        token_id: entry.value.token_id.clone(),
                        token_name: entry.value.name.clone(),
                        hint: entry.value.hint.clone(),
                        cause,
                        revoked_at: now,
                        dismissed: false,
                    };
                    records.push((exposure_key(&key), encode(&record)));
                    changes.push(KvChange {
                        key,
                        state: KvState::Exposed,
                    });
                    ExposureOutcome::Revoked
                }
                None => ExposureOutcome::NotHeld,
            };
            outcomes.push(outcome);
        }
        if changes.is_empty() {
            return Ok(outcomes);
        }
        // Retention: the oldest records make room for the new ones. The ledger's sorts are all
        // unstable, which links less code than a stable sort: each order is total, its ties
        // broken by a unique key, so stability would change nothing.
        let mut oldest_first = exposures;
        oldest_first.sort_unstable_by(|a, b| {
            (a.value.revoked_at, &a.key).cmp(&(b.value.revoked_at, &b.key))
        });
        let excess = (oldest_first.len() + records.len()).saturating_sub(EXPOSURE_RETENTION);
        for expired in oldest_first.into_iter().take(excess) {
            plan.delete(expired.key, expired.raw);
        }
        for (key, record) in records {
            plan.put(key, record, None);
        }
        audit::append(self.storage, &mut plan, events).await?;
        self.commit_revocable(plan, &changes, now).await?;
        Ok(outcomes)
    }

    pub(super) async fn notices(&self, plan: Plan) -> Result<Vec<Notice>, LedgerError> {
        self.commit(&plan).await?;
        let mut notices: Vec<Notice> = self
            .exposures()
            .await?
            .into_iter()
            .filter(|record| !record.value.dismissed)
            .map(|record| Notice {
                token_id: record.value.token_id,
                token_name: record.value.token_name,
                hint: record.value.hint,
                cause: record.value.cause,
                revoked_at: record.value.revoked_at,
            })
            .collect();
        notices.sort_unstable_by(|a, b| {
            b.revoked_at
                .cmp(&a.revoked_at)
                .then_with(|| b.token_id.cmp(&a.token_id))
        });
        Ok(notices)
    }

    /// Marks the notice about `token_id` dismissed; the record stays (see the module docs).
    pub(super) async fn dismiss_notice(
        &self,
        dismiss: DismissNotice,
        mut plan: Plan,
    ) -> Result<(), LedgerError> {
        let record = self
            .exposures()
            .await?
            .into_iter()
            .find(|record| !record.value.dismissed && record.value.token_id == dismiss.token_id)
            .ok_or(LedgerError::NotFound)?;
        let dismissed = StoredExposure {
            dismissed: true,
            ..record.value
        };
        plan.put(record.key, encode(&dismissed), Some(record.raw));
        self.commit(&plan).await
    }
}
