//! The `UserLedger` Durable Object (one per user, named by the user id), its storage adapter,
//! and the transport the Worker's [`LedgerClient`](crate::ledger::client::LedgerClient) uses
//! to reach it.
//!
//! The object is the only writer of a user's KV validation records. It runs every command
//! under one lock: a Durable Object may interleave requests while one awaits KV, and the
//! ledger's ordering guarantees need each change to finish before the next begins.

use futures_util::lock::Mutex;
use js_sys::Promise;
use patgate_core::identity::UserId;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::DurableObjectTransaction;
use worker::{
    durable_object, DurableObject, Env, ListOptions, Method, Request, RequestInit, Response, State,
    Storage,
};

use super::kv::KvTokenStore;
use crate::ledger::client::{LedgerTransport, TransportError};
use crate::ledger::Ledger;
use crate::log;
use crate::runtime::{Clock, SystemClock, SystemEntropy};
use crate::store::{Batch, LedgerStorage, StoreError};

pub const LEDGER_BINDING: &str = "LEDGER";
const COMMAND_URL: &str = "https://ledger.internal/command";

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

impl DurableObject for UserLedger {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            lock: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        // The object's own name is the user it belongs to: a request naming another user is
        // refused by the ledger, whatever its body claims.
        let Some(user_id) = self.state.id().name().as_deref().and_then(UserId::parse) else {
            log::error("ledger object without a user id name");
            return Response::error("ledger object without a user id name", 500);
        };
        let request = req.text().await?;
        let _serialized = self.lock.lock().await;
        let storage = DurableStorage(self.state.storage());
        let ledger = Ledger {
            storage: &storage,
            tokens: &KvTokenStore::new(&self.env),
            entropy: &SystemEntropy,
            user_id: &user_id,
        };
        Response::ok(ledger.handle(&request, SystemClock.now()).await)
    }
}

struct DurableStorage(Storage);

fn storage_error(operation: &'static str) -> impl Fn(worker::Error) -> StoreError {
    move |e| StoreError(format!("ledger {operation}: {e}"))
}

impl LedgerStorage for DurableStorage {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0
            .get::<String>(key)
            .await
            .map_err(storage_error("get"))
    }

    async fn list(
        &self,
        prefix: &str,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut options = ListOptions::new().prefix(prefix).reverse(reverse);
        if limit != usize::MAX {
            options = options.limit(limit);
        }
        let map = self
            .0
            .list_with_options(options)
            .await
            .map_err(storage_error("list"))?;
        let mut entries = Vec::new();
        for pair in map.entries() {
            let pair: js_sys::Array = pair
                .map_err(|e| StoreError(format!("ledger list: {e:?}")))?
                .into();
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(key), Some(value)) => entries.push((key, value)),
                _ => return Err(StoreError("ledger list: non-string entry".to_owned())),
            }
        }
        Ok(entries)
    }

    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let puts = js_sys::Object::new();
        for (key, value) in &batch.puts {
            js_sys::Reflect::set(&puts, &JsValue::from_str(key), &JsValue::from_str(value))
                .map_err(|e| StoreError(format!("ledger commit: {e:?}")))?;
        }
        let deletes: Vec<JsValue> = batch.deletes.iter().map(|k| JsValue::from_str(k)).collect();
        // One storage transaction: its puts and deletes are applied together or not at all.
        // Both are issued synchronously inside it; the transaction commits when they settle.
        let apply = Closure::once(move |transaction: DurableObjectTransaction| -> Promise {
            let issue = || -> Result<js_sys::Array, JsValue> {
                let pending = js_sys::Array::new();
                if !batch.puts.is_empty() {
                    pending.push(transaction.put_multiple(puts.into())?.as_ref());
                }
                if !deletes.is_empty() {
                    pending.push(transaction.delete_multiple(deletes)?.as_ref());
                }
                Ok(pending)
            };
            issue().map_or_else(
                |error| Promise::reject(&error),
                |pending| Promise::all(&pending),
            )
        });
        let committed = self
            .0
            .as_raw()
            .transaction(&apply)
            .map_err(|e| StoreError(format!("ledger commit: {e:?}")))?;
        JsFuture::from(committed)
            .await
            .map(|_| ())
            .map_err(|e| StoreError(format!("ledger commit: {e:?}")))
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
}

impl LedgerTransport for DurableObjectTransport {
    async fn send(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        let failed = |what: &str| {
            let what = what.to_owned();
            move |error: worker::Error| TransportError(format!("{what}: {error}"))
        };
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&request)));
        let request = Request::new_with_init(COMMAND_URL, &init).map_err(failed("request"))?;
        let stub = self
            .env
            .durable_object(LEDGER_BINDING)
            .and_then(|namespace| namespace.id_from_name(user_id.as_str())?.get_stub())
            .map_err(failed("stub"))?;
        let mut response = stub
            .fetch_with_request(request)
            .await
            .map_err(failed("fetch"))?;
        if response.status_code() != 200 {
            return Err(TransportError(format!(
                "ledger answered HTTP {}",
                response.status_code()
            )));
        }
        response.text().await.map_err(failed("reply"))
    }
}
