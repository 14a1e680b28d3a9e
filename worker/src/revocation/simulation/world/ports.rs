//! The ports the Worker's code runs over in the simulation: KV per location, the feed's object
//! and each data center's cache of it, the ledgers' backoff on the virtual clock, and the
//! network to the ledgers (which can lose lookups).

use super::*;
use crate::store::{exposure_marker_json, exposure_marker_key, EXPOSURE_MARKER_SECONDS};

/// KV as location `place` sees it; the ledgers write from location 0.
pub(super) struct KvAt<'w> {
    pub(super) world: &'w World,
    pub(super) place: usize,
}

impl TokenStore for KvAt<'_> {
    async fn get(&self, key: &StorageKey) -> Result<Option<String>, StoreError> {
        Ok(self
            .world
            .kv
            .read(self.place, key.as_str(), self.world.now()))
    }

    async fn put(
        &self,
        key: &StorageKey,
        record_json: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), KvWriteError> {
        let now = self.world.now();
        let expiry =
            expires_at.map(|at| virtual_millis_of(kv_expiration(at, self.world.timestamp())));
        self.world.kv_write_allowed()?;
        self.world
            .kv
            .write(key.as_str(), Some(record_json.to_owned()), expiry, now)
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), KvWriteError> {
        self.world.kv_write_allowed()?;
        self.world
            .kv
            .write(key.as_str(), None, None, self.world.now())
    }

    async fn mark_exposed(&self, key: &StorageKey, owner: &UserId) -> Result<(), KvWriteError> {
        let expiry = self
            .world
            .timestamp()
            .unix_seconds()
            .saturating_add(EXPOSURE_MARKER_SECONDS);
        self.world.kv_write_allowed()?;
        self.world.kv.write(
            &exposure_marker_key(key),
            Some(exposure_marker_json(owner)),
            Some(virtual_millis_of(expiry)),
            self.world.now(),
        )
    }
}

fn virtual_millis_of(unix_seconds: u64) -> u64 {
    (unix_seconds * 1000).saturating_sub(EPOCH_MS)
}

/// The feed's object, as the ledgers publish to it.
pub(super) struct FeedObject<'w>(pub(super) &'w World);

impl FeedPublisher for FeedObject<'_> {
    async fn publish(&self, prefixes: &[HashPrefix]) -> Result<(), StoreError> {
        let world = self.0;
        world.feed_reachable()?;
        world
            .feed_log
            .publish(&world.feed_storage, prefixes, world.true_millis())
            .await
    }
}

/// Where an isolate at `place` refreshes its copy: the data center's cache, else the object.
pub(super) struct SourceAt<'w> {
    pub(super) world: &'w World,
    pub(super) place: usize,
}

impl FeedSource for SourceAt<'_> {
    async fn fetch(&self) -> Result<Snapshot, StoreError> {
        let world = self.world;
        let place = world.place(self.place);
        let cache_lifetime = u64::from(FEED_CACHE_SECONDS) * 1000;
        if let Some((snapshot, put_at)) = &*place.cache.borrow() {
            if world.now() < put_at + cache_lifetime {
                return Ok(snapshot.clone());
            }
        }
        world.feed_reachable()?;
        world.report.borrow_mut().feed_fetches += 1;
        let snapshot = world
            .feed_log
            .snapshot(&world.feed_storage, world.true_millis())
            .await?;
        if !world.s.places[self.place].cache_broken {
            *place.cache.borrow_mut() = Some((snapshot.clone(), world.now()));
        }
        Ok(snapshot)
    }
}

pub(super) struct SleepIn<'w>(pub(super) &'w World);

impl Sleep for SleepIn<'_> {
    async fn sleep(&self, millis: u64) {
        let world = self.0;
        world.run_background_until(world.now() + millis).await;
    }
}

/// The ledgers, through the JSON protocol: commands, and lookups as the authority.
#[derive(Clone, Copy)]
pub(super) struct Network<'w>(pub(super) &'w World);

impl LedgerTransport for Network<'_> {
    async fn send(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        let world = self.0;
        let storage = world.ledger_storage(user_id);
        let ports = world.ports();
        let reply = ports
            .ledger(&storage, user_id)
            .handle(&request, world.timestamp())
            .await;
        Ok(reply)
    }

    async fn lookup(&self, user_id: &UserId, request: String) -> Result<String, TransportError> {
        let world = self.0;
        world.report.borrow_mut().authority_lookups += 1;
        if world
            .s
            .authority_down
            .is_some_and(|w| w.contains(world.now()))
        {
            return Err(TransportError("simulated: authority unreachable".into()));
        }
        Ok(world.lookup_directly(user_id, &request).await)
    }
}

/// The ports of a ledger in the simulation.
pub(super) struct SimPorts<'w> {
    pub(super) kv: KvAt<'w>,
    pub(super) feed: FeedObject<'w>,
    pub(super) sleep: SleepIn<'w>,
    pub(super) entropy: &'w CountingEntropy,
}

impl<'w> LedgerPorts for SimPorts<'w> {
    type Storage = MemoryLedgerStorage;
    type Kv = KvAt<'w>;
    type Entropy = CountingEntropy;
    type Feed = FeedObject<'w>;
    type Sleep = SleepIn<'w>;
}

impl SimPorts<'_> {
    pub(super) fn ledger<'a>(
        &'a self,
        storage: &'a MemoryLedgerStorage,
        user_id: &'a UserId,
    ) -> Ledger<'a, Self> {
        Ledger {
            storage,
            tokens: &self.kv,
            entropy: self.entropy,
            feed: &self.feed,
            sleep: &self.sleep,
            user_id,
        }
    }
}

/// The negative control's decision: whatever KV says.
pub(super) struct KvAlone;

impl Revocation for KvAlone {
    async fn confirm(
        &self,
        from_kv: StoredRecord,
        _now: UnixMillis,
    ) -> Result<Option<StoredRecord>, ApiError> {
        Ok(Some(from_kv))
    }
}
