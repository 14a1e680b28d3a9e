//! The token lifecycle in the ledger, and its answers as the authority on its tokens. Each
//! change reaches KV and the revocation feed through `propagation`, in the order stated there.

use patgate_core::identity::{TokenId, RANDOM_BYTES_FOR_TOKEN_ID};
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, NewToken, RANDOM_BYTES_FOR_TOKEN};

use super::audit::{self, AuditAction};
use super::plan::Plan;
use super::propagation::{KvChange, KvState};
use super::protocol::{
    Account, CreateToken, CreatedToken, DeleteToken, LedgerError, LookupToken, RecordUse,
    RegenerateToken, TokenSummary, UpdateToken,
};
use super::schema::{
    decode, encode, load, token_key, Loaded, StoredAuditEvent, TokenEntry, SYNC_PREFIX,
    TOKEN_PREFIX,
};
use super::{Ledger, LedgerPorts};
use crate::log;
use crate::runtime::Entropy;
use crate::store::LedgerStorage;

/// Tokens one user may hold at once.
pub const MAX_TOKENS_PER_USER: usize = 200;
/// "Last used" is written at most this often per token.
pub const LAST_USED_INTERVAL_SECONDS: u64 = 5 * 60;

impl From<&TokenEntry> for TokenSummary {
    fn from(entry: &TokenEntry) -> Self {
        Self {
            id: entry.token_id.clone(),
            name: entry.name.clone(),
            hint: entry.hint.clone(),
            created_at: entry.created_at,
            expires_at: entry.expires_at,
            last_used_at: entry.last_used_at,
            last_used_from: entry.last_used_from.clone(),
        }
    }
}

fn describe_expiry(expires_at: Option<Timestamp>) -> String {
    match expires_at {
        None => "never expires".to_owned(),
        Some(at) => format!("expires {at}"),
    }
}

pub(super) fn token_event(
    action: AuditAction,
    entry: &TokenEntry,
    detail: Option<String>,
    now: Timestamp,
) -> StoredAuditEvent {
    StoredAuditEvent {
        at: now,
        action,
        token_id: Some(entry.token_id.clone()),
        token_name: Some(entry.name.as_str().to_owned()),
        detail,
    }
}

