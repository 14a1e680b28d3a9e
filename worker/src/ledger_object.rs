//! The `UserLedger` Durable Object (one per user) and the Worker's client for it.
//!
//! The object is the only writer of a user's KV validation records. It runs every command
//! under one lock: a Durable Object may interleave requests while one awaits KV, and the
//! ledger's ordering guarantees need each change to finish before the next begins.

use futures_util::lock::Mutex;
use patgate_core::identity::UserId;
use patgate_core::time::Timestamp;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, ListOptions, Method, Request, RequestInit, Response, State,
    Storage,
};

use crate::error::ApiError;
use crate::kv::KvTokenStore;
use crate::ledger::{Command, Entropy, Ledger, LedgerError, LedgerRequest, Reply};
use crate::log;
use crate::store::{LedgerStorage, StoreError};

pub const LEDGER_BINDING: &str = "LEDGER";
const COMMAND_URL: &str = "https://ledger.internal/command";

pub fn now() -> Timestamp {
    Timestamp::from_unix_millis_clamped(js_sys::Date::now())
}

/// Randomness from the platform CSPRNG (`crypto.getRandomValues`).
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), StoreError> {
        getrandom::fill(buf).map_err(|e| StoreError(format!("randomness unavailable: {e}")))
    }
}

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
        let request: LedgerRequest = req.json().await?;
        let _serialized = self.lock.lock().await;
        let storage = DurableStorage(self.state.storage());
        let ledger = Ledger {
            storage: &storage,
            tokens: &KvTokenStore::new(&self.env),
            entropy: &SystemEntropy,
            user_id: &request.user_id,
        };
        let outcome: Result<Reply, LedgerError> = ledger.execute(request.command, now()).await;
        Response::from_json(&outcome)
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

    async fn put_many(&self, entries: Vec<(String, String)>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        // A plain object of string values: the runtime writes all its entries atomically.
        let object = js_sys::Object::new();
        for (key, value) in entries {
            js_sys::Reflect::set(
                &object,
                &JsValue::from_str(&key),
                &JsValue::from_str(&value),
            )
            .map_err(|e| StoreError(format!("ledger put: {e:?}")))?;
        }
        self.0
            .put_multiple_raw(object)
            .await
            .map_err(storage_error("put"))
    }

    async fn delete_many(&self, keys: Vec<String>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.0
            .delete_multiple(keys)
            .await
            .map(|_| ())
            .map_err(storage_error("delete"))
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
            let key = pair.get(0).as_string();
            let value = pair.get(1).as_string();
            match (key, value) {
                (Some(key), Some(value)) => entries.push((key, value)),
                _ => return Err(StoreError("ledger list: non-string entry".to_owned())),
            }
        }
        Ok(entries)
    }
}

/// Sends one command to a user's ledger. Any failure to reach it is "unavailable".
pub async fn call(env: &Env, user_id: &UserId, command: Command) -> Result<Reply, ApiError> {
    let unavailable = |what: &str, error: worker::Error| {
        log::error(&format!("ledger {what}: {error}"));
        ApiError::StoreUnavailable
    };
    let body = serde_json::to_string(&LedgerRequest {
        user_id: user_id.clone(),
        command,
    })
    .map_err(|_| ApiError::Internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init(COMMAND_URL, &init)?;
    let stub = env
        .durable_object(LEDGER_BINDING)
        .and_then(|namespace| namespace.id_from_name(user_id.as_str())?.get_stub())
        .map_err(|e| unavailable("stub", e))?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| unavailable("fetch", e))?;
    let outcome: Result<Reply, LedgerError> =
        response.json().await.map_err(|e| unavailable("reply", e))?;
    outcome.map_err(|error| match error {
        LedgerError::NotSignedIn => ApiError::NotSignedIn,
        LedgerError::NotFound => ApiError::NotFound,
        LedgerError::TokenLimitReached => ApiError::TokenLimitReached,
        LedgerError::Unavailable => ApiError::StoreUnavailable,
    })
}
