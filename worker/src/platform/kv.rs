//! [`TokenStore`] and [`ExposureIndex`] over Workers KV.

use patgate_core::identity::UserId;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::runtime::{Clock, SystemClock};
use crate::store::{
    exposure_marker_json, exposure_marker_key, is_rate_limit_message, kv_expiration,
    owners_of_markers, ExposureIndex, KvWriteError, StoreError, TokenStore,
    EXPOSURE_MARKER_SECONDS, KV_BULK_READ_KEYS,
};

pub const TOKENS_BINDING: &str = "TOKENS";

/// Looks the binding up only when first used, so requests rejected before storage never
/// touch it.
pub struct KvTokenStore<'a> {
    env: &'a Env,
}

impl<'a> KvTokenStore<'a> {
    pub fn new(env: &'a Env) -> Self {
        Self { env }
    }

    fn kv(&self) -> Result<worker::kv::KvStore, StoreError> {
        self.env
            .kv(TOKENS_BINDING)
            .map_err(|e| StoreError(format!("KV binding: {e}")))
    }
}

/// The test build's own bookkeeping in KV (`lag`), under keys no token hash can take.
#[cfg(feature = "simulated-lag")]
impl KvTokenStore<'_> {
    pub async fn get_raw(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv()?.get(key).text().await.map_err(kv_error("get"))
    }

    pub async fn put_raw(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.kv()?
            .put(key, value)
            .map_err(kv_error("put"))?
            .execute()
            .await
            .map_err(kv_error("put"))
    }
}

fn kv_error(operation: &str) -> impl FnOnce(worker::kv::KvError) -> StoreError + '_ {
    move |e| StoreError(format!("KV {operation}: {e}"))
}

fn write_error(operation: &str) -> impl FnOnce(worker::kv::KvError) -> KvWriteError + '_ {
    move |e| {
        let error = kv_error(operation)(e);
        if is_rate_limit_message(&error.0) {
            KvWriteError::RateLimited
        } else {
            KvWriteError::Failed(error)
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// The KV binding as the runtime gives it, for the validation read on the hot path: one
    /// call, where workers-rs's `KvStore` first looks up each of its five methods.
    type KvNamespace;

    /// `get(key, "arrayBuffer")`: a promise of the value's bytes, or null. Bytes, not text: a
    /// buffer is copied into wasm memory in one call, where a string is copied a character at
    /// a time (see `platform::text`).
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_bytes(this: &KvNamespace, key: &str, kind: &str) -> Result<js_sys::Promise, JsValue>;
}

impl TokenStore for KvTokenStore<'_> {
    async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError> {
        let kv_failure = |error: JsValue| StoreError(format!("KV get: {error:?}"));
        let binding = js_sys::Reflect::get(self.env, &JsValue::from_str(TOKENS_BINDING))
            .map_err(kv_failure)?;
        if binding.is_undefined() {
            return Err(StoreError(format!(
                "KV binding {TOKENS_BINDING} is missing"
            )));
        }
        let promise = binding
            .unchecked_into::<KvNamespace>()
            .get_bytes(key.as_str(), "arrayBuffer")
            .map_err(kv_failure)?;
        let value = JsFuture::from(promise).await.map_err(kv_failure)?;
        if value.is_null() {
            return Ok(None);
        }
        let buffer = value
            .dyn_into::<js_sys::ArrayBuffer>()
            .map_err(|_| StoreError("KV get: the value is not bytes".into()))?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError("KV get: the value is not UTF-8 text".into()))
    }

    async fn put(
        &self,
        key: &StorageKey,
        record_json: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), KvWriteError> {
        let mut put = self
            .kv()
            .map_err(KvWriteError::Failed)?
            .put(key.as_str(), record_json)
            .map_err(write_error("put"))?;
        if let Some(at) = expires_at {
            put = put.expiration(kv_expiration(at, SystemClock.now()));
        }
        put.execute().await.map_err(write_error("put"))
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), KvWriteError> {
        self.kv()
            .map_err(KvWriteError::Failed)?
            .delete(key.as_str())
            .await
            .map_err(write_error("delete"))
    }

    async fn mark_exposed(&self, key: &StorageKey, owner: &UserId) -> Result<(), KvWriteError> {
        self.kv()
            .map_err(KvWriteError::Failed)?
            .put(&exposure_marker_key(key), exposure_marker_json(owner))
            .map_err(write_error("put"))?
            .expiration_ttl(EXPOSURE_MARKER_SECONDS)
            .execute()
            .await
            .map_err(write_error("put"))
    }
}

impl KvTokenStore<'_> {
    /// The values KV holds under these keys, read [`KV_BULK_READ_KEYS`] at a time.
    async fn bulk_read<'k>(
        &self,
        keys: impl Iterator<Item = (&'k StorageKey, String)>,
    ) -> Result<Vec<(StorageKey, String)>, StoreError> {
        let kv = self.kv()?;
        let named: Vec<(&StorageKey, String)> = keys.collect();
        let mut found = Vec::new();
        for chunk in named.chunks(KV_BULK_READ_KEYS) {
            let names: Vec<&str> = chunk.iter().map(|(_, name)| name.as_str()).collect();
            let mut values = kv
                .get_bulk(&names)
                .text()
                .await
                .map_err(kv_error("bulk get"))?;
            for (key, name) in chunk {
                if let Some(Some(value)) = values.remove(name) {
                    found.push(((*key).clone(), value));
                }
            }
        }
        Ok(found)
    }
}

impl ExposureIndex for KvTokenStore<'_> {
    async fn records(&self, keys: &[StorageKey]) -> Result<Vec<(StorageKey, String)>, StoreError> {
        self.bulk_read(keys.iter().map(|key| (key, key.as_str().to_owned())))
            .await
    }

    async fn marked_owners(
        &self,
        keys: &[StorageKey],
    ) -> Result<Vec<(StorageKey, UserId)>, StoreError> {
        let markers = self
            .bulk_read(keys.iter().map(|key| (key, exposure_marker_key(key))))
            .await?;
        Ok(owners_of_markers(markers))
    }
}
