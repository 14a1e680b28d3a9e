//! Native tests of the ledger with in-memory stores and injected faults, through the same JSON
//! protocol the Durable Object receives. [`propagation`] tests how changes reach KV and the
//! revocation feed.

mod exposure;
mod propagation;
mod sessions;

use std::cell::Cell;

use futures_executor::block_on;
use patgate_core::expiry::{Expiry, ExpiryDays};
use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::session::{NewSession, SessionKey};
use patgate_core::time::Timestamp;
use patgate_core::token::UntrustedToken;

use super::audit::{AuditAction, AUDIT_RETENTION};
use super::client::{LedgerClient, LedgerTransport, TransportError};
use super::protocol::*;
use super::*;
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::revocation::feed::FeedCopy;
use crate::revocation::{refresh_if_due, Gate, RevocationMode};
use crate::runtime::UnixMillis;
use crate::store::memory::{Faults, MemoryLedgerStorage, MemoryTokenStore};
use crate::testing::{at, CountingEntropy, MemoryFeed, RecordingSleep};

/// One user's ledger and everything around it: KV, the revocation feed, a clock.
struct World {
    storage: MemoryLedgerStorage,
    tokens: MemoryTokenStore,
    feed: MemoryFeed,
    sleep: RecordingSleep,
    entropy: CountingEntropy,
    user_id: UserId,
    email: Email,
    session: SessionKey,
    /// The offset (seconds after `START`) of the command being run.
    offset: Cell<u64>,
}

impl LedgerPorts for World {
    type Storage = MemoryLedgerStorage;
    type Kv = MemoryTokenStore;
    type Entropy = CountingEntropy;
    type Feed = MemoryFeed;
    type Sleep = RecordingSleep;
}

/// The ledger as the Worker reaches it, for lookups.
impl LedgerTransport for &World {
    async fn send(&self, _: &UserId, request: String) -> Result<String, TransportError> {
        Ok(self.ledger().handle(&request, at(self.offset.get())).await)
    }

    async fn lookup(&self, _: &UserId, request: String) -> Result<String, TransportError> {
        Ok(self.ledger().lookup(&request).await)
    }
}

fn days(n: u64) -> Expiry {
    Expiry::InDays(ExpiryDays::new(n).unwrap())
}

impl World {
    fn new(email: &str) -> Self {
        let email = Email::parse(email).unwrap();
        let user_id = UserId::for_email(&email);
        // A different secret per user, as real sessions have.
        let secret = [email.as_str().bytes().fold(0u8, u8::wrapping_add); 32];
        let session = NewSession::start(&user_id, &secret).key().clone();
        let world = Self {
            storage: MemoryLedgerStorage::default(),
            tokens: MemoryTokenStore::default(),
            feed: MemoryFeed::default(),
            sleep: RecordingSleep::default(),
            entropy: CountingEntropy::default(),
            user_id,
            email,
            session,
            offset: Cell::new(0),
        };
        let sign_in = SignIn {
            email: world.email.clone(),
            session: world.session.clone(),
        };
        world.call_at(sign_in, 0).unwrap();
        world
    }

    /// Sends `call` as the Worker would: serialized, to this user's ledger, at `offset`.
    fn call_at<C: Call>(&self, call: C, offset: u64) -> Result<C::Reply, LedgerError> {
        self.call_for(&self.user_id, call, offset)
    }

