//! Fixtures shared by the native tests: deterministic randomness, a principal, and an
//! in-process ledger that the typed client reaches through the real JSON protocol.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use patgate_core::identity::UserId;
use patgate_core::record::StoredRecord;
use patgate_core::test_support::record;
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, NewToken, UntrustedToken};
use patgate_core::verify::{verify, Principal};

use crate::ledger::client::{LedgerTransport, TransportError};
use crate::ledger::Ledger;
use crate::runtime::{Entropy, EntropyUnavailable};
use crate::store::memory::{MemoryLedgerStorage, MemoryTokenStore};

/// The start of every test's virtual time: 2027-01-15T08:00:00Z.
pub const START: u64 = 1_800_000_000;

pub fn at(offset: u64) -> Timestamp {
    Timestamp::from_unix_seconds(START + offset).unwrap()
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

/// Every user's ledger in memory, sharing one KV, at a settable time; reached through the
/// same JSON the Durable Object receives.
#[derive(Debug, Default)]
pub struct InProcessLedgers {
    pub ledgers: RefCell<HashMap<UserId, MemoryLedgerStorage>>,
    pub kv: MemoryTokenStore,
    pub entropy: CountingEntropy,
    pub offset: Cell<u64>,
    /// When set, the ledger cannot be reached at all.
    pub unreachable: Cell<bool>,
}

impl LedgerTransport for &InProcessLedgers {
    // The borrow is held across the ledger's awaits: tests run one request at a time, as the
    // Durable Object does.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn send(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        if self.unreachable.get() {
            return Err(TransportError("injected: ledger unreachable".into()));
        }
        let mut ledgers = self.ledgers.borrow_mut();
        let storage = ledgers.entry(user_id.clone()).or_default();
        let ledger = Ledger {
            storage: &*storage,
            tokens: &self.kv,
            entropy: &self.entropy,
            user_id,
        };
        Ok(ledger.handle(&request, at(self.offset.get())).await)
    }
}
