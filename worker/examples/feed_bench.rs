//! What fast mode adds to validation, natively: `cargo run --release -p patgate-worker
//! --example feed_bench`. The check runs on every request; the refresh about once a second per
//! isolate, off the response path. (The Worker's figures come from tests/bench/bench.mjs.)

use patgate_worker::bench::{feed_check_nanos, feed_refresh_micros};

fn main() {
    println!("fast mode's feed, per isolate (changes = hashes changed in the last 15 minutes):");
    for changes in [0, 200, 10_000] {
        let check = feed_check_nanos(changes, 2_000_000);
        let refresh = feed_refresh_micros(changes, 200);
        println!(
            "  {changes:>6} changes: check of a token not on the feed {check:>6.1} ns per request; \
             refresh {refresh:>8.1} µs per second"
        );
    }
}
