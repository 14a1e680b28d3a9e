//! The simulated world: the ports the Worker's code runs over, the event queue on the virtual
//! clock, and the oracle that judges every answer against the ledgers' history.
//!
//! Commands run one at a time. A command that waits (the ledger's backoff between KV
//! retries) lets the clock run: validations and feed refreshes due meanwhile happen during the
//! wait, as they would elsewhere on the network.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;

use futures_executor::block_on;
use patgate_core::expiry::{Expiry, ExpiryDays};
use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::record::StoredRecord;
use patgate_core::session::{NewSession, SessionKey};
use patgate_core::time::Timestamp;
use patgate_core::token::{StorageKey, UntrustedToken};

use super::kv::{SimKv, CACHE_TTL_MS};
use super::{Action, Report, Scenario, Validation};
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::ledger::client::{LedgerClient, LedgerTransport, TransportError};
use crate::ledger::protocol::{
    AsUser, CreateToken, DeleteToken, LookupReply, LookupRequest, LookupToken, RevokeAllTokens,
    SignIn, UpdateToken, UserCall,
};
use crate::ledger::schema::encode;
use crate::ledger::{Ledger, LedgerPorts};
use crate::revocation::feed::{FeedCopy, HashPrefix, Snapshot};
use crate::revocation::log::FeedLog;
use crate::revocation::{FeedPublisher, FeedSource, Gate, Revocation, FEED_CACHE_SECONDS};
use crate::runtime::{Sleep, UnixMillis};
use crate::store::memory::MemoryLedgerStorage;
use crate::store::{kv_expiration, KvWriteError, StoreError, TokenStore};
use crate::testing::{CountingEntropy, START};
use oracle::{State, Tracked};
use ports::{FeedObject, KvAlone, KvAt, Network, SimPorts, SleepIn, SourceAt};
use queue::Queue;

mod commands;
mod oracle;
mod ports;
mod queue;
mod traffic;

/// Virtual time 0, in unix milliseconds.
const EPOCH_MS: u64 = START * 1000;
/// A change is watched closely (every poll) for this long after it answered.
const WATCH_MS: u64 = 100_000;
/// Tokens not being watched are still validated every this many polls (liveness).
const SPOT_CHECK_EVERY: u64 = 10;

#[derive(Debug)]
enum Event {
    Poll {
        place: usize,
        isolate: usize,
    },
    /// A background refresh reaches the data center's cache or the feed's object...
    Fetch {
        place: usize,
        isolate: usize,
        started: UnixMillis,
    },
    /// ...and its answer reaches the isolate.
    Install {
        place: usize,
        isolate: usize,
        started: UnixMillis,
        snapshot: Option<Snapshot>,
    },
    Command(Action),
}

struct PlaceState {
    /// The data center's shared copy of the feed, and when it was put.
    cache: RefCell<Option<(Snapshot, u64)>>,
    isolates: Vec<FeedCopy>,
}

struct User {
    id: UserId,
    email: Email,
    session: SessionKey,
}

pub struct World {
    s: Scenario,
    bound_ms: u64,
    clock: Cell<u64>,
    kv: SimKv,
    feed_storage: MemoryLedgerStorage,
    feed_log: FeedLog,
    places: Vec<PlaceState>,
    /// Each user's ledger storage, in the order of `users`.
    ledgers: Vec<Rc<MemoryLedgerStorage>>,
    users: Vec<User>,
    tokens: RefCell<Vec<Tracked>>,
    /// The user whose command is under way, and when it started.
    busy: Cell<Option<(usize, u64)>>,
    background: RefCell<Queue>,
    commands: RefCell<Queue>,
    polls: Cell<u64>,
    rng: Cell<u64>,
    entropy: CountingEntropy,
    report: RefCell<Report>,
}

// ---- the world --------------------------------------------------------------------------

impl World {
    pub fn new(s: Scenario, bound_ms: u64) -> Self {
        let places = s
            .places
            .iter()
            .map(|place| PlaceState {
                cache: RefCell::new(None),
                isolates: (0..place.isolates).map(|_| FeedCopy::default()).collect(),
            })
            .collect();
        let users: Vec<User> = (0..s.users)
            .map(|i| {
                let email = Email::parse(&format!("user{i}@example.com")).unwrap();
                let id = UserId::for_email(&email);
                let session = NewSession::start(&id, &[u8::try_from(i).unwrap(); 32]);
                User {
                    id,
                    email,
                    session: session.key().clone(),
                }
            })
            .collect();
        Self {
            kv: SimKv::new(s.places.iter().map(|p| p.lag_ms).collect()),
            rng: Cell::new(s.seed | 1),
            s,
            bound_ms,
            clock: Cell::new(0),
            feed_storage: MemoryLedgerStorage::default(),
            feed_log: FeedLog::default(),
            places,
            ledgers: users.iter().map(|_| Rc::default()).collect(),
            users,
            tokens: RefCell::default(),
            busy: Cell::new(None),
            background: RefCell::default(),
            commands: RefCell::default(),
            polls: Cell::new(0),
            entropy: CountingEntropy::default(),
            report: RefCell::default(),
        }
    }

    fn now(&self) -> u64 {
        self.clock.get()
    }

    fn true_millis(&self) -> UnixMillis {
        UnixMillis(EPOCH_MS + self.now())
    }

    fn timestamp(&self) -> Timestamp {
        self.true_millis().timestamp()
    }

