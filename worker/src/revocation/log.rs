//! The feed's authority: the logic of the `RevocationFeed` Durable Object, over the storage
//! port. Ledgers publish the hashes they are about to change; isolates read snapshots.
//!
//! Stored as `change:<16 hex digits>` → the unix milliseconds of the last publication. The
//! object keeps the same map in memory and serves snapshots from it, so a read costs no
//! storage operation.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::feed::{HashPrefix, Snapshot};
use super::FEED_WINDOW_MS;
use crate::runtime::UnixMillis;
use crate::store::{Batch, LedgerStorage, StoreError};

const CHANGE_PREFIX: &str = "change:";

/// What a ledger sends to publish changes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    pub prefixes: Vec<String>,
}

impl Publication {
    pub fn of(prefixes: &[HashPrefix]) -> Self {
        Self {
            prefixes: prefixes.iter().map(ToString::to_string).collect(),
        }
    }

    pub fn prefixes(&self) -> Option<Vec<HashPrefix>> {
        self.prefixes.iter().map(|p| HashPrefix::parse(p)).collect()
    }
}

/// The changes of the last [`FEED_WINDOW_MS`], loaded from storage on first use.
#[derive(Debug, Default)]
pub struct FeedLog {
    changes: RefCell<Option<BTreeMap<HashPrefix, UnixMillis>>>,
}

fn is_current(at: UnixMillis, now: UnixMillis) -> bool {
    now.since(at) < FEED_WINDOW_MS
}

impl FeedLog {
    async fn load(&self, storage: &impl LedgerStorage) -> Result<(), StoreError> {
        if self.changes.borrow().is_some() {
            return Ok(());
        }
        let mut loaded = BTreeMap::new();
        for (key, value) in storage.list(CHANGE_PREFIX, false, usize::MAX).await? {
            let prefix = key.strip_prefix(CHANGE_PREFIX).and_then(HashPrefix::parse);
            match (prefix, value.parse::<u64>()) {
                (Some(prefix), Ok(at)) => loaded.insert(prefix, UnixMillis(at)),
                _ => return Err(StoreError(format!("unreadable feed entry {key}"))),
            };
        }
        // Another request may have loaded (and published into) the map while this one read:
        // that map is newer, so keep it.
        self.changes.borrow_mut().get_or_insert(loaded);
        Ok(())
    }

    /// Records that the tokens behind `prefixes` change now, and drops changes that have left
    /// the window. The memory copy is updated first: if the storage commit then fails, the
    /// publisher is told so and changes nothing, and an extra entry only sends a token to its
    /// authority.
    pub async fn publish(
        &self,
        storage: &impl LedgerStorage,
        prefixes: &[HashPrefix],
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.load(storage).await?;
        let mut batch = Batch::default();
        {
            let mut guard = self.changes.borrow_mut();
            let changes = guard.get_or_insert_with(BTreeMap::new);
            changes.retain(|prefix, at| {
                let keep = is_current(*at, now);
                if !keep {
                    batch.deletes.push(format!("{CHANGE_PREFIX}{prefix}"));
                }
                keep
            });
            for prefix in prefixes {
                changes.insert(*prefix, now);
                batch
                    .puts
                    .push((format!("{CHANGE_PREFIX}{prefix}"), now.0.to_string()));
            }
        }
        storage.commit(batch).await
    }

    /// Every change of the window that ends `now`.
    pub async fn snapshot(
        &self,
        storage: &impl LedgerStorage,
        now: UnixMillis,
    ) -> Result<Snapshot, StoreError> {
        self.load(storage).await?;
        let guard = self.changes.borrow();
        let prefixes = guard
            .iter()
            .flatten()
            .filter(|(_, at)| is_current(**at, now))
            .map(|(prefix, _)| *prefix)
            .collect();
        Ok(Snapshot {
            as_of: now,
            prefixes,
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use patgate_core::token::StorageKey;

    use super::*;
    use crate::store::memory::{Faults, MemoryLedgerStorage};

    fn prefix(digit: char) -> HashPrefix {
        HashPrefix::of(&StorageKey::parse(&digit.to_string().repeat(64)).unwrap())
    }

    #[test]
    fn changes_stay_for_the_window_and_survive_a_restart() {
        let storage = MemoryLedgerStorage::default();
        let log = FeedLog::default();
        block_on(log.publish(&storage, &[prefix('a')], UnixMillis(1_000))).unwrap();
        block_on(log.publish(&storage, &[prefix('b')], UnixMillis(2_000))).unwrap();
        let at = |ms| block_on(log.snapshot(&storage, UnixMillis(ms))).unwrap();
        assert_eq!(at(5_000).prefixes.len(), 2);
        assert_eq!(at(5_000).as_of, UnixMillis(5_000));
        let a_expires = 1_000 + FEED_WINDOW_MS;
        assert!(at(a_expires - 1).prefixes.contains(&prefix('a')));
        assert!(!at(a_expires).prefixes.contains(&prefix('a')));
        // A restarted object reads the same changes back from storage.
        let restarted = FeedLog::default();
        let snapshot = block_on(restarted.snapshot(&storage, UnixMillis(5_000))).unwrap();
        assert_eq!(snapshot, at(5_000));
        // Publishing trims what has left the window, in storage too.
        block_on(log.publish(&storage, &[prefix('c')], UnixMillis(a_expires))).unwrap();
        let stored: Vec<String> = storage.entries.borrow().keys().cloned().collect();
        assert_eq!(
            stored,
            vec![
                format!("change:{}", prefix('b')),
                format!("change:{}", prefix('c'))
            ]
        );
    }

    #[test]
    fn a_republished_change_stays_a_full_window_from_its_last_publication() {
        let storage = MemoryLedgerStorage::default();
        let log = FeedLog::default();
        block_on(log.publish(&storage, &[prefix('a')], UnixMillis(0))).unwrap();
        block_on(log.publish(&storage, &[prefix('a')], UnixMillis(60_000))).unwrap();
        let snapshot = block_on(log.snapshot(&storage, UnixMillis(FEED_WINDOW_MS + 1))).unwrap();
        assert!(snapshot.prefixes.contains(&prefix('a')));
    }

    #[test]
    fn a_failed_publication_is_reported() {
        let storage = MemoryLedgerStorage::default();
        storage.faults.set(Faults {
            put: true,
            ..Faults::default()
        });
        let log = FeedLog::default();
        assert!(block_on(log.publish(&storage, &[prefix('a')], UnixMillis(0))).is_err());
    }

    #[test]
    fn publications_carry_exact_prefixes() {
        let publication = Publication::of(&[prefix('a')]);
        assert_eq!(publication.prefixes(), Some(vec![prefix('a')]));
        let bad = Publication {
            prefixes: vec!["A".repeat(16)],
        };
        assert_eq!(bad.prefixes(), None);
    }
}
