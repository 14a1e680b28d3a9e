//! The revocation feed as the Worker sees it: which token hashes changed recently
//! ([`Snapshot`], its wire form), and each isolate's in-memory copy of it ([`FeedCopy`]).
//!
//! The feed names a hash by its first 64 bits ([`HashPrefix`]): a token on the feed is only
//! sent to the authority, so a chance match costs one lookup and nothing else, and the feed
//! stays small (16 hex digits per change).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;

use patgate_core::token::StorageKey;
use serde::{Deserialize, Serialize};

use super::{FEED_MAX_AGE_MS, FEED_REFRESH_AFTER_MS};
use crate::runtime::UnixMillis;

/// The first 64 bits of a token's SHA-256, as the feed lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashPrefix(u64);

const PREFIX_HEX_DIGITS: usize = 16;

impl HashPrefix {
    pub fn of(key: &StorageKey) -> Self {
        #[allow(clippy::expect_used)]
        // Invariant: a `StorageKey` is exactly 64 lowercase hex digits (`StorageKey::parse`).
        key.as_str()
            .get(..PREFIX_HEX_DIGITS)
            .and_then(Self::parse)
            .expect("a storage key starts with 16 lowercase hex digits")
    }

    /// Exactly 16 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let digits_ok = text.len() == PREFIX_HEX_DIGITS
            && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        digits_ok
            .then(|| u64::from_str_radix(text, 16).ok().map(Self))
            .flatten()
    }
}

impl fmt::Display for HashPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The feed at one instant: every hash changed in the window before `as_of`, as the feed's
/// authority knew it then. A copy holds every change published before `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub as_of: UnixMillis,
    pub prefixes: HashSet<HashPrefix>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotWire {
    as_of_ms: u64,
    prefixes: Vec<String>,
}

/// A feed copy that could not be read: it is not used, as if it had not arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableSnapshot;

impl Snapshot {
    pub fn encode(&self) -> String {
        let mut prefixes: Vec<String> = self.prefixes.iter().map(ToString::to_string).collect();
        prefixes.sort_unstable();
        let wire = SnapshotWire {
            as_of_ms: self.as_of.0,
            prefixes,
        };
        #[allow(clippy::expect_used)]
        // Invariant: an integer and a list of strings always serialize.
        serde_json::to_string(&wire).expect("a snapshot serializes")
    }

    pub fn decode(json: &str) -> Result<Self, UnreadableSnapshot> {
        let wire: SnapshotWire =
            patgate_core::json::from_text(json).map_err(|_| UnreadableSnapshot)?;
        let prefixes = wire
            .prefixes
            .iter()
            .map(|text| HashPrefix::parse(text).ok_or(UnreadableSnapshot))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            as_of: UnixMillis(wire.as_of_ms),
            prefixes,
        })
    }
}

/// What this isolate's copy says about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Not changed recently: KV's record can be trusted.
    Unlisted,
    /// Changed recently: only the authority may say it is valid.
    Listed,
    /// No copy, or one older than [`FEED_MAX_AGE_MS`]: the feed cannot vouch for KV.
    NoFreshCopy,
}

/// One isolate's copy of the feed, and the state of its refreshing.
#[derive(Debug, Default)]
pub struct FeedCopy {
    snapshot: RefCell<Option<Snapshot>>,
    refresh_started: Cell<Option<UnixMillis>>,
    last_failure: Cell<Option<UnixMillis>>,
}

/// A refresh that has not finished after this long is presumed lost (its isolate's
/// `wait_until` was cut short), so another may start.
const REFRESH_PRESUMED_LOST_MS: u64 = 5_000;
/// After a failed refresh, the next waits this long: a feed outage costs the feed one attempt
/// per second per isolate, not one per request.
const REFRESH_BACKOFF_MS: u64 = 1_000;

impl FeedCopy {
    pub fn listing(&self, key: &StorageKey, now: UnixMillis) -> Listing {
        match &*self.snapshot.borrow() {
            Some(copy) if now.since(copy.as_of) <= FEED_MAX_AGE_MS => {
                if copy.prefixes.contains(&HashPrefix::of(key)) {
                    Listing::Listed
                } else {
                    Listing::Unlisted
                }
            }
            _ => Listing::NoFreshCopy,
        }
    }

    /// Whether this request should refresh the copy: it is over a second old (or missing),
    /// no other refresh is under way, and the last one did not just fail. If so, notes that
    /// one has started, so that concurrent requests do not each start their own.
    pub fn claim_refresh(&self, now: UnixMillis) -> bool {
        let due = self
            .snapshot
            .borrow()
            .as_ref()
            .is_none_or(|copy| now.since(copy.as_of) > FEED_REFRESH_AFTER_MS);
        let running = self
            .refresh_started
            .get()
            .is_some_and(|started| now.since(started) < REFRESH_PRESUMED_LOST_MS);
        let backing_off = self
            .last_failure
            .get()
            .is_some_and(|failed| now.since(failed) < REFRESH_BACKOFF_MS);
        let claim = due && !running && !backing_off;
        if claim {
            self.refresh_started.set(Some(now));
        }
        claim
    }