impl<P: LedgerPorts> Ledger<'_, P> {
    /// Every token entry, with its stored text.
    pub(super) async fn all_entries(&self) -> Result<Vec<Loaded<TokenEntry>>, LedgerError> {
        let mut entries = Vec::new();
        for (key, raw) in self.storage.list(TOKEN_PREFIX, false, usize::MAX).await? {
            let value = decode::<TokenEntry>(&key, &raw)?;
            entries.push(Loaded { key, raw, value });
        }
        Ok(entries)
    }

    pub(super) async fn list_tokens(&self, plan: Plan) -> Result<Vec<TokenSummary>, LedgerError> {
        self.commit(&plan).await?;
        let mut entries: Vec<TokenEntry> = self
            .all_entries()
            .await?
            .into_iter()
            .map(|loaded| loaded.value)
            .collect();
        entries.sort_unstable_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.token_id.cmp(&a.token_id))
        });
        Ok(entries.iter().map(TokenSummary::from).collect())
    }

    async fn entry(&self, token_id: &TokenId) -> Result<Loaded<TokenEntry>, LedgerError> {
        load(self.storage, token_key(token_id))
            .await?
            .ok_or(LedgerError::NotFound)
    }

    /// A fresh secret. Rejection sampling may, with negligible probability, need more bytes
    /// than one draw holds: then it draws again.
    fn new_secret(&self) -> Result<NewToken, LedgerError> {
        loop {
            if let Ok(token) = generate(&self.entropy.draw::<RANDOM_BYTES_FOR_TOKEN>()?) {
                return Ok(token);
            }
        }
    }

    /// A fresh token id, drawn again likewise.
    fn new_token_id(&self) -> Result<TokenId, LedgerError> {
        loop {
            if let Ok(id) = TokenId::generate(&self.entropy.draw::<RANDOM_BYTES_FOR_TOKEN_ID>()?) {
                return Ok(id);
            }
        }
    }

    pub(super) async fn create_token(
        &self,
        account: &Account,
        create: CreateToken,
        mut plan: Plan,
        now: Timestamp,
    ) -> Result<CreatedToken, LedgerError> {
        let held = self
            .storage
            .list(TOKEN_PREFIX, false, MAX_TOKENS_PER_USER)
            .await?;
        if held.len() >= MAX_TOKENS_PER_USER {
            return Err(LedgerError::TokenLimitReached);
        }
        let token = self.new_secret()?;
        let token_id = self.new_token_id()?;
        let entry = TokenEntry {
            token_id,
            storage_key: token.storage_key(),
            hint: token.hint().to_owned(),
            name: create.name,
            created_at: now,
            expires_at: create.expiry.expires_at(now),
            last_used_at: None,
            last_used_from: None,
        };
        plan.put(token_key(&entry.token_id), encode(&entry), None);
        let detail = describe_expiry(entry.expires_at);
        let event = token_event(AuditAction::Created, &entry, Some(detail), now);
        audit::append(self.storage, &mut plan, vec![event]).await?;
        self.remember_account(&mut plan, &account.email).await?;
        let change = [KvChange {
            key: entry.storage_key.clone(),
            state: KvState::Record(entry.record(&account.user_id, &account.email)),
        }];
        // A new hash has no stale answer anywhere: nothing to announce.
        let plan = self.commit_marked(plan, &change, now).await?;
        if self.propagate(&change).await > 0 {
            return Err(self.undo_unshown(&plan).await);
        }
        Ok(CreatedToken {
            token: TokenSummary::from(&entry),
            plaintext: token.as_str().to_owned(),
        })
    }

    /// Undoes a committed plan whose new secret could not be written to KV. Nobody has seen the
    /// secret, so the answer, 503, means "nothing happened". The markers stay, and the alarm
    /// removes any record the failed write left in KV.
    async fn undo_unshown(&self, plan: &Plan) -> LedgerError {
        if let Err(undo_error) = self.storage.commit(plan.undo_except(SYNC_PREFIX)).await {
            log::error(&format!(
                "ledger undo after a failed KV write failed: {undo_error}"
            ));
        }
        LedgerError::Unavailable
    }

    pub(super) async fn update_token(
        &self,
        account: &Account,
        update: UpdateToken,
        mut plan: Plan,
        now: Timestamp,
    ) -> Result<TokenSummary, LedgerError> {
        let before = self.entry(&update.token_id).await?;
        let mut after = before.value.clone();
        let mut changes = Vec::new();
        if let Some(name) = update.name.filter(|name| name != &before.value.name) {
            let detail = format!("{} → {}", before.value.name.as_str(), name.as_str());
            changes.push((AuditAction::Renamed, detail));
            after.name = name;
        }
        if let Some(expiry) = update.expiry {
            after.expires_at = expiry.expires_at(now);
            changes.push((
                AuditAction::ExpiryChanged,
                describe_expiry(after.expires_at),
            ));
        }
        if changes.is_empty() {
            self.commit(&plan).await?;
            return Ok(TokenSummary::from(&after));
        }
        let events = changes
            .into_iter()
            .map(|(action, detail)| token_event(action, &after, Some(detail), now))
            .collect();
        plan.put(before.key, encode(&after), Some(before.raw));
        audit::append(self.storage, &mut plan, events).await?;
        self.remember_account(&mut plan, &account.email).await?;
        let change = [KvChange {
            key: after.storage_key.clone(),
            state: KvState::Record(after.record(&account.user_id, &account.email)),
        }];
        self.commit_revocable(plan, &change, now).await?;
        Ok(TokenSummary::from(&after))
    }

    pub(super) async fn delete_token(
        &self,
        delete: DeleteToken,
        mut plan: Plan,
        now: Timestamp,
    ) -> Result<(), LedgerError> {
        let entry = self.entry(&delete.token_id).await?;
        let change = [KvChange {
            key: entry.value.storage_key.clone(),
            state: KvState::Absent,
        }];
        let event = token_event(AuditAction::Deleted, &entry.value, None, now);
        plan.delete(entry.key, entry.raw);
        audit::append(self.storage, &mut plan, vec![event]).await?;
        self.commit_revocable(plan, &change, now).await
    }

    /// Plans the deletion of every token; returns their KV changes (one per token).
    pub(super) async fn delete_all_tokens(
        &self,
        plan: &mut Plan,
    ) -> Result<Vec<KvChange>, LedgerError> {
        let entries = self.all_entries().await?;
        let mut changes = Vec::with_capacity(entries.len());
        for entry in entries {
            changes.push(KvChange {
                key: entry.value.storage_key,
                state: KvState::Absent,
            });
            plan.delete(entry.key, entry.raw);
        }
        Ok(changes)
    }

    /// Deletes every token in one commit and one audit event; returns how many there were.
    pub(super) async fn revoke_all_tokens(
        &self,
        mut plan: Plan,
        now: Timestamp,
    ) -> Result<usize, LedgerError> {
        let changes = self.delete_all_tokens(&mut plan).await?;
        let count = changes.len();
        if count > 0 {
            let event = StoredAuditEvent {
                at: now,
                action: AuditAction::RevokedAll,
                token_id: None,
                token_name: None,
                detail: Some(format!("{count} tokens")),
            };
            audit::append(self.storage, &mut plan, vec![event]).await?;
        }
        self.commit_revocable(plan, &changes, now).await?;
        Ok(count)
    }

    /// A new secret for an existing token. The new record is written to KV before the old one
    /// is deleted there; if that write fails, the regeneration is undone as a failed create is
    /// (the new secret was never shown), and the old secret keeps working.
    pub(super) async fn regenerate_token(
        &self,
        account: &Account,
        regenerate: RegenerateToken,
        mut plan: Plan,
        now: Timestamp,
    ) -> Result<CreatedToken, LedgerError> {
        let before = self.entry(&regenerate.token_id).await?;
        let token = self.new_secret()?;
        let after = TokenEntry {
            storage_key: token.storage_key(),
            hint: token.hint().to_owned(),
            expires_at: regenerate.expiry.expires_at(now),
            last_used_at: None,
            last_used_from: None,
            ..before.value.clone()
        };
        plan.put(before.key, encode(&after), Some(before.raw));
        let detail = describe_expiry(after.expires_at);
        let event = token_event(AuditAction::Regenerated, &after, Some(detail), now);
        audit::append(self.storage, &mut plan, vec![event]).await?;
        self.remember_account(&mut plan, &account.email).await?;
        let issued = KvChange {
            key: after.storage_key.clone(),
            state: KvState::Record(after.record(&account.user_id, &account.email)),
        };
        let retired = KvChange {
            key: before.value.storage_key,
            state: KvState::Absent,
        };
        self.announce(std::slice::from_ref(&retired)).await?;
        let plan = self
            .commit_marked(plan, &[issued.clone(), retired.clone()], now)
            .await?;
        if self.propagate(&[issued]).await > 0 {
            return Err(self.undo_unshown(&plan).await);
        }
        self.propagate(&[retired]).await;
        Ok(CreatedToken {
            token: TokenSummary::from(&after),
            plaintext: token.as_str().to_owned(),
        })
    }

    /// The lookup answer: the current record of the token with this id and hash, if any.
    pub(super) async fn current_record(
        &self,
        lookup: LookupToken,
    ) -> Result<Option<String>, LedgerError> {
        let Some(entry) = load::<TokenEntry>(self.storage, token_key(&lookup.token_id)).await?
        else {
            return Ok(None);
        };
        if entry.value.storage_key != lookup.storage_key {
            return Ok(None);
        }
        let Some(email) = self.account_email().await? else {
            log::error("ledger holds tokens but no account entry");
            return Err(LedgerError::Unavailable);
        };
        Ok(Some(entry.value.record(self.user_id, &email).encode()))
    }

    pub(super) async fn record_use(
        &self,
        used: RecordUse,
        now: Timestamp,
    ) -> Result<(), LedgerError> {
        let stored = match self.entry(&used.token_id).await {
            // A use of a token deleted meanwhile is not an error: there is nothing to record.
            Err(LedgerError::NotFound) => return Ok(()),
            other => other?,
        };
        let mut entry = stored.value;
        let recent = entry
            .last_used_at
            .is_some_and(|at| now.seconds_since(at) < LAST_USED_INTERVAL_SECONDS);
        let mut plan = Plan::default();
        if !recent {
            entry.last_used_at = Some(now);
            entry.last_used_from = used.from.filter(|place| !place.is_empty());
            plan.put(stored.key, encode(&entry), Some(stored.raw));
        }
        self.commit(&plan).await
    }
}
