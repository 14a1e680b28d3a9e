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

use std::collections::{HashMap, HashSet};
use std::future::Future;

use patgate_core::identity::Email;
use patgate_core::record::TokenRecord;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;

use super::plan::Plan;
use super::protocol::LedgerError;
use super::schema::{
    decode, encode, exposure_key, load, sync_key, StoredAccount, TokenEntry, ACCOUNT_KEY,
    EXPOSURE_PREFIX, SYNC_PREFIX, TOKEN_PREFIX,
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
/// Hashes one alarm run rewrites, the rest waiting for the next run. A run is one invocation,
/// which may make at most 1,000 KV operations, and a hash takes at most two (an exposed
/// token's marker and its record's deletion), so markers piled up through a long KV outage
/// never overrun it.
pub const RECONCILE_MAX_HASHES: usize = 300;

/// What KV should hold for one hash.
#[derive(Debug, Clone)]
pub enum KvState {
    /// The token's validation record.
    Record(TokenRecord),
    /// Nothing: the token was deleted, revoked or replaced.
    Absent,
    /// No validation record, and an exposure marker naming this ledger's user: the token was
    /// revoked for exposure, and a later report of it must still find its owner (`leaks`).
    /// Each ledger writes its own tokens' markers, so a report naming a thousand tokens costs
    /// the Worker's invocation no KV write at all.
    Exposed,
}

/// A change of what KV holds for one hash.
#[derive(Debug, Clone)]
pub struct KvChange {
    pub key: StorageKey,
    pub state: KvState,
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
        let key = &change.key;
        match &change.state {
            KvState::Record(record) => {
                let json = record.encode();
                self.retrying(|| self.tokens.put(key, &json, record.expires_at))
                    .await
            }
            KvState::Absent => self.retrying(|| self.tokens.delete(key)).await,
            KvState::Exposed => {
                // The marker first, so that KV never holds neither: a report in between still
                // finds the owner. The record goes even if the marker failed; the change is
                // written only once both are.
                let marked = self
                    .retrying(|| self.tokens.mark_exposed(key, self.user_id))
                    .await;
                let deleted = self.retrying(|| self.tokens.delete(key)).await;
                marked.and(deleted)
            }
        }
    }

    /// Runs one KV write, again after each of [`KV_RETRY_DELAYS_MS`] while KV answers 429.
    async fn retrying<W: Future<Output = Result<(), KvWriteError>>>(
        &self,
        write: impl Fn() -> W,
    ) -> Result<(), StoreError> {
        let mut delays = KV_RETRY_DELAYS_MS.iter();
        loop {
            match (write().await, delays.next()) {
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

    /// What the alarm runs: brings KV in line with the ledger for the marked hashes, at most
    /// [`RECONCILE_MAX_HASHES`] of them. Returns how many remain out of line, those left for
    /// the next run included; the alarm is re-armed first, so a failure here is retried
    /// whatever happens.
    pub async fn reconcile(&self, now: Timestamp) -> Result<usize, LedgerError> {
        let mut markers = self.storage.list(SYNC_PREFIX, false, usize::MAX).await?;
        if markers.is_empty() {
            return Ok(0);
        }
        let left_for_later = markers.len().saturating_sub(RECONCILE_MAX_HASHES);
        markers.truncate(RECONCILE_MAX_HASHES);
        self.storage
            .alarm_by(millis(now).saturating_add(RECONCILE_RETRY_MS))
            .await?;
        let mut entries = HashMap::new();
        for (key, json) in self.storage.list(TOKEN_PREFIX, false, usize::MAX).await? {
            let entry: TokenEntry = decode(&key, &json)?;
            entries.insert(entry.storage_key.clone(), entry);
        }
        let exposed: HashSet<String> = self
            .storage
            .list(EXPOSURE_PREFIX, false, usize::MAX)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        let email = self.account_email().await?;
        let mut changes = Vec::new();
        for (marker, _) in &markers {
            let key = marker
                .strip_prefix(SYNC_PREFIX)
                .and_then(StorageKey::parse)
                .ok_or_else(|| StoreError(format!("unreadable sync marker {marker}")))?;
            let state = match (entries.get(&key), &email) {
                (None, _) if exposed.contains(&exposure_key(&key)) => KvState::Exposed,
                (None, _) => KvState::Absent,
                (Some(entry), Some(email)) => KvState::Record(entry.record(self.user_id, email)),
                (Some(_), None) => {
                    return Err(StoreError("tokens without an account entry".into()).into())
                }
            };
            changes.push(KvChange { key, state });
        }
        self.announce(&changes).await?;
        Ok(self.propagate(&changes).await + left_for_later)
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
