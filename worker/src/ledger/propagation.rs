//! Keeping the validation copies (KV records, the revocation feed) in step with the ledger,
//! which is the source of truth and the authority on its tokens.
//!
//! A token change goes through these steps, in this order:
//!
//! 1. **Announce** ([`Ledger::announce`]): publish the hashes to the revocation feed, so that
//!    in fast mode every isolate asks the authority about them from now on. A change that could
//!    turn a valid answer stale (update, delete, revoke all) is not committed without this; a
//!    create is not announced (no stale answer for a new hash exists).
//! 2. **Commit** ([`Ledger::commit_marked`]): one batch holding the plan and a `sync:<hash>`
//!    marker per hash, after arming the object's alarm. From here on the ledger answers
//!    lookups with the new state: strict mode sees it at once.
//! 3. **Write KV** ([`Ledger::write_kv`]), retrying 429 (one write per second per key) with
//!    backoff while the command still holds the object's lock.
//! 4. **Clear** the markers of the writes that succeeded ([`Ledger::propagate`]).
//!
//! A marker left behind (a KV failure, a crash) is found by the alarm, which runs
//! [`Ledger::reconcile`]: it announces the hash again and rewrites KV from the ledger (deleting
//! what the ledger no longer holds) until KV matches. Because step 1 precedes every KV write,
//! a hash stays on the feed for its whole window after KV last changed it.

use std::collections::HashMap;

use patgate_core::identity::Email;
use patgate_core::record::TokenRecord;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;

use super::plan::Plan;
use super::protocol::LedgerError;
use super::schema::{
    decode, encode, load, sync_key, StoredAccount, TokenEntry, ACCOUNT_KEY, SYNC_PREFIX,
    TOKEN_PREFIX,
};
use super::{Ledger, LedgerPorts};
use crate::log;
use crate::revocation::feed::HashPrefix;
use crate::revocation::FeedPublisher;
use crate::runtime::{Sleep, UnixMillis};
use crate::store::{KvWriteError, LedgerStorage, StoreError, TokenStore};

/// Waits between KV writes answered 429. KV allows one write per second per key, so a rename
/// followed at once by a delete needs about a second; the total stays under five.
pub const KV_RETRY_DELAYS_MS: [u64; 4] = [500, 1_000, 1_000, 2_000];
/// When the alarm first checks a change's markers (normally cleared long before).
pub const RECONCILE_AFTER_MS: u64 = 5_000;
/// How often the alarm retries while markers remain.
pub const RECONCILE_RETRY_MS: u64 = 30_000;

/// What KV should hold for one hash: the record, or nothing.
#[derive(Debug, Clone)]
pub struct KvChange {
    pub key: StorageKey,
    pub record: Option<TokenRecord>,
}

fn millis(at: Timestamp) -> UnixMillis {
    UnixMillis(at.unix_seconds().saturating_mul(1000))
}