    fn place(&self, place: usize) -> &PlaceState {
        &self.places[place]
    }

    /// A number in `0..bound`, from the scenario's seed (xorshift).
    fn random(&self, bound: u64) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x % bound.max(1)
    }

    fn feed_reachable(&self) -> Result<(), StoreError> {
        match self.s.feed_down {
            Some(window) if window.contains(self.now()) => {
                Err(StoreError("simulated: feed unreachable".into()))
            }
            _ => Ok(()),
        }
    }

    fn kv_write_allowed(&self) -> Result<(), KvWriteError> {
        match self.s.kv_writes_fail {
            Some(window) if window.contains(self.now()) => Err(KvWriteError::Failed(StoreError(
                "simulated: KV write failed".into(),
            ))),
            _ => Ok(()),
        }
    }

    fn ports(&self) -> SimPorts<'_> {
        SimPorts {
            kv: KvAt {
                world: self,
                place: 0,
            },
            feed: FeedObject(self),
            sleep: SleepIn(self),
            entropy: &self.entropy,
        }
    }

    fn ledger_storage(&self, user_id: &UserId) -> Rc<MemoryLedgerStorage> {
        let index = self.users.iter().position(|user| &user.id == user_id);
        Rc::clone(&self.ledgers[index.expect("a simulated user")])
    }

    /// A lookup that cannot fail: how the oracle reads a ledger's truth.
    async fn lookup_directly(&self, user_id: &UserId, request: &str) -> String {
        let storage = self.ledger_storage(user_id);
        let ports = self.ports();
        let reply = ports.ledger(&storage, user_id).lookup(request).await;
        reply
    }

    // ---- playing ----------------------------------------------------------------------

    pub fn play(self) -> Report {
        block_on(self.play_all());
        self.report.into_inner()
    }

    async fn play_all(&self) {
        let network = LedgerClient::new(Network(self));
        for user in &self.users {
            let sign_in = SignIn {
                email: user.email.clone(),
                session: user.session.clone(),
            };
            network.call(&user.id, sign_in).await.unwrap();
        }
        for (at, action) in &self.s.actions {
            self.commands
                .borrow_mut()
                .push(*at, Event::Command(*action));
        }
        for (place, spec) in self.s.places.iter().enumerate() {
            for isolate in 0..spec.isolates {
                let first = self.random(self.s.poll_ms);
                self.background
                    .borrow_mut()
                    .push(first, Event::Poll { place, isolate });
            }
        }
        let last_action = self.s.actions.iter().map(|(at, _)| *at).max().unwrap_or(0);
        let end = last_action + WATCH_MS;
        loop {
            let command_at = self.commands.borrow().next_time();
            let alarm_at = self.next_alarm();
            let next = [command_at, alarm_at].into_iter().flatten().min();
            match next {
                Some(at) if at <= end => {
                    self.run_background_until(at).await;
                    if alarm_at == Some(at) {
                        self.fire_alarms().await;
                        continue;
                    }
                    let due = self.commands.borrow_mut().pop_due(at);
                    if let Some((_, Event::Command(action))) = due {
                        self.command(action).await;
                    }
                }
                _ => {
                    self.run_background_until(end).await;
                    break;
                }
            }
        }
    }

    /// Runs every background event due by `until`, then sets the clock there.
    async fn run_background_until(&self, until: u64) {
        loop {
            let due = self.background.borrow_mut().pop_due(until);
            let Some((at, event)) = due else { break };
            self.clock.set(self.now().max(at));
            self.background_event(event).await;
        }
        self.clock.set(self.now().max(until));
    }

    fn next_alarm(&self) -> Option<u64> {
        let due = self
            .ledgers
            .iter()
            .filter_map(|storage| storage.alarm.get())
            .min()?;
        Some(due.0.saturating_sub(EPOCH_MS))
    }

    async fn fire_alarms(&self) {
        for (user, storage) in self.users.iter().zip(&self.ledgers) {
            let due = storage
                .alarm
                .get()
                .is_some_and(|at| at <= self.true_millis());
            if !due {
                continue;
            }
            storage.alarm.set(None);
            let ports = self.ports();
            let outcome = ports
                .ledger(storage, &user.id)
                .reconcile(self.timestamp())
                .await;
            if self.s.kv_writes_fail.is_none() && self.s.feed_down.is_none() {
                assert_eq!(outcome, Ok(0), "reconciling without faults");
            }
        }
    }

    async fn background_event(&self, event: Event) {
        match event {
            Event::Poll { place, isolate } => {
                self.poll(place, isolate).await;
                let jitter = self.random(self.s.poll_ms / 2);
                let next = self.now() + self.s.poll_ms * 3 / 4 + jitter;
                self.background
                    .borrow_mut()
                    .push(next, Event::Poll { place, isolate });
            }
            Event::Fetch {
                place,
                isolate,
                started,
            } => {
                let source = SourceAt { world: self, place };
                let snapshot = source.fetch().await.ok();
                let arrives = self.now() + 5 + self.random(100);
                let install = Event::Install {
                    place,
                    isolate,
                    started,
                    snapshot,
                };
                self.background.borrow_mut().push(arrives, install);
            }
            Event::Install {
                place,
                isolate,
                started,
                snapshot,
            } => self.places[place].isolates[isolate].refresh_done(started, snapshot),
            Event::Command(_) => unreachable!("commands are queued apart"),
        }
    }
}
