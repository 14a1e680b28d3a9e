//! Storage behind small interfaces, so that the logic above them can be tested natively with
//! faults injected.
//!
//! - [`TokenStore`]: the validation records in Workers KV, keyed by token hash.
//! - [`ExposureIndex`]: the same KV as leak reports and self-service revocation read it, in
//!   bulk, with the markers the ledgers leave for tokens revoked for exposure.
//! - [`LedgerStorage`]: a Durable Object's storage (a user's tokens, sessions and audit
//!   events; the revocation feed), which commits each change as one atomic [`Batch`].

use std::fmt;

use patgate_core::identity::UserId;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;
use serde::{Deserialize, Serialize};

use crate::runtime::UnixMillis;

/// A storage operation failed or timed out. Never an authentication answer: callers fail
/// closed with 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failure: {}", self.0)
    }
}

/// KV refuses an `expiration` less than this far ahead.
pub const KV_MIN_EXPIRATION_SECONDS: u64 = 60;

/// The KV `expiration` (unix seconds) for a record whose token expires at `expires_at`:
/// then, or a minute from `now` if that is sooner than KV accepts.
pub fn kv_expiration(expires_at: Timestamp, now: Timestamp) -> u64 {
    expires_at
        .unix_seconds()
        .max(now.unix_seconds().saturating_add(KV_MIN_EXPIRATION_SECONDS))
}

/// Whether a KV error is its write limit (HTTP 429). workerd reports it only in the message
/// ("KV PUT failed: 429 Too Many Requests").
pub fn is_rate_limit_message(message: &str) -> bool {
    message.contains("429")
}

/// A KV write that did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvWriteError {
    /// KV accepts one write per second per key and answers 429 beyond: worth retrying.
    RateLimited,
    Failed(StoreError),
}

impl fmt::Display for KvWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateLimited => f.write_str("KV write rate limited (429)"),
            Self::Failed(error) => error.fmt(f),
        }
    }
}

// The Worker runs single-threaded in one isolate, so these futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait TokenStore {
    async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError>;
    /// Writes a record; KV removes it by itself at `expires_at` (defence in depth: `verify`
    /// refuses an expired record anyway).
    async fn put(
        &self,
        key: &StorageKey,
        record_json: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), KvWriteError>;
    async fn delete(&self, key: &StorageKey) -> Result<(), KvWriteError>;
    /// Leaves an exposure marker under [`exposure_marker_key`]: `key` was `owner`'s token,
    /// revoked for exposure. KV drops it after [`EXPOSURE_MARKER_SECONDS`].
    async fn mark_exposed(&self, key: &StorageKey, owner: &UserId) -> Result<(), KvWriteError>;
}

/// How long an exposure marker stays in KV: long enough for a scanner to report the same token
/// again from another place, and for replays of a report.
pub const EXPOSURE_MARKER_SECONDS: u64 = 90 * 86_400;
/// Exposure markers live under this prefix, apart from validation records (whose keys are bare
/// hashes): validation never reads them.
pub const EXPOSURE_MARKER_PREFIX: &str = "exposed:";
/// Keys one bulk read may ask for (Workers KV's limit).
pub const KV_BULK_READ_KEYS: usize = 100;

pub fn exposure_marker_key(key: &StorageKey) -> String {
    format!("{EXPOSURE_MARKER_PREFIX}{key}")
}

/// What an exposure marker holds: the owner of the token revoked for exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureMarker {
    pub user_id: UserId,
}

/// The JSON of the exposure marker naming `owner`.
pub fn exposure_marker_json(owner: &UserId) -> String {
    let marker = ExposureMarker {
        user_id: owner.clone(),
    };
    #[allow(clippy::expect_used)]
    // Invariant: a struct of one string always serializes.
    serde_json::to_string(&marker).expect("an exposure marker always serializes")
}

/// The owners named by exposure markers, as read. A marker that does not read names nobody:
/// its token counts as unknown.
pub fn owners_of_markers(markers: Vec<(StorageKey, String)>) -> Vec<(StorageKey, UserId)> {
    markers
        .into_iter()
        .filter_map(|(key, json)| {
            let marker: ExposureMarker = patgate_core::json::from_text(&json).ok()?;
            Some((key, marker.user_id))
        })
        .collect()
}

