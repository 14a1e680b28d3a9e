//! [`LedgerStorage`] over a Durable Object's storage: one storage transaction per commit, and
//! the object's alarm.

use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::DurableObjectTransaction;
use worker::{ListOptions, ScheduledTime, Storage};

use crate::runtime::UnixMillis;
use crate::store::{Batch, LedgerStorage, StoreError};

pub struct DurableStorage(pub Storage);

fn storage_error(operation: &'static str) -> impl Fn(worker::Error) -> StoreError {
    move |e| StoreError(format!("storage {operation}: {e}"))
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
                .map_err(|e| StoreError(format!("storage list: {e:?}")))?
                .into();
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(key), Some(value)) => entries.push((key, value)),
                _ => return Err(StoreError("storage list: non-string entry".to_owned())),
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
                .map_err(|e| StoreError(format!("storage commit: {e:?}")))?;
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
            .map_err(|e| StoreError(format!("storage commit: {e:?}")))?;
        JsFuture::from(committed)
            .await
            .map(|_| ())
            .map_err(|e| StoreError(format!("storage commit: {e:?}")))
    }

    async fn alarm_by(&self, at: UnixMillis) -> Result<(), StoreError> {
        let set = self
            .0
            .get_alarm()
            .await
            .map_err(storage_error("get alarm"))?;
        // Millisecond clocks fit an i64 until the year 292 million.
        let at_ms = i64::try_from(at.0).unwrap_or(i64::MAX);
        if set.is_some_and(|due| due <= at_ms) {
            return Ok(());
        }
        let due = js_sys::Date::new(&JsValue::from_f64(at.0 as f64));
        self.0
            .set_alarm(ScheduledTime::new(due))
            .await
            .map_err(storage_error("set alarm"))
    }
}
