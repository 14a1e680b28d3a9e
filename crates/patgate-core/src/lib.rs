//! The pure core of patgate: everything about Personal Access Tokens that can be decided
//! without touching the world.
//!
//! **Architecture invariant:** this crate performs no I/O, reads no clock and draws no
//! randomness. The current time and random bytes are arguments, so every behaviour here is
//! deterministic and testable natively, and the crate builds for `wasm32v1-none`, a target
//! without `std`.
//!
//! The path of a request through the core:
//!
//! 1. [`bearer::bearer_credential`] reads the `Authorization` header (RFC 6750).
//! 2. [`token::UntrustedToken::parse`] checks format and checksum: a malformed token never
//!    reaches storage.
//! 3. [`token::UntrustedToken::storage_key`] gives the SHA-256 under which the Worker looks up
//!    a [`record::TokenRecord`].
//! 4. [`verify::verify`], the only constructor of [`verify::Principal`], checks expiry.
//!
//! Signing in with the identity provider (OpenID Connect) goes through [`signin`] (the
//! transaction: state, nonce, PKCE, the signed cookie) and [`jose`] (the ID token, verified
//! through a signature port: the core holds no cryptography of its own beyond SHA-256 and HMAC).
//!
//! Leaked tokens ([`leak`]): a secret scanner's signed report and self-service revocation are
//! parsed here, and a scanner's DER signature becomes the raw form WebCrypto verifies.
//!
//! Non-goals: talking to KV or Durable Objects, HTTP, time zones, key management.
#![no_std]

extern crate alloc;

pub mod admin;
pub mod base64url;
pub mod bearer;
pub mod cookie;
pub mod expiry;
pub mod hex;
pub mod identity;
mod invisible;
pub mod jose;
pub mod json;
pub mod leak;
pub mod origin;
pub mod record;
pub mod request;
pub mod session;
pub mod signin;
pub mod time;
pub mod token;
pub mod verify;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 keyed with `key`.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod golden;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