    fn ledger(&self) -> Ledger<'_, Self> {
        Ledger {
            storage: &self.storage,
            tokens: &self.tokens,
            entropy: &self.entropy,
            feed: &self.feed,
            sleep: &self.sleep,
            user_id: &self.user_id,
        }
    }

    /// Moves the world's clocks (the ledger's, the feed's) to `offset`.
    fn set_time(&self, offset: u64) {
        self.offset.set(offset);
        self.feed.now.set(millis(at(offset)).0);
    }

    fn call_for<C: Call>(
        &self,
        user_id: &UserId,
        call: C,
        offset: u64,
    ) -> Result<C::Reply, LedgerError> {
        self.set_time(offset);
        let request = schema::encode(&LedgerRequest {
            user_id: user_id.clone(),
            command: call.into(),
        });
        let reply = block_on(self.ledger().handle(&request, at(offset)));
        serde_json::from_str(&reply).unwrap()
    }

    /// Runs the alarm's reconciliation at `offset`; returns how many hashes remain out of step.
    fn reconcile_at(&self, offset: u64) -> Result<usize, LedgerError> {
        self.set_time(offset);
        self.storage.alarm.set(None);
        block_on(self.ledger().reconcile(at(offset)))
    }

    fn act_at<A: UserCall>(&self, action: A, offset: u64) -> Result<A::Reply, LedgerError> {
        let call = AsUser {
            session: self.session.clone(),
            action,
        };
        self.call_at(call, offset)
    }

    fn act<A: UserCall>(&self, action: A) -> Result<A::Reply, LedgerError> {
        self.act_at(action, 10)
    }

    fn create(&self, name: &str, expiry: Expiry) -> Result<CreatedToken, LedgerError> {
        self.act(CreateToken {
            name: TokenName::parse(name).unwrap(),
            expiry,
        })
    }

    fn update(&self, id: &TokenId, name: &str, expiry: Option<Expiry>) -> UpdateToken {
        UpdateToken {
            token_id: id.clone(),
            name: Some(TokenName::parse(name).unwrap()),
            expiry,
        }
    }

    /// A user with one token renamed until the audit log holds [`AUDIT_RETENTION`] events.
    fn with_full_audit_log() -> (Self, CreatedToken) {
        let world = Self::new("ada@example.com");
        let created = world.create("CI", Expiry::Never).unwrap();
        for i in 0..AUDIT_RETENTION {
            world
                .act(world.update(&created.token.id, &format!("n{i}"), None))
                .unwrap();
        }
        (world, created)
    }

    fn list(&self) -> Vec<TokenSummary> {
        self.act(ListTokens {}).unwrap()
    }

    fn events(&self) -> Vec<AuditEvent> {
        self.act(Audit {}).unwrap()
    }

    /// Validates as the Worker does in fast mode, with a feed copy taken at `when`, and
    /// checks that strict mode agrees.
    fn validates_at(&self, plaintext: &str, when: Timestamp) -> Result<String, ApiError> {
        let header = format!("Bearer {plaintext}");
        let now = millis(when);
        self.feed.now.set(now.0);
        let copy = FeedCopy::default();
        block_on(refresh_if_due(&copy, &self.feed, now));
        let client = LedgerClient::new(self);
        let answer = |mode| {
            let gate = Gate {
                mode,
                feed: &copy,
                source: &self.feed,
                authority: &client,
            };
            block_on(authenticate(Some(&header), &self.tokens, &gate, now))
                .map(|principal| principal.token_name().as_str().to_owned())
        };
        let fast = answer(RevocationMode::Fast);
        assert_eq!(fast, answer(RevocationMode::Strict), "the modes disagree");
        fast
    }

    /// KV's record for a token, as JSON.
    fn kv_record(&self, plaintext: &str) -> Option<String> {
        let key = UntrustedToken::parse(plaintext)
            .unwrap()
            .storage_key()
            .clone();
        self.tokens.records.borrow().get(key.as_str()).cloned()
    }

    /// The ledger's sync markers (hashes KV may not match yet).
    fn markers(&self) -> Vec<String> {
        let entries = self.storage.entries.borrow();
        entries
            .keys()
            .filter(|k| k.starts_with("sync:"))
            .cloned()
            .collect()
    }

    fn validates(&self, plaintext: &str) -> Result<String, ApiError> {
        self.validates_at(plaintext, at(20))
    }

    fn everything_stored(&self) -> String {
        let ledger = self.storage.entries.borrow();
        let kv = self.tokens.records.borrow();
        format!("{ledger:?}{kv:?}")
    }
}