/// KV as leak reports and self-service revocation read it. In bulk: a report may name
/// thousands of tokens, and one invocation may make at most 1,000 KV operations (a bulk read
/// of up to [`KV_BULK_READ_KEYS`] keys counts as one). And with exposure markers: a token
/// revoked for exposure has no validation record any more, but a marker still names its owner,
/// whose ledger recognises a repeated report of it.
///
/// Only reads: the Worker's invocation makes no KV operation per token. Each owner's ledger
/// writes its own tokens' markers ([`TokenStore::mark_exposed`]) in its own invocation, with
/// the revocation's other KV writes.
#[allow(async_fn_in_trait)]
pub trait ExposureIndex {
    /// The validation records KV holds for these keys.
    async fn records(&self, keys: &[StorageKey]) -> Result<Vec<(StorageKey, String)>, StoreError>;
    /// The owners that exposure markers name for these keys.
    async fn marked_owners(
        &self,
        keys: &[StorageKey],
    ) -> Result<Vec<(StorageKey, UserId)>, StoreError>;
}

/// Puts and deletes that take effect together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub puts: Vec<(String, String)>,
    pub deletes: Vec<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

#[allow(async_fn_in_trait)]
pub trait LedgerStorage {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Entries whose key starts with `prefix`, in key order (reversed if asked), at most `limit`.
    async fn list(
        &self,
        prefix: &str,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Applies every put and delete of `batch` atomically.
    async fn commit(&self, batch: Batch) -> Result<(), StoreError>;
    /// Makes sure the object's alarm fires no later than `at` (an earlier alarm stays).
    async fn alarm_by(&self, at: UnixMillis) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_expirations_are_at_least_a_minute_ahead() {
        let now = Timestamp::from_unix_seconds(1_000).unwrap();
        let later = Timestamp::from_unix_seconds(90_000).unwrap();
        assert_eq!(kv_expiration(later, now), 90_000);
        assert_eq!(kv_expiration(now, now), 1_060);
    }

    #[test]
    fn rate_limits_are_recognised_by_their_status() {
        assert!(is_rate_limit_message(
            "js error: Error: KV PUT failed: 429 Too Many Requests"
        ));
        assert!(!is_rate_limit_message("KV PUT failed: 500 Internal Error"));
    }
}

#[cfg(test)]
pub mod memory {
    //! In-memory stores with counters and switchable faults, for native tests.

    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    use super::*;

    /// Which operations fail. For [`MemoryLedgerStorage`], `put` fails any commit that writes
    /// and `delete` any commit that deletes.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct Faults {
        pub get: bool,
        pub put: bool,
        pub delete: bool,
    }

    #[derive(Debug, Default)]
    pub struct MemoryTokenStore {
        pub records: RefCell<BTreeMap<String, String>>,
        /// The KV expiration each record was written with.
        pub expirations: RefCell<BTreeMap<String, Timestamp>>,
        pub reads: Cell<usize>,
        pub writes: Cell<usize>,
        pub faults: Cell<Faults>,
        /// How many of the next writes answer 429.
        pub rate_limited_writes: Cell<usize>,
    }

    impl MemoryTokenStore {
        fn write(&self, enabled: bool, what: &str) -> Result<(), KvWriteError> {
            self.writes.set(self.writes.get() + 1);
            if self.rate_limited_writes.get() > 0 {
                self.rate_limited_writes
                    .set(self.rate_limited_writes.get() - 1);
                return Err(KvWriteError::RateLimited);
            }
            fail(enabled, what).map_err(KvWriteError::Failed)
        }
    }

    fn fail(enabled: bool, what: &str) -> Result<(), StoreError> {
        if enabled {
            Err(StoreError(format!("injected {what} failure")))
        } else {
            Ok(())
        }
    }

    impl TokenStore for MemoryTokenStore {
        async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError> {
            self.reads.set(self.reads.get() + 1);
            fail(self.faults.get().get, "get")?;
            Ok(self.records.borrow().get(key.as_str()).cloned())
        }