    /// Ends a refresh claimed at `started`: installs its snapshot, or notes its failure.
    pub fn refresh_done(&self, started: UnixMillis, fetched: Option<Snapshot>) {
        self.refresh_started.set(None);
        match fetched {
            Some(snapshot) => {
                self.last_failure.set(None);
                let mut current = self.snapshot.borrow_mut();
                // A copy that arrives late never replaces a newer one.
                if current.as_ref().is_none_or(|c| c.as_of < snapshot.as_of) {
                    *current = Some(snapshot);
                }
            }
            None => self.last_failure.set(Some(started)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(first: char) -> StorageKey {
        StorageKey::parse(&first.to_string().repeat(64)).unwrap()
    }

    fn snapshot(as_of: u64, keys: &[&StorageKey]) -> Snapshot {
        Snapshot {
            as_of: UnixMillis(as_of),
            prefixes: keys.iter().map(|k| HashPrefix::of(k)).collect(),
        }
    }

    #[test]
    fn prefixes_are_the_first_16_hex_digits() {
        let key = StorageKey::parse(&format!("0123456789abcdef{}", "f".repeat(48))).unwrap();
        assert_eq!(HashPrefix::of(&key).to_string(), "0123456789abcdef");
        for bad in [
            "",
            "0123456789abcde",
            "0123456789ABCDEF",
            "0123456789abcdefa",
            "+123456789abcdef",
        ] {
            assert_eq!(HashPrefix::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_copy_is_trusted_only_while_fresh() {
        let copy = FeedCopy::default();
        let (changed, other) = (key('a'), key('b'));
        assert_eq!(copy.listing(&other, UnixMillis(0)), Listing::NoFreshCopy);
        copy.refresh_done(UnixMillis(0), Some(snapshot(10_000, &[&changed])));
        assert_eq!(copy.listing(&changed, UnixMillis(10_500)), Listing::Listed);
        assert_eq!(copy.listing(&other, UnixMillis(10_500)), Listing::Unlisted);
        let last_trusted = 10_000 + FEED_MAX_AGE_MS;
        assert_eq!(
            copy.listing(&other, UnixMillis(last_trusted)),
            Listing::Unlisted
        );
        assert_eq!(
            copy.listing(&other, UnixMillis(last_trusted + 1)),
            Listing::NoFreshCopy
        );
        // An older copy arriving late never replaces a newer one.
        copy.refresh_done(UnixMillis(0), Some(snapshot(9_000, &[])));
        assert_eq!(copy.listing(&changed, UnixMillis(10_500)), Listing::Listed);
    }

    #[test]
    fn one_refresh_at_a_time_once_the_copy_is_a_second_old() {
        let copy = FeedCopy::default();
        assert!(copy.claim_refresh(UnixMillis(0)), "no copy yet");
        assert!(!copy.claim_refresh(UnixMillis(1)), "already under way");
        copy.refresh_done(UnixMillis(0), Some(snapshot(100, &[])));
        assert!(!copy.claim_refresh(UnixMillis(100 + FEED_REFRESH_AFTER_MS)));
        let due = 101 + FEED_REFRESH_AFTER_MS;
        assert!(copy.claim_refresh(UnixMillis(due)));
        // A refresh that never reported back does not block refreshing for ever.
        assert!(!copy.claim_refresh(UnixMillis(due + 1)));
        assert!(copy.claim_refresh(UnixMillis(due + REFRESH_PRESUMED_LOST_MS)));
    }

    #[test]
    fn a_failed_refresh_is_retried_after_a_second_not_on_every_request() {
        let copy = FeedCopy::default();
        assert!(copy.claim_refresh(UnixMillis(0)));
        copy.refresh_done(UnixMillis(0), None);
        assert!(!copy.claim_refresh(UnixMillis(REFRESH_BACKOFF_MS - 1)));
        assert!(copy.claim_refresh(UnixMillis(REFRESH_BACKOFF_MS)));
    }

    #[test]
    fn snapshots_round_trip_and_reject_anything_else() {
        let original = snapshot(1_234, &[&key('c'), &key('d')]);
        assert_eq!(
            original.encode(),
            format!(
                "{{\"as_of_ms\":1234,\"prefixes\":[\"{}\",\"{}\"]}}",
                "c".repeat(16),
                "d".repeat(16)
            )
        );
        assert_eq!(Snapshot::decode(&original.encode()), Ok(original));
        for bad in [
            "",
            "{}",
            "{\"as_of_ms\":1,\"prefixes\":[\"xyz\"]}",
            "{\"as_of_ms\":-1,\"prefixes\":[]}",
            "{\"as_of_ms\":1,\"prefixes\":[],\"extra\":1}",
        ] {
            assert_eq!(Snapshot::decode(bad), Err(UnreadableSnapshot), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = Snapshot::decode(&text);
        }
    }
}
