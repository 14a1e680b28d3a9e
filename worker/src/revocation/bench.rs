//! What `make bench` times natively (`worker/examples/feed_bench.rs`): the in-memory check that
//! fast mode adds to the hot path, and the refresh each isolate pays about once a second, off
//! the response path. Native only: the Worker's own figures come from tests/bench/bench.mjs.

use std::hint::black_box;
use std::time::Instant;

use patgate_core::token::{generate, StorageKey};

use super::feed::{FeedCopy, HashPrefix, Listing, Snapshot};
use crate::runtime::UnixMillis;

/// The storage keys of `count` distinct tokens.
fn keys(count: usize) -> Vec<StorageKey> {
    (0..count)
        .filter_map(|i| {
            let mut random = [0u8; 96];
            for (slot, byte) in random.iter_mut().zip(i.to_le_bytes().iter().cycle()) {
                *slot = *byte % 62;
            }
            random[95] = 61;
            generate(&random).ok().map(|token| token.storage_key())
        })
        .collect()
}

fn snapshot(changes: usize) -> Snapshot {
    Snapshot {
        as_of: UnixMillis(0),
        prefixes: keys(changes).iter().map(HashPrefix::of).collect(),
    }
}

/// Nanoseconds per check of a token that is not on a fresh copy of `changes` changes.
pub fn feed_check_nanos(changes: usize, rounds: u32) -> f64 {
    let copy = FeedCopy::default();
    copy.refresh_done(UnixMillis(0), Some(snapshot(changes)));
    let Some(absent) = keys(changes + 1).pop() else {
        return f64::NAN;
    };
    let now = UnixMillis(500);
    let start = Instant::now();
    for _ in 0..rounds {
        let listing = copy.listing(black_box(&absent), black_box(now));
        debug_assert_eq!(listing, Listing::Unlisted);
        black_box(listing);
    }
    start.elapsed().as_nanos() as f64 / f64::from(rounds)
}

/// Microseconds to read a snapshot of `changes` changes and install it in an isolate's copy.
pub fn feed_refresh_micros(changes: usize, rounds: u32) -> f64 {
    let json = snapshot(changes).encode();
    let copy = FeedCopy::default();
    let start = Instant::now();
    for round in 0..rounds {
        let fetched = Snapshot::decode(black_box(&json)).ok().map(|mut s| {
            s.as_of = UnixMillis(u64::from(round) + 1);
            s
        });
        copy.refresh_done(UnixMillis(0), fetched);
    }
    start.elapsed().as_micros() as f64 / f64::from(rounds)
}
