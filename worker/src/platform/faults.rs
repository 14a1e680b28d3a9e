//! **Test build only** (`simulated-faults` feature, in the `worker/build-lag` bundle): faults
//! the e2e suite switches on and off under workerd, to show that every one is answered as
//! documented and that nothing is lost once it clears (`tests/e2e/faults.test.mjs`).
//!
//! `POST /__sim/faults?kv_reads=fail|ok&kv_writes=fail|rate_limited|ok&ledger=fail|hang|ok`
//! sets the faults named (the others stay as they are) and answers the whole set. They are kept
//! in KV under a key no token hash can have, so that the Worker and every ledger object see the
//! same set; reading it bypasses the faults.
//!
//! - `kv_reads=fail`: every read of a validation record fails (the gateway must answer 503).
//! - `kv_writes=fail` / `rate_limited`: every write of a record fails, or is answered 429.
//! - `ledger=fail`: every ledger object answers 500; `hang`: it answers nothing before the
//!   Worker stops waiting (the platform's object timeout), then 500, having done nothing.
//!
//! `POST /__sim/panic` panics in the fetch entry, as a bug would: the request fails, and the
//! next one must find a fresh wasm instance (`platform::entry`).

use serde::{Deserialize, Serialize};
use worker::{Delay, Env, Request, Response};

use super::kv::KvTokenStore;
use crate::store::StoreError;

const FAULTS_KEY: &str = "__sim_faults";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvWrites {
    #[default]
    Ok,
    Fail,
    RateLimited,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerFault {
    #[default]
    Ok,
    Fail,
    Hang,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    pub kv_reads_fail: bool,
    pub kv_writes: KvWrites,
    pub ledger: LedgerFault,
}

impl Faults {
    /// The faults in force now. Unreadable state is an error, never "no faults".
    pub async fn current(kv: &KvTokenStore<'_>) -> Result<Self, StoreError> {
        match kv.get_raw(FAULTS_KEY).await? {
            None => Ok(Self::default()),
            Some(json) => patgate_core::json::from_text(&json)
                .map_err(|e| StoreError(format!("unreadable simulated faults: {e}"))),
        }
    }

    /// The faults after a control request's query (`name=value&…`); `None` for a query that
    /// names an unknown fault or value.
    fn changed_by(mut self, query: &str) -> Option<Self> {
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=')? {
                ("kv_reads", "fail") => self.kv_reads_fail = true,
                ("kv_reads", "ok") => self.kv_reads_fail = false,
                ("kv_writes", "fail") => self.kv_writes = KvWrites::Fail,
                ("kv_writes", "rate_limited") => self.kv_writes = KvWrites::RateLimited,
                ("kv_writes", "ok") => self.kv_writes = KvWrites::Ok,
                ("ledger", "fail") => self.ledger = LedgerFault::Fail,
                ("ledger", "hang") => self.ledger = LedgerFault::Hang,
                ("ledger", "ok") => self.ledger = LedgerFault::Ok,
                _ => return None,
            }
        }
        Some(self)
    }
}

/// `POST /__sim/faults?…`: sets faults and answers the set in force.
pub async fn control(query: &str, env: &Env) -> Result<serde_json::Value, StoreError> {
    let kv = KvTokenStore::new(env);
    let faults = Faults::current(&kv)
        .await?
        .changed_by(query)
        .ok_or_else(|| StoreError(format!("unknown fault in {query:?}")))?;
    let json =
        serde_json::to_string(&faults).map_err(|e| StoreError(format!("simulated faults: {e}")))?;
    kv.put_raw(FAULTS_KEY, &json).await?;
    serde_json::to_value(faults).map_err(|e| StoreError(format!("simulated faults: {e}")))
}

/// What a ledger object answers instead of running `req`, while its fault is on.
pub async fn ledger_answer(env: &Env, _req: &Request) -> Option<worker::Result<Response>> {
    let faults = match Faults::current(&KvTokenStore::new(env)).await {
        Ok(faults) => faults,
        Err(error) => return Some(Response::error(error.to_string(), 500)),
    };
    match faults.ledger {
        LedgerFault::Ok => None,
        LedgerFault::Fail => Some(Response::error("simulated ledger failure", 500)),
        LedgerFault::Hang => {
            // Longer than the Worker waits for an object.
            Delay::from(super::stub::OBJECT_TIMEOUT + std::time::Duration::from_secs(2)).await;
            Some(Response::error("simulated ledger hang", 500))
        }
    }
}

/// A bug, on purpose: the panic the fetch entry must recover from.
#[allow(clippy::panic)]
pub fn simulated_panic() -> ! {
    panic!("simulated panic (test build, POST /__sim/panic)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_changes_only_the_faults_it_names() {
        let faults = Faults::default()
            .changed_by("kv_reads=fail&ledger=hang")
            .unwrap();
        assert_eq!(
            faults,
            Faults {
                kv_reads_fail: true,
                kv_writes: KvWrites::Ok,
                ledger: LedgerFault::Hang
            }
        );
        let cleared = faults.changed_by("ledger=ok").unwrap();
        assert!(cleared.kv_reads_fail);
        assert_eq!(cleared.ledger, LedgerFault::Ok);
        assert_eq!(Faults::default().changed_by("kv_reads=maybe"), None);
        assert_eq!(Faults::default().changed_by("disk=fail"), None);
    }
}
