//! [`TokenStore`] over Workers KV.

use patgate_core::token::StorageKey;
use worker::Env;

use crate::store::{StoreError, TokenStore};

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

fn kv_error(operation: &str) -> impl FnOnce(worker::kv::KvError) -> StoreError + '_ {
    move |e| StoreError(format!("KV {operation}: {e}"))
}

impl TokenStore for KvTokenStore<'_> {
    async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError> {
        self.kv()?
            .get(key.as_str())
            .text()
            .await
            .map_err(kv_error("get"))
    }

    async fn put(&self, key: &StorageKey, record_json: &str) -> Result<(), StoreError> {
        self.kv()?
            .put(key.as_str(), record_json)
            .map_err(kv_error("put"))?
            .execute()
            .await
            .map_err(kv_error("put"))
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), StoreError> {
        self.kv()?
            .delete(key.as_str())
            .await
            .map_err(kv_error("delete"))
    }
}
