//! The secret scanner's signing keys (`LEAK_KEYS_URL`), fetched through the same HTTP port as
//! the sign-in's provider documents (no redirects followed, a timeout, a bounded body) and kept
//! per isolate.
//!
//! GitHub's key endpoint is rate-limited per address (and Workers share addresses), so the
//! list is kept for an hour, and a report signed with a key the list does not hold makes the
//! isolate fetch it again at most once a minute: the scanner can rotate its keys, and forged
//! reports cannot make us hammer its API. A failed fetch counts as an attempt too.

use std::cell::RefCell;
use std::rc::Rc;

use patgate_core::jose::jwk::PublicKey;
use patgate_core::leak::keys::ScannerKeys;
use patgate_core::time::Timestamp;

use crate::signin::provider::{Provider, ProviderRequest};

/// The key list is fetched again after this long.
pub const KEYS_CACHE_SECONDS: u64 = 3_600;
/// At most one fetch per this many seconds, whatever the reports say.
pub const KEYS_REFETCH_INTERVAL_SECONDS: u64 = 60;
/// GitHub's API refuses requests without one.
const USER_AGENT: &str = "patgate-secret-scanning";

/// The keys could not be fetched, or the answer was not a key list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysUnavailable(pub String);

#[derive(Debug)]
struct Fetched {
    url: String,
    at: Timestamp,
    keys: Rc<ScannerKeys>,
}

#[derive(Debug, Default)]
struct KeyState {
    fetched: Option<Fetched>,
    /// When a fetch was last attempted, successful or not.
    last_attempt: Option<Timestamp>,
}

/// The scanner's keys behind a per-isolate cache. No borrow is held across an await:
/// concurrent reports at worst fetch twice.
#[derive(Debug)]
pub struct ScannerKeyCache<H> {
    http: H,
    state: RefCell<KeyState>,
}

impl<H: Provider> ScannerKeyCache<H> {
    pub fn new(http: H) -> Self {
        Self {
            http,
            state: RefCell::default(),
        }
    }

    /// The key named `identifier` in the list at `url`, or `None` if the list (fetched again
    /// if it may have changed) does not hold it.
    pub async fn key(
        &self,
        url: &str,
        identifier: &str,
        now: Timestamp,
    ) -> Result<Option<PublicKey>, KeysUnavailable> {
        let (cached, may_fetch) = {
            let state = self.state.borrow();
            let cached = state
                .fetched
                .as_ref()
                .filter(|f| f.url == url && now.seconds_since(f.at) < KEYS_CACHE_SECONDS)
                .map(|f| Rc::clone(&f.keys));
            let may_fetch = state
                .last_attempt
                .is_none_or(|at| now.seconds_since(at) >= KEYS_REFETCH_INTERVAL_SECONDS);
            (cached, may_fetch)
        };
        match cached {
            Some(keys) if keys.get(identifier).is_some() || !may_fetch => {
                Ok(keys.get(identifier).cloned())
            }
            None if !may_fetch => Err(KeysUnavailable(
                "no key list, and the last fetch was under a minute ago".into(),
            )),
            _ => Ok(self.fetch(url, now).await?.get(identifier).cloned()),
        }
    }

    async fn fetch(&self, url: &str, now: Timestamp) -> Result<Rc<ScannerKeys>, KeysUnavailable> {
        self.state.borrow_mut().last_attempt = Some(now);
        let request = ProviderRequest {
            method: "GET",
            url: url.to_owned(),
            headers: vec![
                ("Accept", "application/json".to_owned()),
                ("User-Agent", USER_AGENT.to_owned()),
            ],
            body: None,
        };
        let response = self
            .http
            .send(request)
            .await
            .map_err(|unreachable| KeysUnavailable(unreachable.0))?;
        if response.status != 200 {
            return Err(KeysUnavailable(format!(
                "{url} answered HTTP {}",
                response.status
            )));
        }
        let keys = ScannerKeys::parse(&response.body)
            .map_err(|error| KeysUnavailable(format!("{url}: {error}")))?;
        let keys = Rc::new(keys);
        self.state.borrow_mut().fetched = Some(Fetched {
            url: url.to_owned(),
            at: now,
            keys: Rc::clone(&keys),
        });
        Ok(keys)
    }
}
