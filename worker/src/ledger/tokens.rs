//! The token lifecycle in the ledger, and the one place that keeps KV in step with it (see the
//! ordering invariant in the module above).

use patgate_core::identity::{TokenId, RANDOM_BYTES_FOR_TOKEN_ID};
use patgate_core::record::TokenRecord;
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, NewToken, StorageKey, RANDOM_BYTES_FOR_TOKEN};

use super::audit::{self, AuditAction};
use super::plan::Plan;
use super::protocol::{
    Account, CreateToken, CreatedToken, DeleteToken, LedgerError, RecordUse, TokenSummary,
    UpdateToken,
};
use super::schema::TOKEN_PREFIX;
use super::schema::{decode, encode, load, token_key, Loaded, StoredAuditEvent, TokenEntry};
use super::Ledger;
use crate::log;
use crate::runtime::Entropy;
use crate::store::{LedgerStorage, TokenStore};

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

fn token_event(
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

impl<L: LedgerStorage, T: TokenStore, E: Entropy> Ledger<'_, L, T, E> {
    pub(super) async fn list_tokens(&self, plan: Plan) -> Result<Vec<TokenSummary>, LedgerError> {
        self.commit(&plan).await?;
        let mut entries = self
            .storage
            .list(TOKEN_PREFIX, false, usize::MAX)
            .await?
            .into_iter()
            .map(|(key, json)| decode::<TokenEntry>(&key, &json))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| {
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

    /// A fresh token and id. Rejection sampling may, with negligible probability, need more
    /// bytes than one draw holds: then it draws again.
    fn new_secret(&self) -> Result<(NewToken, TokenId), LedgerError> {
        let token = loop {
            if let Ok(token) = generate(&self.entropy.draw::<RANDOM_BYTES_FOR_TOKEN>()?) {
                break token;
            }
        };
        let token_id = loop {
            if let Ok(id) = TokenId::generate(&self.entropy.draw::<RANDOM_BYTES_FOR_TOKEN_ID>()?) {
                break id;
            }
        };
        Ok((token, token_id))
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
        let (token, token_id) = self.new_secret()?;
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
        let record = entry.record(&account.user_id, &account.email);
        self.commit_then_write_kv(plan, &entry.storage_key, &record)
            .await?;
        Ok(CreatedToken {
            token: TokenSummary::from(&entry),
            plaintext: token.as_str().to_owned(),
        })
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
        let record = after.record(&account.user_id, &account.email);
        self.commit_then_write_kv(plan, &after.storage_key, &record)
            .await?;
        Ok(TokenSummary::from(&after))
    }

    pub(super) async fn delete_token(
        &self,
        delete: DeleteToken,
        mut plan: Plan,
        now: Timestamp,
    ) -> Result<(), LedgerError> {
        let entry = self.entry(&delete.token_id).await?;
        // KV first: once this succeeds the token no longer validates, whatever happens next.
        // If the ledger commit then fails, the entry stays and a retry finishes the job.
        self.tokens.delete(&entry.value.storage_key).await?;
        let event = token_event(AuditAction::Deleted, &entry.value, None, now);
        plan.delete(entry.key, entry.raw);
        audit::append(self.storage, &mut plan, vec![event]).await?;
        self.commit(&plan).await
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

    /// Commits the ledger's plan, then writes the KV record; if KV fails, the plan is undone
    /// exactly, so the ledger again matches what KV holds.
    async fn commit_then_write_kv(
        &self,
        plan: Plan,
        key: &StorageKey,
        record: &TokenRecord,
    ) -> Result<(), LedgerError> {
        self.commit(&plan).await?;
        if let Err(error) = self.tokens.put(key, &record.encode()).await {
            if let Err(undo_error) = self.storage.commit(plan.undo()).await {
                log::error(&format!(
                    "ledger undo after a failed KV write failed: {undo_error}"
                ));
            }
            return Err(error.into());
        }
        Ok(())
    }
}