impl<P: LedgerPorts> Ledger<'_, P> {
    /// Step 1: puts the hashes on the revocation feed.
    pub(super) async fn announce(&self, changes: &[KvChange]) -> Result<(), LedgerError> {
        let prefixes: Vec<HashPrefix> = changes.iter().map(|c| HashPrefix::of(&c.key)).collect();
        if prefixes.is_empty() {
            return Ok(());
        }
        Ok(self.feed.publish(&prefixes).await?)
    }

    /// Step 2: commits `plan` with a marker per changed hash, once the alarm that would find a
    /// forgotten marker is armed. Returns the plan as committed, for an exact undo.
    pub(super) async fn commit_marked(
        &self,
        mut plan: Plan,
        changes: &[KvChange],
        now: Timestamp,
    ) -> Result<Plan, LedgerError> {
        let existing: HashMap<String, String> = self
            .storage
            .list(SYNC_PREFIX, false, usize::MAX)
            .await?
            .into_iter()
            .collect();
        for change in changes {
            let key = sync_key(&change.key);
            let before = existing.get(&key).cloned();
            plan.put(key, now.unix_seconds().to_string(), before);
        }
        self.storage
            .alarm_by(millis(now).saturating_add(RECONCILE_AFTER_MS))
            .await?;
        self.commit(&plan).await?;
        Ok(plan)
    }

    /// Step 3: makes KV hold what `change` says, retrying while KV answers 429.
    pub(super) async fn write_kv(&self, change: &KvChange) -> Result<(), StoreError> {
        let mut delays = KV_RETRY_DELAYS_MS.iter();
        loop {
            let written = match &change.record {
                Some(record) => {
                    let json = record.encode();
                    self.tokens.put(&change.key, &json, record.expires_at).await
                }
                None => self.tokens.delete(&change.key).await,
            };
            match (written, delays.next()) {
                (Ok(()), _) => return Ok(()),
                (Err(KvWriteError::RateLimited), Some(delay)) => self.sleep.sleep(*delay).await,
                (Err(KvWriteError::RateLimited), None) => {
                    return Err(StoreError("KV still rate limited after retries".into()))
                }
                (Err(KvWriteError::Failed(error)), _) => return Err(error),
            }
        }
    }

    /// Steps 1 to 4 for a change that could leave a stale "valid" answer behind (an update, a
    /// deletion, a new secret): announced, committed with its markers, written to KV. Once
    /// committed and announced the change is in force within the bound whatever KV does, so a
    /// failed KV write is left to the alarm. A plan without token changes is simply committed.
    pub(super) async fn commit_revocable(
        &self,
        plan: Plan,
        changes: &[KvChange],
        now: Timestamp,
    ) -> Result<(), LedgerError> {
        if changes.is_empty() {
            return self.commit(&plan).await;
        }
        self.announce(changes).await?;
        self.commit_marked(plan, changes, now).await?;
        self.propagate(changes).await;
        Ok(())
    }

    /// Steps 3 and 4: writes every change to KV and clears the markers of those written.
    /// Returns how many could not be written (their markers stay, for the alarm).
    pub(super) async fn propagate(&self, changes: &[KvChange]) -> usize {
        let mut written = Plan::default();
        let mut failed = 0;
        let markers: HashMap<String, String> =
            match self.storage.list(SYNC_PREFIX, false, usize::MAX).await {
                Ok(markers) => markers.into_iter().collect(),
                Err(error) => {
                    log::error(&format!("reading sync markers failed: {error}"));
                    HashMap::new()
                }
            };
        for change in changes {
            match self.write_kv(change).await {
                Ok(()) => {
                    let key = sync_key(&change.key);
                    if let Some(marker) = markers.get(&key) {
                        written.delete(key, marker.clone());
                    }
                }
                Err(error) => {
                    failed += 1;
                    log::error(&format!("KV write failed; the alarm will retry: {error}"));
                }
            }
        }
        if let Err(error) = self.commit(&written).await {
            // The markers stay: the alarm rewrites those hashes, which is harmless.
            log::error(&format!("clearing sync markers failed: {error:?}"));
        }
        failed
    }

    /// The email validation records carry, if the ledger has recorded it.
    pub(super) async fn account_email(&self) -> Result<Option<Email>, StoreError> {
        Ok(load::<StoredAccount>(self.storage, ACCOUNT_KEY.to_owned())
            .await?
            .map(|loaded| loaded.value.email))
    }

    /// What the alarm runs: brings KV in line with the ledger for every marked hash. Returns
    /// how many remain out of line; the alarm is re-armed first, so a failure here is
    /// retried whatever happens.
    pub async fn reconcile(&self, now: Timestamp) -> Result<usize, LedgerError> {
        let markers = self.storage.list(SYNC_PREFIX, false, usize::MAX).await?;
        if markers.is_empty() {
            return Ok(0);
        }
        self.storage
            .alarm_by(millis(now).saturating_add(RECONCILE_RETRY_MS))
            .await?;
        let mut entries = HashMap::new();
        for (key, json) in self.storage.list(TOKEN_PREFIX, false, usize::MAX).await? {
            let entry: TokenEntry = decode(&key, &json)?;
            entries.insert(entry.storage_key.clone(), entry);
        }
        let email = self.account_email().await?;
        let mut changes = Vec::new();
        for (marker, _) in &markers {
            let key = marker
                .strip_prefix(SYNC_PREFIX)
                .and_then(StorageKey::parse)
                .ok_or_else(|| StoreError(format!("unreadable sync marker {marker}")))?;
            let record = match (entries.get(&key), &email) {
                (None, _) => None,
                (Some(entry), Some(email)) => Some(entry.record(self.user_id, email)),
                (Some(_), None) => {
                    return Err(StoreError("tokens without an account entry".into()).into())
                }
            };
            changes.push(KvChange { key, record });
        }
        self.announce(&changes).await?;
        Ok(self.propagate(&changes).await)
    }

    /// Records the account's email if the ledger does not hold it yet (ledgers created before
    /// it was kept get it with their next change).
    pub(super) async fn remember_account(
        &self,
        plan: &mut Plan,
        email: &Email,
    ) -> Result<(), StoreError> {
        let stored = load::<StoredAccount>(self.storage, ACCOUNT_KEY.to_owned()).await?;
        if stored.as_ref().is_none_or(|s| &s.value.email != email) {
            let account = StoredAccount {
                email: email.clone(),
            };
            plan.put(
                ACCOUNT_KEY.to_owned(),
                encode(&account),
                stored.map(|s| s.raw),
            );
        }
        Ok(())
    }
}
