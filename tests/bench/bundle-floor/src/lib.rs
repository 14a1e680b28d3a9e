//! The size floor of patgate's mandated stack: a Worker that uses, once each and for real, every
//! platform capability and dependency that patgate's capabilities need (workers-rs's fetch event,
//! KV, two Durable Objects with storage and alarms, outgoing fetch with a streamed answer, serde
//! JSON, SHA-256, HMAC, constant-time comparison, base64, randomness, form encoding, CRC-32,
//! WebCrypto signature checks), with no logic of its own. Built as the release Worker is built
//! (`measure.sh`), its wasm is the part of patgate's size budget that the stack alone takes.
//! See README.md here and the root README's Performance section.
//!
//! With the `hello` feature it is the fetch event alone (`hello.rs`): workers-rs's own base. With
//! the `core` feature it is the floor plus patgate's pure core, each part of the core's API that
//! the Worker uses called once (`core_calls.rs`): the stack and the domain logic together.

#[cfg(all(feature = "core", not(feature = "hello")))]
mod core_calls;
#[cfg(not(feature = "hello"))]
mod floor;
#[cfg(feature = "hello")]
mod hello;
