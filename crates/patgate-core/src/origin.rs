//! The signature that lets the origin API prove a request came through the gateway.
//!
//! Canonical string, fields joined by `\n` (see README, "Verifying requests at the origin"):
//!
//! ```text
//! patgate-v2
//! <X-Auth-Timestamp: unix seconds>
//! <X-Auth-Request-Id: 32 lowercase hex digits, unique per forwarded request>
//! <method, exactly as received>
//! <X-Forwarded-Host: the host (and port) the client addressed>
//! <path and query, exactly as forwarded>
//! <X-Auth-User-Id>
//! <X-Auth-Token-Id>
//! ```
//!
//! `X-Auth-Signature` is the lowercase hex HMAC-SHA256 of that string under
//! `ORIGIN_SHARED_SECRET`. None of the fields may contain a newline: the method, the ids and
//! the host cannot, and a forwarded path has its newlines percent-encoded by the URL parser.
//!
//! v1 (no request id, no host, the method uppercased) is gone: with neither, a signature seen in
//! a log could be replayed for its whole window, with any body, to any host sharing the secret.

use alloc::format;
use alloc::string::String;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::hex;

/// The first line of the canonical string: the version of the signature scheme.
pub const SIGNATURE_VERSION: &str = "patgate-v2";
/// Origins should refuse signatures older (or newer) than this many seconds, and remember each
/// request id they accept at least this long after its timestamp.
pub const RECOMMENDED_MAX_SKEW_SECONDS: u64 = 300;
/// Random bytes a caller should supply to [`RequestId::from_random`]: 128 bits.
pub const RANDOM_BYTES_FOR_REQUEST_ID: usize = 16;
const SIGNATURE_HEX_LEN: usize = 64;

/// A forwarded request's unique id (`X-Auth-Request-Id`): 32 lowercase hex digits of fresh
/// randomness, so an origin that remembers the ids it has accepted refuses a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn from_random(random: &[u8; RANDOM_BYTES_FOR_REQUEST_ID]) -> Self {
        Self(hex::encode(random))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    pub timestamp: u64,
    pub request_id: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    pub path_and_query: &'a str,
    pub user_id: &'a str,
    pub token_id: &'a str,
}

impl SignedRequest<'_> {
    pub fn canonical_string(&self) -> String {
        format!(
            "{SIGNATURE_VERSION}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.timestamp,
            self.request_id,
            self.method,
            self.host,
            self.path_and_query,
            self.user_id,
            self.token_id
        )
    }

    fn mac(&self, secret: &[u8]) -> Hmac<Sha256> {
        let mut mac = crate::hmac_sha256(secret);
        mac.update(self.canonical_string().as_bytes());
        mac
    }

    /// The `X-Auth-Signature` value.
    pub fn sign(&self, secret: &[u8]) -> String {
        hex::encode(&self.mac(secret).finalize().into_bytes())
    }

    /// Constant-time check of a presented signature. Only the exact form the gateway sends,
    /// 64 lowercase hex digits, can match: any other value is simply false.
    pub fn verify(&self, secret: &[u8], signature_hex: &str) -> bool {
        hex::is_lower_hex(signature_hex, SIGNATURE_HEX_LEN)
            && hex::decode(signature_hex)
                .is_some_and(|signature| self.mac(secret).verify_slice(&signature).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's worked example.
    fn request() -> SignedRequest<'static> {
        SignedRequest {
            timestamp: 1_795_435_200,
            request_id: "5f0c6a8e2b9d4c7183e1a6f4b2d09c35",
            method: "POST",
            host: "api.bahriya.cloud",
            path_and_query: "/v1/things?x=1",
            user_id: "usr_0123456789abcdef01234567",
            token_id: "tok_abcdefghij0123456789",
        }
    }

    #[test]
    fn canonical_string_is_documented_form() {
        assert_eq!(
            request().canonical_string(),
            "patgate-v2\n1795435200\n5f0c6a8e2b9d4c7183e1a6f4b2d09c35\nPOST\napi.bahriya.cloud\n\
             /v1/things?x=1\nusr_0123456789abcdef01234567\ntok_abcdefghij0123456789"
        );
    }

    #[test]
    fn readme_example_signature() {
        assert_eq!(
            request().sign(b"origin-secret"),
            "272fe8169831e00bf4b9bf6334065d97e299fd3e65256fee1cf9418114a42cac"
        );
    }

    #[test]
    fn signature_covers_every_field() {
        let secret = b"origin-secret";
        let signature = request().sign(secret);
        assert!(request().verify(secret, &signature));
        assert!(!request().verify(b"other", &signature));
        let changed = [
            SignedRequest {
                timestamp: 1_795_435_201,
                ..request()
            },
            SignedRequest {
                request_id: "5f0c6a8e2b9d4c7183e1a6f4b2d09c36",
                ..request()
            },
            SignedRequest {
                method: "post",
                ..request()
            },
            SignedRequest {
                method: "PUT",
                ..request()
            },
            SignedRequest {
                host: "api.other.example",
                ..request()
            },
            SignedRequest {
                path_and_query: "/v1/other",
                ..request()
            },
            SignedRequest {
                user_id: "usr_0123456789abcdef01234568",
                ..request()
            },
            SignedRequest {
                token_id: "tok_abcdefghij0123456788",
                ..request()
            },
        ];
        for other in changed {
            assert!(!other.verify(secret, &signature), "{other:?}");
        }
    }

    #[test]
    fn only_the_exact_lowercase_hex_form_verifies() {
        let secret = b"origin-secret";
        let signature = request().sign(secret);
        assert_eq!(signature.len(), 64);
        for presented in [
            signature.to_ascii_uppercase(),
            format!("{signature}zz"),
            format!("{signature}00"),
            String::from(&signature[..62]),
            "zz".into(),
            String::new(),
        ] {
            assert!(!request().verify(secret, &presented), "{presented}");
        }
    }

    #[test]
    fn request_ids_are_32_lowercase_hex_digits() {
        let id = RequestId::from_random(&[0xAB; RANDOM_BYTES_FOR_REQUEST_ID]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert!(hex::is_lower_hex(id.as_str(), 32));
    }
}
