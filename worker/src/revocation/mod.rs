//! Revocation at every location: when the edge may trust KV's record for a token, and when
//! only the token's authority (its owner's ledger) may say it is valid.
//!
//! Workers KV is eventually consistent: a location may keep serving a cached record for a
//! minute or more after the ledger deleted or changed it. Two modes close that gap
//! (README, "Revocation and consistency"):
//!
//! - [`RevocationMode::Strict`]: the authority confirms every token, so nothing KV caches
//!   decides. Bound: none after the ledger commits, which is before `DELETE` answers.
//! - [`RevocationMode::Fast`]: before changing a token, the ledger publishes its hash to the
//!   revocation feed ([`log`]). Each isolate keeps a copy of the feed ([`feed`]), refreshed
//!   about once a second, and a token on it is decided by the authority. A copy older than
//!   [`FEED_MAX_AGE_MS`] vouches for nothing: the isolate refreshes it first, and asks the
//!   authority if it cannot. Bound: [`FEED_MAX_AGE_MS`] plus clock skew, stated as 3 s.
//!
//! [`Gate`] holds that decision over ports (the feed's source, the authority), so the
//! deterministic simulation in `simulation` drives this very code.

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod feed;
pub mod log;

#[cfg(test)]
mod simulation;

use patgate_core::identity::{TokenId, UserId};
use patgate_core::record::StoredRecord;
use patgate_core::token::StorageKey;

use crate::error::ApiError;
use crate::ledger::client::{LedgerClient, LedgerTransport};
use crate::ledger::protocol::LookupToken;
use crate::log as logging;
use crate::runtime::UnixMillis;
use crate::store::StoreError;
use feed::{FeedCopy, HashPrefix, Listing, Snapshot};

/// How long a changed hash stays on the feed: well above KV's propagation time (its cache
/// lifetime is 60 s), so that KV has converged by the time a token leaves the feed.
pub const FEED_WINDOW_MS: u64 = 15 * 60 * 1000;
/// An isolate refreshes its copy off the response path once the copy is this old.
pub const FEED_REFRESH_AFTER_MS: u64 = 1_000;
/// The oldest copy an isolate trusts to say "not changed recently". Fast mode's stated bound,
/// 3 s, is this plus up to a second of clock skew between the feed's object and the isolate.
pub const FEED_MAX_AGE_MS: u64 = 2_000;
/// Lifetime of the copy each data center shares through its cache.
pub const FEED_CACHE_SECONDS: u32 = 1;

/// `REVOCATION_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationMode {
    Strict,
    Fast,
}

impl RevocationMode {
    /// `strict` or `fast`; unset means `fast`.
    pub fn parse(setting: Option<&str>) -> Option<Self> {
        match setting {
            None => Some(Self::Fast),
            Some("fast") => Some(Self::Fast),
            Some("strict") => Some(Self::Strict),
            Some(_) => None,
        }
    }
}

/// Where an isolate gets a fresh copy of the feed (its data center's cache, else the feed's
/// object).
#[allow(async_fn_in_trait)]
pub trait FeedSource {
    async fn fetch(&self) -> Result<Snapshot, StoreError>;
}

/// Where a ledger publishes the hashes it is about to change.
#[allow(async_fn_in_trait)]
pub trait FeedPublisher {
    async fn publish(&self, prefixes: &[HashPrefix]) -> Result<(), StoreError>;
}

/// The authority on a token: its owner's ledger. Answers the token's current record as JSON,
/// or `None` if the ledger holds no token with that id and hash.
#[allow(async_fn_in_trait)]
pub trait Authority {
    async fn current_record(
        &self,
        user_id: &UserId,
        token_id: &TokenId,
        key: &StorageKey,
    ) -> Result<Option<String>, StoreError>;
}

impl<T: LedgerTransport> Authority for LedgerClient<T> {
    async fn current_record(
        &self,
        user_id: &UserId,
        token_id: &TokenId,
        key: &StorageKey,
    ) -> Result<Option<String>, StoreError> {
        let lookup = LookupToken {
            token_id: token_id.clone(),
            storage_key: key.clone(),
        };
        self.lookup(user_id, lookup).await
    }
}

/// What validation may trust once KV has answered with a record.
#[allow(async_fn_in_trait)]
pub trait Revocation {
    /// The record to verify the token against: KV's own, the authority's current one, or
    /// none (the authority knows no such token). A failure to decide is 503, never 401.
    async fn confirm(
        &self,
        from_kv: StoredRecord,
        now: UnixMillis,
    ) -> Result<Option<StoredRecord>, ApiError>;
}

/// The Worker's decision, for one isolate.
#[derive(Debug)]
pub struct Gate<'a, F, A> {
    pub mode: RevocationMode,
    pub feed: &'a FeedCopy,
    pub source: &'a F,
    pub authority: &'a A,
}

/// Refreshes `feed` from `source` if it is due and nobody else is at it.
pub async fn refresh_if_due<F: FeedSource>(feed: &FeedCopy, source: &F, now: UnixMillis) {
    if feed.claim_refresh(now) {
        refresh_claimed(feed, source, now).await;
    }
}

/// Performs a refresh claimed (with [`FeedCopy::claim_refresh`]) at `started`.
pub async fn refresh_claimed<F: FeedSource>(feed: &FeedCopy, source: &F, started: UnixMillis) {
    let fetched = source.fetch().await;
    if let Err(error) = &fetched {
        logging::error(&format!("revocation feed refresh failed: {error}"));
    }
    feed.refresh_done(started, fetched.ok());
}

impl<F: FeedSource, A: Authority> Gate<'_, F, A> {
    /// Whether KV's record for `key` may be trusted without asking the authority.
    async fn kv_is_trusted(&self, key: &StorageKey, now: UnixMillis) -> bool {
        match self.mode {
            RevocationMode::Strict => false,
            RevocationMode::Fast => match self.feed.listing(key, now) {
                Listing::Unlisted => true,
                Listing::Listed => false,
                Listing::NoFreshCopy => {
                    // Idle isolates land here: refresh before answering, and if that fails
                    // (or another refresh is under way), let the authority decide.
                    refresh_if_due(self.feed, self.source, now).await;
                    self.feed.listing(key, now) == Listing::Unlisted
                }
            },
        }
    }
}

impl<F: FeedSource, A: Authority> Revocation for Gate<'_, F, A> {
    async fn confirm(
        &self,
        from_kv: StoredRecord,
        now: UnixMillis,
    ) -> Result<Option<StoredRecord>, ApiError> {
        if self.kv_is_trusted(from_kv.key(), now).await {
            return Ok(Some(from_kv));
        }
        // KV's record may be stale, but the owner and the token id it names never change for
        // a hash: they say whom to ask.
        let record = from_kv.record();
        let answer = self
            .authority
            .current_record(&record.user_id, &record.token_id, from_kv.key())
            .await
            .map_err(|error| {
                logging::error(&format!("token authority unavailable: {error}"));
                ApiError::StoreUnavailable
            })?;
        answer
            .map(|json| {
                // Tied to the presented token's key, so `verify` checks it like KV's record.
                StoredRecord::decode(from_kv.key().clone(), &json).map_err(|error| {
                    logging::error(&format!("unusable record from the authority: {error}"));
                    ApiError::StoreUnavailable
                })
            })
            .transpose()
    }
}
