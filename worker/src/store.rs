//! Storage behind small interfaces, so that the logic above them can be tested natively with
//! faults injected.
//!
//! - [`TokenStore`]: the validation records in Workers KV, keyed by token hash.
//! - [`LedgerStorage`]: a user's Durable Object storage (tokens, sessions, audit events), which
//!   commits each command's changes as one atomic [`Batch`].

use std::fmt;

use patgate_core::token::StorageKey;

/// A storage operation failed or timed out. Never an authentication answer: callers fail
/// closed with 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failure: {}", self.0)
    }
}

// The Worker runs single-threaded in one isolate, so these futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait TokenStore {
    async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &StorageKey, record_json: &str) -> Result<(), StoreError>;
    async fn delete(&self, key: &StorageKey) -> Result<(), StoreError>;
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
        pub reads: Cell<usize>,
        pub faults: Cell<Faults>,
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

        async fn put(&self, key: &StorageKey, record_json: &str) -> Result<(), StoreError> {
            fail(self.faults.get().put, "put")?;
            self.records
                .borrow_mut()
                .insert(key.as_str().to_owned(), record_json.to_owned());
            Ok(())
        }

        async fn delete(&self, key: &StorageKey) -> Result<(), StoreError> {
            fail(self.faults.get().delete, "delete")?;
            self.records.borrow_mut().remove(key.as_str());
            Ok(())
        }
    }

    #[derive(Debug, Default)]
    pub struct MemoryLedgerStorage {
        pub entries: RefCell<BTreeMap<String, String>>,
        pub faults: Cell<Faults>,
        pub commits: Cell<usize>,
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
    }
}
