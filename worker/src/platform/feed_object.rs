//! The `RevocationFeed` Durable Object (a single object, named `global`), the stub ledgers
//! publish through, and the source isolates refresh their copy from: their data center's
//! cache when it holds a copy under a second old, else the object, whose answer is then
//! shared through that cache.

use worker::{durable_object, Cache, DurableObject, Env, Method, Request, Response, State};

use super::durable_storage::DurableStorage;
use super::stub::call_object;
use crate::log;
use crate::revocation::feed::{HashPrefix, Snapshot};
use crate::revocation::log::{FeedLog, Publication};
use crate::revocation::{FeedPublisher, FeedSource, FEED_CACHE_SECONDS};
use crate::runtime::{Clock, SystemClock};
use crate::store::StoreError;

pub const FEED_BINDING: &str = "FEED";
/// One object holds the feed (README, "Revocation and consistency", states its limits).
const FEED_OBJECT_NAME: &str = "global";
const PUBLISH_URL: &str = "https://feed.internal/publish";
const SNAPSHOT_URL: &str = "https://feed.internal/snapshot";
/// The path of the shared copy in each data center's cache, under the Worker's own origin.
/// No client can read it: the Worker answers every path itself.
const CACHE_PATH: &str = "/__patgate/revocation-feed/v1";

#[durable_object]
pub struct RevocationFeed {
    state: State,
    log: FeedLog,
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationFeed").finish_non_exhaustive()
    }
}

impl DurableObject for RevocationFeed {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            log: FeedLog::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let storage = DurableStorage(self.state.storage());
        let now = SystemClock.now_millis();
        let outcome = match (req.method(), req.path().as_str()) {
            (Method::Get, "/snapshot") => self
                .log
                .snapshot(&storage, now)
                .await
                .map(|snapshot| snapshot.encode()),
            (Method::Post, "/publish") => {
                let body = req.text().await?;
                let Some(prefixes) = patgate_core::json::from_text::<Publication>(&body)
                    .ok()
                    .and_then(|publication| publication.prefixes())
                else {
                    return Response::error("unreadable publication", 400);
                };
                self.log
                    .publish(&storage, &prefixes, now)
                    .await
                    .map(|()| String::new())
            }
            _ => return Response::error("not found", 404),
        };
        match outcome {
            Ok(body) => Response::ok(body),
            Err(error) => {
                log::error(&format!("revocation feed: {error}"));
                Response::error("revocation feed unavailable", 503)
            }
        }
    }
}

/// The Worker's and the ledgers' way to the feed's object.
pub struct FeedStub<'e> {
    env: &'e Env,
}

impl<'e> FeedStub<'e> {
    pub fn new(env: &'e Env) -> Self {
        Self { env }
    }

    async fn call(&self, url: &str, body: Option<&str>) -> Result<String, StoreError> {
        call_object(self.env, FEED_BINDING, FEED_OBJECT_NAME, url, body)
            .await
            .map_err(|error| StoreError(format!("revocation feed: {error}")))
    }
}

impl FeedPublisher for FeedStub<'_> {
    async fn publish(&self, prefixes: &[HashPrefix]) -> Result<(), StoreError> {
        let body = serde_json::to_string(&Publication::of(prefixes))
            .map_err(|error| StoreError(format!("publication: {error}")))?;
        self.call(PUBLISH_URL, Some(&body)).await.map(|_| ())
    }
}

/// Where an isolate refreshes its copy of the feed.
pub struct CachedFeedSource {
    env: Env,
    /// The cache key: the Worker's own origin and [`CACHE_PATH`].
    cache_url: String,
}

impl CachedFeedSource {
    /// The source for a request's own origin (`scheme://host[:port]`), which keys its data
    /// center's cache.
    pub fn for_origin(env: &Env, origin: &str) -> Self {
        Self {
            env: env.clone(),
            cache_url: format!("{origin}{CACHE_PATH}"),
        }
    }

    /// The data center's shared copy, if it has a readable one. Any failure is a miss.
    async fn cached(&self) -> Option<Snapshot> {
        let mut response = Cache::default()
            .get(self.cache_url.as_str(), true)
            .await
            .ok()??;
        Snapshot::decode(&response.text().await.ok()?).ok()
    }

    /// Shares a fresh copy with the data center for [`FEED_CACHE_SECONDS`]. Failing to share
    /// only costs other isolates a trip to the object.
    async fn share(&self, json: &str) {
        let shared = async {
            let headers = worker::Headers::new();
            headers.set("Cache-Control", &format!("max-age={FEED_CACHE_SECONDS}"))?;
            headers.set("Content-Type", "application/json")?;
            let response = Response::ok(json)?.with_headers(headers);
            Cache::default()
                .put(self.cache_url.as_str(), response)
                .await
        };
        if let Err(error) = shared.await {
            log::error(&format!("sharing the revocation feed copy failed: {error}"));
        }
    }
}

impl FeedSource for CachedFeedSource {
    async fn fetch(&self) -> Result<Snapshot, StoreError> {
        if let Some(snapshot) = self.cached().await {
            return Ok(snapshot);
        }
        let json = FeedStub::new(&self.env).call(SNAPSHOT_URL, None).await?;
        let snapshot = Snapshot::decode(&json)
            .map_err(|_| StoreError("unreadable revocation feed snapshot".into()))?;
        self.share(&json).await;
        Ok(snapshot)
    }
}

/// A request's way to the feed, made into a [`CachedFeedSource`] only if the request needs a
/// fresh copy (most do not).
pub struct RequestFeedSource<'a> {
    pub env: &'a Env,
    /// The request's own origin.
    pub origin: &'a str,
}

impl FeedSource for RequestFeedSource<'_> {
    async fn fetch(&self) -> Result<Snapshot, StoreError> {
        CachedFeedSource::for_origin(self.env, self.origin)
            .fetch()
            .await
    }
}