fn fail(get: bool, put: bool, delete: bool) -> Faults {
    Faults { get, put, delete }
}

fn millis(at: Timestamp) -> UnixMillis {
    UnixMillis(at.unix_seconds() * 1000)
}

#[test]
fn create_stores_only_the_hash_and_validates_at_once() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", days(30)).unwrap();
    let plaintext = created.plaintext;
    assert_eq!(created.token.hint, &plaintext[..8]);
    assert_eq!(created.token.expires_at, Some(at(10 + 30 * 86_400)));
    world.validates(&plaintext).unwrap();
    let stored = world.everything_stored();
    assert!(!stored.contains(&plaintext), "plaintext persisted");
    let parsed = UntrustedToken::parse(&plaintext).unwrap();
    assert!(stored.contains(parsed.storage_key().as_str()));
    assert_eq!(world.list(), vec![created.token]);
}

#[test]
fn list_is_newest_first() {
    let world = World::new("ada@example.com");
    let first = world.create("first", Expiry::Never).unwrap().token;
    let second = world
        .act_at(
            CreateToken {
                name: TokenName::parse("second").unwrap(),
                expiry: Expiry::Never,
            },
            60,
        )
        .unwrap()
        .token;
    let names: Vec<_> = world.list().into_iter().map(|t| t.name).collect();
    assert_eq!(names, vec![second.name, first.name]);
}

#[test]
fn another_users_token_is_not_found() {
    let ada = World::new("ada@example.com");
    let created = ada.create("CI", Expiry::Never).unwrap();
    let bob = World::new("bob@example.com");
    let delete = DeleteToken {
        token_id: created.token.id,
    };
    assert_eq!(bob.act(delete).unwrap_err(), LedgerError::NotFound);
    // Ada's session key means nothing in Bob's ledger.
    let as_ada = AsUser {
        session: ada.session.clone(),
        action: Me {},
    };
    assert_eq!(
        bob.call_at(as_ada, 10).unwrap_err(),
        LedgerError::NotSignedIn
    );
}

#[test]
fn last_used_is_written_at_most_every_five_minutes() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    let used = |offset, place: &str| {
        let command = RecordUse {
            token_id: created.token.id.clone(),
            from: Some(place.to_owned()),
        };
        world.call_at(command, offset).unwrap();
        let listed = world.list().remove(0);
        (listed.last_used_at.unwrap(), listed.last_used_from.unwrap())
    };
    let first = used(100, "AMS, NL");
    assert_eq!(used(100 + LAST_USED_INTERVAL_SECONDS - 1, "SFO, US"), first);
    let later = used(100 + LAST_USED_INTERVAL_SECONDS, "SFO, US");
    assert_eq!(later.1, "SFO, US");
    // A use of a deleted token is ignored, not an error.
    let ghost = RecordUse {
        token_id: TokenId::parse("tok_00000000000000000000").unwrap(),
        from: None,
    };
    assert!(world.call_at(ghost, 10).is_ok());
}

#[test]
fn the_token_limit_is_enforced() {
    let world = World::new("ada@example.com");
    for i in 0..MAX_TOKENS_PER_USER {
        world.create(&format!("t{i}"), Expiry::Never).unwrap();
    }
    assert_eq!(
        world.create("one too many", Expiry::Never).unwrap_err(),
        LedgerError::TokenLimitReached
    );
}

#[test]
fn audit_keeps_the_newest_events_only() {
    let (world, _) = World::with_full_audit_log();
    let events = world.events();
    assert_eq!(events.len(), AUDIT_RETENTION);
    assert_eq!(
        events[0].detail.as_deref(),
        Some(format!("n{} → n{}", AUDIT_RETENTION - 2, AUDIT_RETENTION - 1).as_str())
    );
    let stored_events = world
        .storage
        .entries
        .borrow()
        .keys()
        .filter(|k| k.starts_with("audit:"))
        .count();
    assert_eq!(stored_events, AUDIT_RETENTION);
}
