//! Native tests of the ledger with in-memory stores and injected faults.

use std::cell::Cell;

use futures_executor::block_on;
use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::session::{
    NewSession, SessionKey, ABSOLUTE_TIMEOUT_SECONDS, IDLE_TIMEOUT_SECONDS,
};
use patgate_core::time::Timestamp;
use patgate_core::token::UntrustedToken;

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::ledger::*;
use crate::store::memory::{Faults, MemoryLedgerStorage, MemoryTokenStore};
use crate::store::StoreError;

/// A counter expanded into bytes: deterministic, and different on every call.
#[derive(Default)]
struct CountingEntropy(Cell<u64>);

impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), StoreError> {
        for byte in buf.iter_mut() {
            self.0.set(self.0.get().wrapping_add(0x9E37_79B9));
            *byte = (self.0.get() >> 11) as u8 % 248;
        }
        Ok(())
    }
}

const START: u64 = 1_800_000_000;

struct World {
    storage: MemoryLedgerStorage,
    tokens: MemoryTokenStore,
    entropy: CountingEntropy,
    user_id: UserId,
    email: Email,
    session: SessionKey,
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
            entropy: CountingEntropy::default(),
            user_id,
            email,
            session,
        };
        let sign_in = Command::SignIn {
            email: world.email.clone(),
            session: world.session.clone(),
        };
        world.run_at(sign_in, 0).unwrap();
        world
    }

    fn run_at(&self, command: Command, offset: u64) -> Result<Reply, LedgerError> {
        let ledger = Ledger {
            storage: &self.storage,
            tokens: &self.tokens,
            entropy: &self.entropy,
            user_id: &self.user_id,
        };
        block_on(ledger.execute(command, at(offset)))
    }

    fn run(&self, command: Command) -> Result<Reply, LedgerError> {
        self.run_at(command, 10)
    }

    fn create(&self, name: &str, days: Option<u16>) -> Result<(TokenView, String), LedgerError> {
        let command = Command::CreateToken {
            session: self.session.clone(),
            name: TokenName::parse(name).unwrap(),
            expires_in_days: days,
        };
        match self.run(command)? {
            Reply::Created { token, plaintext } => Ok((token, plaintext)),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn list(&self) -> Vec<TokenView> {
        match self
            .run(Command::ListTokens {
                session: self.session.clone(),
            })
            .unwrap()
        {
            Reply::Tokens { tokens } => tokens,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn events(&self) -> Vec<AuditEventView> {
        match self
            .run(Command::Audit {
                session: self.session.clone(),
            })
            .unwrap()
        {
            Reply::Events { events } => events,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn validates(&self, plaintext: &str) -> Result<(), ApiError> {
        let header = format!("Bearer {plaintext}");
        block_on(authenticate(Some(&header), &self.tokens, at(20))).map(|_| ())
    }

    fn everything_stored(&self) -> String {
        let ledger = self.storage.entries.borrow();
        let kv = self.tokens.records.borrow();
        format!("{ledger:?}{kv:?}")
    }
}

fn at(offset: u64) -> Timestamp {
    Timestamp::from_unix_seconds(START + offset).unwrap()
}

fn fail(get: bool, put: bool, delete: bool) -> Faults {
    Faults { get, put, delete }
}

#[test]
fn create_stores_only_the_hash_and_validates_at_once() {
    let world = World::new("ada@example.com");
    let (view, plaintext) = world.create("CI", Some(30)).unwrap();
    assert_eq!(view.hint, &plaintext[..8]);
    assert_eq!(view.expires_at, Some(at(10 + 30 * 86_400).to_string()));
    world.validates(&plaintext).unwrap();
    let stored = world.everything_stored();
    assert!(!stored.contains(&plaintext), "plaintext persisted");
    let key = UntrustedToken::parse(&plaintext).unwrap().storage_key();
    assert!(stored.contains(key.as_str()));
    assert_eq!(world.list(), vec![view]);
}

#[test]
fn list_is_newest_first() {
    let world = World::new("ada@example.com");
    let first = world.create("first", None).unwrap().0;
    let command = Command::CreateToken {
        session: world.session.clone(),
        name: TokenName::parse("second").unwrap(),
        expires_in_days: None,
    };
    let Reply::Created { token: second, .. } = world.run_at(command, 60).unwrap() else {
        panic!()
    };
    let names: Vec<_> = world.list().into_iter().map(|t| t.name).collect();
    assert_eq!(names, vec![second.name, first.name]);
}

#[test]
fn a_failed_kv_write_on_create_leaves_nothing_behind() {
    let world = World::new("ada@example.com");
    world.tokens.faults.set(fail(false, true, false));
    assert_eq!(
        world.create("CI", None).unwrap_err(),
        LedgerError::Unavailable
    );
    world.tokens.faults.set(Faults::default());
    assert!(world.list().is_empty());
    assert!(world.tokens.records.borrow().is_empty());
    assert!(world
        .events()
        .iter()
        .all(|e| e.action != AuditAction::Created));
}

#[test]
fn a_failed_ledger_write_on_create_writes_no_kv_record() {
    let world = World::new("ada@example.com");
    world.storage.faults.set(fail(false, true, false));
    assert_eq!(
        world.create("CI", None).unwrap_err(),
        LedgerError::Unavailable
    );
    assert!(world.tokens.records.borrow().is_empty());
}

#[test]
fn delete_refuses_at_once_and_a_failed_kv_delete_changes_nothing() {
    let world = World::new("ada@example.com");
    let (view, plaintext) = world.create("CI", None).unwrap();
    let delete = || Command::DeleteToken {
        session: world.session.clone(),
        token_id: view.id.clone(),
    };

    world.tokens.faults.set(fail(false, false, true));
    assert_eq!(world.run(delete()).unwrap_err(), LedgerError::Unavailable);
    world.tokens.faults.set(Faults::default());
    assert_eq!(world.list().len(), 1);
    world.validates(&plaintext).unwrap();

    assert!(matches!(world.run(delete()), Ok(Reply::Deleted)));
    assert_eq!(world.validates(&plaintext), Err(ApiError::InvalidToken));
    assert!(world.list().is_empty());
    assert_eq!(world.run(delete()).unwrap_err(), LedgerError::NotFound);
}

#[test]
fn a_failed_ledger_delete_after_kv_delete_still_refuses_the_token() {
    let world = World::new("ada@example.com");
    let (view, plaintext) = world.create("CI", None).unwrap();
    world.storage.faults.set(fail(false, false, true));
    let delete = Command::DeleteToken {
        session: world.session.clone(),
        token_id: view.id.clone(),
    };
    assert_eq!(
        world.run(delete.clone()).unwrap_err(),
        LedgerError::Unavailable
    );
    assert_eq!(world.validates(&plaintext), Err(ApiError::InvalidToken));
    // A retry finishes the job.
    world.storage.faults.set(Faults::default());
    assert!(matches!(world.run(delete), Ok(Reply::Deleted)));
    assert!(world.list().is_empty());
}

#[test]
fn update_changes_validation_at_once_and_reverts_when_kv_fails() {
    let world = World::new("ada@example.com");
    let (view, plaintext) = world.create("CI", None).unwrap();
    let update = |name: &str, expiry| Command::UpdateToken {
        session: world.session.clone(),
        token_id: view.id.clone(),
        name: Some(TokenName::parse(name).unwrap()),
        expiry,
    };

    let Reply::Updated { token } = world.run(update("deploy", ExpiryChange::Days(1))).unwrap()
    else {
        panic!()
    };
    assert_eq!(token.name, "deploy");
    assert_eq!(token.expires_at, Some(at(10 + 86_400).to_string()));
    let header = format!("Bearer {plaintext}");
    let principal = block_on(authenticate(Some(&header), &world.tokens, at(20))).unwrap();
    assert_eq!(principal.token_name().as_str(), "deploy");
    // One day later it has expired.
    let later = block_on(authenticate(Some(&header), &world.tokens, at(10 + 86_400)));
    assert_eq!(later.unwrap_err(), ApiError::InvalidToken);

    world.tokens.faults.set(fail(false, true, false));
    assert_eq!(
        world
            .run(update("broken", ExpiryChange::Never))
            .unwrap_err(),
        LedgerError::Unavailable
    );
    world.tokens.faults.set(Faults::default());
    assert_eq!(world.list()[0].name, "deploy");
    let principal = block_on(authenticate(Some(&header), &world.tokens, at(20))).unwrap();
    assert_eq!(principal.token_name().as_str(), "deploy");
    let actions: Vec<_> = world.events().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::ExpiryChanged,
            AuditAction::Renamed,
            AuditAction::Created,
            AuditAction::SignedIn
        ]
    );
}

#[test]
fn another_users_token_is_not_found() {
    let ada = World::new("ada@example.com");
    let (view, _) = ada.create("CI", None).unwrap();
    let bob = World::new("bob@example.com");
    let delete = Command::DeleteToken {
        session: bob.session.clone(),
        token_id: view.id,
    };
    assert_eq!(bob.run(delete).unwrap_err(), LedgerError::NotFound);
    // Ada's session key means nothing in Bob's ledger.
    assert_eq!(
        bob.run(Command::Me {
            session: ada.session.clone()
        })
        .unwrap_err(),
        LedgerError::NotSignedIn
    );
}

#[test]
fn sessions_end_when_idle_or_old_and_at_sign_out() {
    let world = World::new("ada@example.com");
    let me = || Command::Me {
        session: world.session.clone(),
    };
    assert!(world.run_at(me(), IDLE_TIMEOUT_SECONDS - 1).is_ok());
    // Activity keeps it alive, up to the absolute limit.
    let mut offset = IDLE_TIMEOUT_SECONDS - 1;
    while offset + IDLE_TIMEOUT_SECONDS - 1 < ABSOLUTE_TIMEOUT_SECONDS {
        offset += IDLE_TIMEOUT_SECONDS - 1;
        assert!(world.run_at(me(), offset).is_ok(), "at {offset}");
    }
    assert_eq!(
        world.run_at(me(), ABSOLUTE_TIMEOUT_SECONDS).unwrap_err(),
        LedgerError::NotSignedIn
    );

    let idle = World::new("bob@example.com");
    let bob_me = Command::Me {
        session: idle.session.clone(),
    };
    assert_eq!(
        idle.run_at(bob_me, IDLE_TIMEOUT_SECONDS).unwrap_err(),
        LedgerError::NotSignedIn
    );

    let out = World::new("cy@example.com");
    assert!(matches!(
        out.run(Command::SignOut {
            session: out.session.clone()
        }),
        Ok(Reply::SessionEnded)
    ));
    assert_eq!(
        out.run(Command::Me {
            session: out.session.clone()
        })
        .unwrap_err(),
        LedgerError::NotSignedIn
    );
}

#[test]
fn last_used_is_written_at_most_every_five_minutes() {
    let world = World::new("ada@example.com");
    let (view, _) = world.create("CI", None).unwrap();
    let used = |offset, place: &str| {
        let command = Command::RecordUse {
            token_id: view.id.clone(),
            from: Some(place.to_owned()),
        };
        world.run_at(command, offset).unwrap();
        let listed = world.list().remove(0);
        (listed.last_used_at.unwrap(), listed.last_used_from.unwrap())
    };
    let first = used(100, "AMS, NL");
    assert_eq!(used(100 + LAST_USED_INTERVAL_SECONDS - 1, "SFO, US"), first);
    let later = used(100 + LAST_USED_INTERVAL_SECONDS, "SFO, US");
    assert_eq!(later.1, "SFO, US");
    // A use of a deleted token is ignored, not an error.
    let ghost = Command::RecordUse {
        token_id: TokenId::parse("tok_00000000000000000000").unwrap(),
        from: None,
    };
    assert!(world.run(ghost).is_ok());
}

#[test]
fn the_token_limit_is_enforced() {
    let world = World::new("ada@example.com");
    for i in 0..MAX_TOKENS_PER_USER {
        world.create(&format!("t{i}"), None).unwrap();
    }
    assert_eq!(
        world.create("one too many", None).unwrap_err(),
        LedgerError::TokenLimitReached
    );
}

#[test]
fn audit_keeps_the_newest_events_only() {
    let world = World::new("ada@example.com");
    let (view, _) = world.create("CI", None).unwrap();
    for i in 0..AUDIT_RETENTION {
        let rename = Command::UpdateToken {
            session: world.session.clone(),
            token_id: view.id.clone(),
            name: Some(TokenName::parse(&format!("n{i}")).unwrap()),
            expiry: ExpiryChange::Keep,
        };
        world.run(rename).unwrap();
    }
    let events = world.events();
    assert_eq!(events.len() as u64, AUDIT_RETENTION);
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
    assert_eq!(stored_events as u64, AUDIT_RETENTION);
}

#[test]
fn a_failing_ledger_read_is_unavailable_not_signed_out() {
    let world = World::new("ada@example.com");
    world.storage.faults.set(fail(true, false, false));
    assert_eq!(
        world
            .run(Command::Me {
                session: world.session.clone()
            })
            .unwrap_err(),
        LedgerError::Unavailable
    );
}