        async fn put(
            &self,
            key: &StorageKey,
            record_json: &str,
            expires_at: Option<Timestamp>,
        ) -> Result<(), KvWriteError> {
            self.write(self.faults.get().put, "put")?;
            let key = key.as_str().to_owned();
            let mut expirations = self.expirations.borrow_mut();
            match expires_at {
                Some(at) => expirations.insert(key.clone(), at),
                None => expirations.remove(&key),
            };
            self.records
                .borrow_mut()
                .insert(key, record_json.to_owned());
            Ok(())
        }

        async fn delete(&self, key: &StorageKey) -> Result<(), KvWriteError> {
            self.write(self.faults.get().delete, "delete")?;
            self.records.borrow_mut().remove(key.as_str());
            self.expirations.borrow_mut().remove(key.as_str());
            Ok(())
        }

        async fn mark_exposed(&self, key: &StorageKey, owner: &UserId) -> Result<(), KvWriteError> {
            self.write(self.faults.get().put, "put")?;
            self.records
                .borrow_mut()
                .insert(exposure_marker_key(key), exposure_marker_json(owner));
            Ok(())
        }
    }

    impl MemoryTokenStore {
        /// A bulk read of the values under `name(key)` for each key.
        fn bulk_read(
            &self,
            keys: &[StorageKey],
            name: impl Fn(&StorageKey) -> String,
        ) -> Result<Vec<(StorageKey, String)>, StoreError> {
            self.reads
                .set(self.reads.get() + keys.len().div_ceil(KV_BULK_READ_KEYS));
            fail(self.faults.get().get, "bulk get")?;
            let records = self.records.borrow();
            Ok(keys
                .iter()
                .filter_map(|key| Some((key.clone(), records.get(&name(key))?.clone())))
                .collect())
        }
    }

    impl ExposureIndex for MemoryTokenStore {
        async fn records(
            &self,
            keys: &[StorageKey],
        ) -> Result<Vec<(StorageKey, String)>, StoreError> {
            self.bulk_read(keys, |key| key.as_str().to_owned())
        }

        async fn marked_owners(
            &self,
            keys: &[StorageKey],
        ) -> Result<Vec<(StorageKey, UserId)>, StoreError> {
            Ok(owners_of_markers(
                self.bulk_read(keys, exposure_marker_key)?,
            ))
        }
    }

    #[derive(Debug, Default)]
    pub struct MemoryLedgerStorage {
        pub entries: RefCell<BTreeMap<String, String>>,
        pub faults: Cell<Faults>,
        pub commits: Cell<usize>,
        /// When the object's alarm is due, if one is set.
        pub alarm: Cell<Option<UnixMillis>>,
    }

    impl LedgerStorage for MemoryLedgerStorage {
        async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            fail(self.faults.get().get, "get")?;
            Ok(self.entries.borrow().get(key).cloned())
        }

        async fn list(
            &self,
            prefix: &str,
            reverse: bool,
            limit: usize,
        ) -> Result<Vec<(String, String)>, StoreError> {
            fail(self.faults.get().get, "list")?;
            let entries = self.entries.borrow();
            let matching = entries.iter().filter(|(key, _)| key.starts_with(prefix));
            let pairs = |(k, v): (&String, &String)| (k.clone(), v.clone());
            Ok(if reverse {
                matching.rev().take(limit).map(pairs).collect()
            } else {
                matching.take(limit).map(pairs).collect()
            })
        }

        async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
            let faults = self.faults.get();
            fail(faults.put && !batch.puts.is_empty(), "put")?;
            fail(faults.delete && !batch.deletes.is_empty(), "delete")?;
            self.commits.set(self.commits.get() + 1);
            let mut entries = self.entries.borrow_mut();
            for key in batch.deletes {
                entries.remove(&key);
            }
            entries.extend(batch.puts);
            Ok(())
        }

        async fn alarm_by(&self, at: UnixMillis) -> Result<(), StoreError> {
            fail(self.faults.get().put, "set alarm")?;
            let due = self.alarm.get().map_or(at, |set| set.min(at));
            self.alarm.set(Some(due));
            Ok(())
        }
    }
}
