//! Fixtures shared by the native tests: deterministic randomness, a principal, the revocation
//! feed in memory, and an in-process ledger that the typed client reaches through the real
//! JSON protocol.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use futures_executor::block_on;
use patgate_core::identity::UserId;
use patgate_core::record::StoredRecord;
use patgate_core::test_support::record;
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, NewToken, UntrustedToken};
use patgate_core::verify::{verify, Principal};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::ledger::client::{LedgerClient, LedgerTransport, TransportError};
use crate::ledger::Ledger;
use crate::revocation::feed::{FeedCopy, HashPrefix, Snapshot};
use crate::revocation::log::FeedLog;
use crate::revocation::{refresh_if_due, FeedPublisher, FeedSource, Gate, RevocationMode};
use crate::runtime::{Entropy, EntropyUnavailable, Sleep, UnixMillis};
use crate::store::memory::{MemoryLedgerStorage, MemoryTokenStore};
use crate::store::StoreError;

/// The start of every test's virtual time: 2027-01-15T08:00:00Z.
pub const START: u64 = 1_800_000_000;

pub fn at(offset: u64) -> Timestamp {
    Timestamp::from_unix_seconds(START + offset).unwrap()
}

/// [`at`] in milliseconds.
pub fn at_millis(offset: u64) -> UnixMillis {
    UnixMillis((START + offset) * 1000)
}

/// The revocation feed in memory: the real [`FeedLog`] over memory storage, at a settable
/// time, with a switch to make it unreachable.
#[derive(Debug, Default)]
pub struct MemoryFeed {
    pub storage: MemoryLedgerStorage,
    pub log: FeedLog,
    pub now: Cell<u64>,
    pub unavailable: Cell<bool>,
}

impl MemoryFeed {
    fn reachable(&self) -> Result<UnixMillis, StoreError> {
        if self.unavailable.get() {
            return Err(StoreError("injected: feed unreachable".into()));
        }
        Ok(UnixMillis(self.now.get()))
    }

    /// Whether the feed lists `key` now.
    pub fn lists(&self, key: &patgate_core::token::StorageKey) -> bool {
        let snapshot = block_on(self.log.snapshot(&self.storage, UnixMillis(self.now.get())));
        snapshot.unwrap().prefixes.contains(&HashPrefix::of(key))
    }
}

impl FeedPublisher for MemoryFeed {
    async fn publish(&self, prefixes: &[HashPrefix]) -> Result<(), StoreError> {
        let now = self.reachable()?;
        self.log.publish(&self.storage, prefixes, now).await
    }
}

impl FeedSource for MemoryFeed {
    async fn fetch(&self) -> Result<Snapshot, StoreError> {
        let now = self.reachable()?;
        self.log.snapshot(&self.storage, now).await
    }
}

/// Waits by noting how long it was asked to.
#[derive(Debug, Default)]
pub struct RecordingSleep {
    pub slept: RefCell<Vec<u64>>,
}

impl Sleep for RecordingSleep {
    async fn sleep(&self, millis: u64) {
        self.slept.borrow_mut().push(millis);
    }
}

/// A counter expanded into bytes: deterministic, and different on every call.
#[derive(Debug, Default)]
pub struct CountingEntropy(Cell<u64>);

impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        for byte in buf.iter_mut() {
            self.0.set(self.0.get().wrapping_add(0x9E37_79B9));
            *byte = (self.0.get() >> 11) as u8 % 248;
        }
        Ok(())
    }
}

/// The token of `patgate_core::test_support::record`: `generate` from fixed bytes.
pub fn token() -> NewToken {
    generate(&[42u8; 96]).unwrap()
}

/// ada@example.com's token "CI", as `verify` would admit it.
pub fn principal() -> Principal {
    let token = token();
    let parsed = UntrustedToken::parse(token.as_str()).unwrap();
    let stored =
        StoredRecord::decode(parsed.storage_key().clone(), &record(None).encode()).unwrap();
    verify(parsed, stored, at(1)).unwrap()
}

/// Every user's ledger in memory, sharing one KV and one feed, at a settable time; reached
/// through the same JSON the Durable Object receives.
#[derive(Debug, Default)]
pub struct InProcessLedgers {
    pub ledgers: RefCell<HashMap<UserId, MemoryLedgerStorage>>,
    pub kv: MemoryTokenStore,
    pub feed: MemoryFeed,
    pub sleep: RecordingSleep,
    pub entropy: CountingEntropy,
    pub offset: Cell<u64>,
    /// When set, the ledger cannot be reached at all.
    pub unreachable: Cell<bool>,
}

impl crate::ledger::LedgerPorts for InProcessLedgers {
    type Storage = MemoryLedgerStorage;
    type Kv = MemoryTokenStore;
    type Entropy = CountingEntropy;
    type Feed = MemoryFeed;
    type Sleep = RecordingSleep;
}

impl InProcessLedgers {
    // The borrow is held across the ledger's awaits: tests run one request at a time, as the
    // Durable Object does.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn reach(
        &self,
        user_id: &UserId,
        request: &str,
        lookup: bool,
    ) -> Result<String, TransportError> {
        if self.unreachable.get() {
            return Err(TransportError("injected: ledger unreachable".into()));
        }
        self.feed.now.set(at_millis(self.offset.get()).0);
        let mut ledgers = self.ledgers.borrow_mut();
        let storage = ledgers.entry(user_id.clone()).or_default();
        let ledger = Ledger::<Self> {
            storage: &*storage,
            tokens: &self.kv,
            entropy: &self.entropy,
            feed: &self.feed,
            sleep: &self.sleep,
            user_id,
        };
        Ok(if lookup {
            ledger.lookup(request).await
        } else {
            ledger.handle(request, at(self.offset.get())).await
        })
    }

    /// Validates `authorization` as the Worker does in `mode`, with a feed copy taken at the
    /// current offset and these ledgers as the authority.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        mode: RevocationMode,
    ) -> Result<Principal, ApiError> {
        let now = at_millis(self.offset.get());
        self.feed.now.set(now.0);
        let copy = FeedCopy::default();
        block_on(refresh_if_due(&copy, &self.feed, now));
        let client = LedgerClient::new(self);
        let gate = Gate {
            mode,
            feed: &copy,
            source: &self.feed,
            authority: &client,
        };
        block_on(authenticate(authorization, &self.kv, &gate, now))
    }
}

impl LedgerTransport for &InProcessLedgers {
    async fn send(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        self.reach(user_id, &request, false).await
    }

    async fn lookup(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        self.reach(user_id, &request, true).await
    }
}
