//! **Test build only** (`simulated-lag` feature, the `worker/build-lag` bundle): KV as
//! Cloudflare's other locations see it, so the e2e suite can run the real feed and authority
//! against stale reads under workerd, where KV is otherwise strongly consistent.
//!
//! - A request names its simulated location in `X-Patgate-Sim-Location`. Each location other
//!   than the ledger's own keeps every KV read, found or not, for `SIMULATED_KV_LAG` seconds,
//!   as KV's edge caches do.
//! - Writes are limited to one per second per key (KV answers 429 beyond; `GET
//!   /__sim/stats` counts those answers), and `POST /__sim/fail-kv-writes?count=N` makes the
//!   next N writes fail outright.
//! - `GET /__sim/kv?location=L&key=K` shows what location L's KV would answer for key K now
//!   (`home`: KV itself), so a test can prove a location still holds a stale record.
//!
//! A release build cannot contain this module, and refuses to serve with `SIMULATED_KV_LAG`
//! set (`config`); `tests/e2e/lag.test.mjs` checks the release bundle for [`SIMULATED_LAG_MARKER`].

use std::cell::RefCell;
use std::collections::HashMap;

use patgate_core::identity::UserId;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;
use serde_json::json;
use worker::{Env, Request};

use super::kv::KvTokenStore;
use crate::config::{Config, SimulatedLag};
use crate::http::Reply;
use crate::runtime::{Clock, SystemClock, UnixMillis};
use crate::store::{exposure_marker_key, KvWriteError, StoreError, TokenStore};

/// Sent on every response of the test build; its absence from the release bundle proves the
/// release cannot simulate lag.
pub const SIMULATED_LAG_MARKER: &str = "patgate-simulated-kv-lag: test build, never deploy";
const LOCATION_HEADER: &str = "X-Patgate-Sim-Location";
/// The ledger's own location: it sees its writes at once.
const HOME: &str = "home";
/// KV keys (never a token hash: those are hex) for the test build's counters: writes still
/// to fail, and writes answered 429 so far.
const FAIL_WRITES_KEY: &str = "__sim_fail_writes";
const RATE_LIMITED_KEY: &str = "__sim_rate_limited";
const KV_WRITE_INTERVAL_MS: u64 = 1_000;

type CacheEntry = (Option<String>, UnixMillis);

thread_local! {
    /// Each simulated location's cached reads, by location and key.
    static CACHES: RefCell<HashMap<(String, String), CacheEntry>> = RefCell::new(HashMap::new());
    /// When each key was last written.
    static LAST_WRITES: RefCell<HashMap<String, UnixMillis>> = RefCell::new(HashMap::new());
}

pub struct LaggingKv<'e> {
    kv: KvTokenStore<'e>,
    location: Option<String>,
    lag: Option<SimulatedLag>,
}

impl<'e> LaggingKv<'e> {
    pub fn new(env: &'e Env, config: &Config, headers: Option<&web_sys::Headers>) -> Self {
        let location = headers
            .and_then(|headers| headers.get(LOCATION_HEADER).ok().flatten())
            .filter(|location| location != HOME);
        Self {
            kv: KvTokenStore::new(env),
            location,
            lag: config.simulated_lag.clone().ok().flatten(),
        }
    }

    /// Takes one of the writes set to fail, if any remain.
    async fn injected_failure(&self) -> Result<bool, StoreError> {
        let remaining = self.kv.get_raw(FAIL_WRITES_KEY).await?;
        let count = remaining.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        if count == 0 {
            return Ok(false);
        }
        self.kv
            .put_raw(FAIL_WRITES_KEY, &(count - 1).to_string())
            .await?;
        Ok(true)
    }

