//! Workers KV as Cloudflare documents it, seen from several locations on one virtual clock:
//!
//! - a write lands at once at the writer's location (the ledger's, location 0) and reaches
//!   every other location only after that location's propagation lag;
//! - every location caches what it reads, found or not, for [`CACHE_TTL_MS`] (the `cacheTtl`
//!   default), and serves that answer until then, whatever was written since;
//! - one write per second per key; a faster one is answered 429;
//! - a record written with an expiration is gone once it passes.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::store::KvWriteError;

/// How long a location serves what it read: KV's default `cacheTtl`.
pub const CACHE_TTL_MS: u64 = 60_000;
const WRITE_INTERVAL_MS: u64 = 1_000;

#[derive(Debug, Clone)]
struct Write {
    at: u64,
    value: Option<String>,
    expires_at_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct Cached {
    value: Option<String>,
    read_at: u64,
}

/// The namespace, with one cache per location. Times are the simulation's virtual
/// milliseconds.
#[derive(Debug)]
pub struct SimKv {
    writes: RefCell<HashMap<String, Vec<Write>>>,
    caches: Vec<RefCell<HashMap<String, Cached>>>,
    lags_ms: Vec<u64>,
}

impl SimKv {
    /// Location `i` sees writes `lags_ms[i]` after they land; location 0 is the writer's.
    pub fn new(lags_ms: Vec<u64>) -> Self {
        Self {
            writes: RefCell::default(),
            caches: lags_ms.iter().map(|_| RefCell::default()).collect(),
            lags_ms,
        }
    }

    /// What `location` reads for `key` at `now`.
    pub fn read(&self, location: usize, key: &str, now: u64) -> Option<String> {
        let cache = self.caches.get(location)?;
        if let Some(cached) = cache.borrow().get(key) {
            if now < cached.read_at + CACHE_TTL_MS {
                return cached.value.clone();
            }
        }
        let lag = self.lags_ms.get(location).copied().unwrap_or(0);
        let value = self.visible(key, now.saturating_sub(lag), now);
        let cached = Cached {
            value: value.clone(),
            read_at: now,
        };
        cache.borrow_mut().insert(key.to_owned(), cached);
        value
    }

    /// The value of the last write that landed by `landed_by`, unless it has expired at `now`.
    fn visible(&self, key: &str, landed_by: u64, now: u64) -> Option<String> {
        let writes = self.writes.borrow();
        let last = writes.get(key)?.iter().rev().find(|w| w.at <= landed_by)?;
        match last.expires_at_ms {
            Some(expiry) if now >= expiry => None,
            _ => last.value.clone(),
        }
    }

    /// A write from the writer's location at `now` (`None` deletes).
    pub fn write(
        &self,
        key: &str,
        value: Option<String>,
        expires_at_ms: Option<u64>,
        now: u64,
    ) -> Result<(), KvWriteError> {
        let mut writes = self.writes.borrow_mut();
        let history = writes.entry(key.to_owned()).or_default();
        if history
            .last()
            .is_some_and(|last| now < last.at + WRITE_INTERVAL_MS)
        {
            return Err(KvWriteError::RateLimited);
        }
        history.push(Write {
            at: now,
            value: value.clone(),
            expires_at_ms,
        });
        // The writer's location sees its own write at once.
        if let Some(home) = self.caches.first() {
            let cached = Cached {
                value,
                read_at: now,
            };
            home.borrow_mut().insert(key.to_owned(), cached);
        }
        Ok(())
    }

    /// Whether the namespace itself (not any cache) holds `key` at `now`.
    pub fn holds(&self, key: &str, now: u64) -> bool {
        self.visible(key, now, now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_locations_serve_cached_answers_and_see_writes_late() {
        let kv = SimKv::new(vec![0, 5_000]);
        kv.write("k", Some("v1".into()), None, 10_000).unwrap();
        assert_eq!(kv.read(0, "k", 10_010), Some("v1".into()));
        // Not landed at location 1 yet: a miss, and the miss is cached too.
        assert_eq!(kv.read(1, "k", 11_000), None);
        assert_eq!(kv.read(1, "k", 40_000), None);
        assert_eq!(kv.read(1, "k", 71_000), Some("v1".into()));
        // A delete: location 1 keeps serving the value it cached.
        kv.write("k", None, None, 72_000).unwrap();
        assert_eq!(kv.read(0, "k", 72_001), None);
        assert_eq!(kv.read(1, "k", 122_000), Some("v1".into()));
        assert_eq!(kv.read(1, "k", 71_000 + CACHE_TTL_MS), None);
        assert!(!kv.holds("k", 72_000));
    }

    #[test]
    fn one_write_per_second_per_key_and_expirations() {
        let kv = SimKv::new(vec![0]);
        kv.write("k", Some("v".into()), Some(5_000), 0).unwrap();
        assert_eq!(
            kv.write("k", None, None, 999),
            Err(KvWriteError::RateLimited)
        );
        kv.write("other", None, None, 999).unwrap();
        assert!(kv.holds("k", 4_999));
        assert!(!kv.holds("k", 5_000));
        kv.write("k", None, None, 1_000).unwrap();
    }
}
