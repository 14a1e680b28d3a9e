//! The `UserLedger` Durable Object (one per user, named by the user id), and the transport the
//! Worker's [`LedgerClient`](crate::ledger::client::LedgerClient) uses to reach it.
//!
//! The object is the only writer of a user's KV validation records. It runs every command
//! (and its alarm) under one lock: a Durable Object may interleave requests while one awaits
//! KV, and the ledger's ordering guarantees need each change to finish before the next begins.
//! Lookups (`/lookup`) take no lock: they read committed state, which is always whole.

use futures_util::lock::Mutex;
use patgate_core::identity::UserId;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use super::durable_storage::DurableStorage;
use super::feed_object::FeedStub;
use super::stub::call_object;
use super::{validation_kv, SystemSleep, ValidationKv};
use crate::ledger::client::{LedgerTransport, TransportError};
use crate::ledger::{Ledger, LedgerPorts};
use crate::log;
use crate::runtime::{Clock, SystemClock, SystemEntropy};

pub const LEDGER_BINDING: &str = "LEDGER";
const COMMAND_URL: &str = "https://ledger.internal/command";
const LOOKUP_URL: &str = "https://ledger.internal/lookup";
const LOOKUP_PATH: &str = "/lookup";

#[durable_object]
pub struct UserLedger {
    state: State,
    env: Env,
    lock: Mutex<()>,
}

impl std::fmt::Debug for UserLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserLedger").finish_non_exhaustive()
    }
}

impl UserLedger {
    /// The user this object belongs to: its own name. A request naming another user is
    /// refused by the ledger, whatever its body claims.
    fn user_id(&self) -> Option<UserId> {
        self.state.id().name().as_deref().and_then(UserId::parse)
    }
}

/// What the ledger runs over in workerd.
struct ObjectPorts<'e> {
    storage: DurableStorage,
    tokens: ValidationKv<'e>,
    feed: FeedStub<'e>,
}

impl<'e> LedgerPorts for ObjectPorts<'e> {
    type Storage = DurableStorage;
    type Kv = ValidationKv<'e>;
    type Entropy = SystemEntropy;
    type Feed = FeedStub<'e>;
    type Sleep = SystemSleep;
}

impl ObjectPorts<'_> {
    fn ledger<'a>(&'a self, user_id: &'a UserId) -> Ledger<'a, Self> {
        Ledger {
            storage: &self.storage,
            tokens: &self.tokens,
            entropy: &SystemEntropy,
            feed: &self.feed,
            sleep: &SystemSleep,
            user_id,
        }
    }
}

impl UserLedger {
    fn ports(&self) -> ObjectPorts<'_> {
        ObjectPorts {
            storage: DurableStorage(self.state.storage()),
            tokens: validation_kv(&self.env, None),
            feed: FeedStub::new(&self.env),
        }
    }
}

impl DurableObject for UserLedger {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            lock: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        #[cfg(feature = "simulated-faults")]
        if let Some(answer) = super::faults::ledger_answer(&self.env, &req).await {
            return answer;
        }
        let Some(user_id) = self.user_id() else {
            log::error("ledger object without a user id name");
            return Response::error("ledger object without a user id name", 500);
        };
        let request = req.text().await?;
        let ports = self.ports();
        let ledger = ports.ledger(&user_id);
        if req.path() == LOOKUP_PATH {
            // Lookups read committed state only: they never wait for a command to finish.
            return Response::ok(ledger.lookup(&request).await);
        }
        let _serialized = self.lock.lock().await;
        Response::ok(ledger.handle(&request, SystemClock.now()).await)
    }

    /// Reconciles KV with the ledger after a partial failure (see `ledger::propagation`).
    async fn alarm(&self) -> worker::Result<Response> {
        let Some(user_id) = self.user_id() else {
            log::error("ledger alarm without a user id name");
            return Response::error("ledger object without a user id name", 500);
        };
        let _serialized = self.lock.lock().await;
        let ports = self.ports();
        match ports.ledger(&user_id).reconcile(SystemClock.now()).await {
            Ok(0) => {}
            Ok(pending) => log::error(&format!("{pending} KV records out of step; retrying")),
            Err(error) => log::error(&format!("reconciling KV failed: {error:?}; retrying")),
        }
        Response::ok("")
    }
}

/// Reaches a user's ledger through its Durable Object stub.
pub struct DurableObjectTransport {
    env: Env,
}

impl DurableObjectTransport {
    pub fn new(env: Env) -> Self {
        Self { env }
    }

    async fn post(
        &self,
        url: &str,
        user_id: &UserId,
        request: &str,
    ) -> Result<String, TransportError> {
        call_object(
            &self.env,
            LEDGER_BINDING,
            user_id.as_str(),
            url,
            Some(request),
        )
        .await
        .map_err(TransportError)
    }
}

impl LedgerTransport for DurableObjectTransport {
    async fn send(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        self.post(COMMAND_URL, user_id, &request).await
    }

    async fn lookup(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        self.post(LOOKUP_URL, user_id, &request).await
    }
}