    /// The faults and write limit a write to KV's key `name` meets.
    async fn before_write(&self, name: &str) -> Result<(), KvWriteError> {
        #[cfg(feature = "simulated-faults")]
        match super::faults::Faults::current(&self.kv)
            .await
            .map_err(KvWriteError::Failed)?
            .kv_writes
        {
            super::faults::KvWrites::Ok => {}
            super::faults::KvWrites::Fail => {
                return Err(KvWriteError::Failed(StoreError(
                    "simulated KV write failure".into(),
                )))
            }
            super::faults::KvWrites::RateLimited => return Err(KvWriteError::RateLimited),
        }
        let now = SystemClock.now_millis();
        let too_soon = LAST_WRITES.with(|writes| {
            let mut writes = writes.borrow_mut();
            let last = writes.get(name).copied();
            let too_soon = last.is_some_and(|at| now.since(at) < KV_WRITE_INTERVAL_MS);
            if !too_soon {
                writes.insert(name.to_owned(), now);
            }
            too_soon
        });
        if too_soon {
            let seen = counter(&self.kv, RATE_LIMITED_KEY).await;
            let noted = match seen {
                Ok(count) => {
                    self.kv
                        .put_raw(RATE_LIMITED_KEY, &(count + 1).to_string())
                        .await
                }
                Err(error) => Err(error),
            };
            noted.map_err(KvWriteError::Failed)?;
            return Err(KvWriteError::RateLimited);
        }
        if self
            .injected_failure()
            .await
            .map_err(KvWriteError::Failed)?
        {
            return Err(KvWriteError::Failed(StoreError(
                "simulated KV write failure".into(),
            )));
        }
        Ok(())
    }
}

/// A test-build counter kept in KV (absent means zero).
async fn counter(kv: &KvTokenStore<'_>, key: &str) -> Result<u64, StoreError> {
    Ok(kv
        .get_raw(key)
        .await?
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// What `location` reads for `key` now: its cached read while fresh, else KV (then cached).
async fn read_at(
    kv: &KvTokenStore<'_>,
    location: &str,
    key: &StorageKey,
    lag: SimulatedLag,
) -> Result<(Option<String>, bool), StoreError> {
    let now = SystemClock.now_millis();
    let cache_key = (location.to_owned(), key.as_str().to_owned());
    let cached = CACHES.with(|caches| caches.borrow().get(&cache_key).cloned());
    if let Some((value, at)) = cached {
        if now.since(at) < lag.cache_seconds.saturating_mul(1000) {
            return Ok((value, true));
        }
    }
    let value = kv.get(key).await?;
    CACHES.with(|caches| caches.borrow_mut().insert(cache_key, (value.clone(), now)));
    Ok((value, false))
}

impl TokenStore for LaggingKv<'_> {
    async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError> {
        #[cfg(feature = "simulated-faults")]
        if super::faults::Faults::current(&self.kv)
            .await?
            .kv_reads_fail
        {
            return Err(StoreError("simulated KV read failure".into()));
        }
        match (&self.location, self.lag) {
            (Some(location), Some(lag)) => Ok(read_at(&self.kv, location, key, lag).await?.0),
            _ => self.kv.get(key).await,
        }
    }

    async fn put(
        &self,
        key: &StorageKey,
        record_json: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), KvWriteError> {
        self.before_write(key.as_str()).await?;
        self.kv.put(key, record_json, expires_at).await
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), KvWriteError> {
        self.before_write(key.as_str()).await?;
        self.kv.delete(key).await
    }

    async fn mark_exposed(&self, key: &StorageKey, owner: &UserId) -> Result<(), KvWriteError> {
        self.before_write(&exposure_marker_key(key)).await?;
        self.kv.mark_exposed(key, owner).await
    }
}

/// Answers the test build's control routes (`/__sim/…`); `None` for every other request.
pub async fn control(req: &Request, env: &Env) -> Option<Reply> {
    let url = req.url().ok()?;
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let kv = KvTokenStore::new(env);
    let outcome = match url.path() {
        "/__sim/kv" => {
            let lag = super::config(env).simulated_lag.clone().ok().flatten()?;
            let key = StorageKey::parse(query.get("key")?)?;
            let read = match query.get("location")?.as_str() {
                HOME => kv.get(&key).await.map(|value| (value, false)),
                location => read_at(&kv, location, &key, lag).await,
            };
            read.map(|(value, cached)| json!({ "value": value, "cached": cached }))
        }
        "/__sim/stats" => counter(&kv, RATE_LIMITED_KEY)
            .await
            .map(|count| json!({ "rate_limited_writes": count })),
        #[cfg(feature = "simulated-faults")]
        "/__sim/faults" => super::faults::control(url.query().unwrap_or_default(), env).await,
        "/__sim/fail-kv-writes" => {
            let count = query.get("count")?.parse::<u64>().ok()?;
            kv.put_raw(FAIL_WRITES_KEY, &count.to_string())
                .await
                .map(|()| json!({ "failing_writes": count }))
        }
        _ => return None,
    };
    Some(match outcome {
        Ok(body) => Reply::json(200, &body).unwrap_or_else(|e| Reply::error(&e)),
        Err(error) => Reply::json(503, &json!({ "error": error.to_string() }))
            .unwrap_or_else(|e| Reply::error(&e)),
    })
}
