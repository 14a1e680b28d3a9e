//! The signature that lets the origin API prove a request came through the gateway.
//!
//! Canonical string, fields joined by `\n` (see README, "Verifying requests at the origin"):
//!
//! ```text
//! patgate-v1
//! <X-Auth-Timestamp: unix seconds>
//! <METHOD, uppercase>
//! <path and query, exactly as forwarded>
//! <X-Auth-User-Id>
//! <X-Auth-Token-Id>
//! ```
//!
//! `X-Auth-Signature` is the lowercase hex HMAC-SHA256 of that string under
//! `ORIGIN_SHARED_SECRET`. None of the fields may contain a newline: method and ids cannot,
//! and a forwarded path has its newlines percent-encoded by the URL parser.

use alloc::format;
use alloc::string::String;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::hex;

/// Origins should refuse signatures older (or newer) than this many seconds.
pub const RECOMMENDED_MAX_SKEW_SECONDS: u64 = 300;

/// What the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    pub timestamp: u64,
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub user_id: &'a str,
    pub token_id: &'a str,
}

impl SignedRequest<'_> {
    pub fn canonical_string(&self) -> String {
        format!(
            "patgate-v1\n{}\n{}\n{}\n{}\n{}",
            self.timestamp,
            self.method.to_ascii_uppercase(),
            self.path_and_query,
            self.user_id,
            self.token_id
        )
    }

    fn mac(&self, secret: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(self.canonical_string().as_bytes());
        mac
    }

    /// The `X-Auth-Signature` value.
    pub fn sign(&self, secret: &[u8]) -> String {
        hex::encode(&self.mac(secret).finalize().into_bytes())
    }

    /// Constant-time check of a presented signature; any malformed value is simply false.
    pub fn verify(&self, secret: &[u8], signature_hex: &str) -> bool {
        hex::decode(signature_hex)
            .is_some_and(|signature| self.mac(secret).verify_slice(&signature).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SignedRequest<'static> {
        SignedRequest {
            timestamp: 1_795_435_200,
            method: "post",
            path_and_query: "/v1/things?x=1",
            user_id: "usr_0123456789abcdef01234567",
            token_id: "tok_abcdefghij0123456789",
        }
    }

    #[test]
    fn canonical_string_is_documented_form() {
        assert_eq!(
            request().canonical_string(),
            "patgate-v1\n1795435200\nPOST\n/v1/things?x=1\nusr_0123456789abcdef01234567\ntok_abcdefghij0123456789"
        );
    }

    #[test]
    fn readme_example_signature() {
        assert_eq!(
            request().sign(b"origin-secret"),
            "d0094b7663b171bd2bb865155dec777f9ed4dd4e24c82547deb3a53abe65c0ca"
        );
    }

    #[test]
    fn signature_verifies_only_unchanged() {
        let secret = b"origin-secret";
        let signature = request().sign(secret);
        assert_eq!(signature.len(), 64);
        assert!(request().verify(secret, &signature));
        assert!(!request().verify(b"other", &signature));
        let moved = SignedRequest {
            path_and_query: "/v1/other",
            ..request()
        };
        assert!(!moved.verify(secret, &signature));
        assert!(!request().verify(secret, "zz"));
    }
}
