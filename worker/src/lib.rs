//! The patgate Worker: edge validation of Personal Access Tokens, the gateway to the origin
//! API, the console API and the per-user token ledger. See ARCHITECTURE.md for the codemap.
//!
//! Everything but [`platform`] is plain Rust over small ports (storage, clock, randomness, the
//! ledger transport), so it runs natively in tests; `platform` is the one layer that touches
//! workers-rs and the JavaScript runtime.

mod admin;
mod auth;
mod config;
mod console;
mod error;
mod gateway;
mod http;
mod leaks;
mod ledger;
mod limits;
mod log;
mod platform;
mod revocation;
mod router;
mod runtime;
mod signin;
mod store;

#[cfg(test)]
mod testing;

// The fetch entry is `platform::entry::serve`, a wasm export that `worker/entry.mjs` calls.
pub use platform::{RevocationFeed, UserLedger};

/// Native timings for `make bench` (`examples/feed_bench.rs`); not part of the Worker.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub use revocation::bench;
