//! The secret scanner's public keys: GitHub's `GET /meta/public_keys/secret_scanning`,
//! `{"public_keys": [{"key_identifier", "key", "is_current"}]}`, each `key` a PEM
//! SubjectPublicKeyInfo.
//!
//! Only uncompressed P-256 keys are usable (the reports are signed with ECDSA P-256/SHA-256);
//! any other entry is left out rather than failing the document, so a new kind of key at the
//! scanner does not stop reports signed with the old one. `is_current` is not consulted: a
//! report signed with a key the scanner still publishes is a report the scanner made.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::jose::jwk::{PublicKey, P256_COORDINATE_BYTES};

/// More keys than this in one document are ignored (GitHub publishes a handful).
pub const MAX_KEYS: usize = 32;
/// Longest accepted key identifier (GitHub's are 64 hex digits).
pub const MAX_KEY_IDENTIFIER_LEN: usize = 256;

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";
/// The DER of a SubjectPublicKeyInfo for an uncompressed P-256 point, up to the point's
/// coordinates: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 0x04 … } }
/// (RFC 5480 §2).
const P256_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];

/// The document is not a key list at all (as opposed to holding no usable key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedKeyList;

impl fmt::Display for MalformedKeyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the scanner's key list is not a JSON object with a \"public_keys\" array")
    }
}

/// The usable keys of a scanner's key list, by identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScannerKeys {
    keys: Vec<(String, PublicKey)>,
}

impl ScannerKeys {
    pub fn parse(json: &[u8]) -> Result<Self, MalformedKeyList> {
        let document: Value = serde_json::from_slice(json).map_err(|_| MalformedKeyList)?;
        let listed = document
            .get("public_keys")
            .and_then(Value::as_array)
            .ok_or(MalformedKeyList)?;
        Ok(Self {
            keys: listed
                .iter()
                .take(MAX_KEYS)
                .filter_map(usable_key)
                .collect(),
        })
    }

    /// The key with this identifier, if the list has a usable one.
    pub fn get(&self, identifier: &str) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|(id, _)| id == identifier)
            .map(|(_, key)| key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable_key(entry: &Value) -> Option<(String, PublicKey)> {
    let identifier = entry.get("key_identifier")?.as_str()?;
    if identifier.is_empty() || identifier.len() > MAX_KEY_IDENTIFIER_LEN {
        return None;
    }
    let spki = pem_public_key(entry.get("key")?.as_str()?)?;
    let point = spki.strip_prefix(&P256_SPKI_PREFIX[..])?;
    let (x, y) = point.split_at_checked(P256_COORDINATE_BYTES)?;
    let x: &[u8; P256_COORDINATE_BYTES] = x.try_into().ok()?;
    let y: &[u8; P256_COORDINATE_BYTES] = y.try_into().ok()?;
    let identifier = String::from(identifier);
    Some((identifier.clone(), PublicKey::p256(Some(identifier), x, y)))
}

/// The DER inside a `PUBLIC KEY` PEM block (RFC 7468 §13), line breaks and all.
fn pem_public_key(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix(PEM_BEGIN)?.strip_suffix(PEM_END)?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(base64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    use proptest::prelude::*;

    fn pem_of(secret: u8) -> (String, SigningKey) {
        let key = SigningKey::from_slice(&[secret; 32]).unwrap();
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (pem, key)
    }

    /// The public JWK that p256 itself derives for this key.
    fn expected_jwk(key: &SigningKey) -> String {
        let point = key.verifying_key().to_encoded_point(false);
        format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            crate::base64url::encode(point.x().unwrap()),
            crate::base64url::encode(point.y().unwrap())
        )
    }

    #[test]
    fn reads_p256_keys_by_identifier_as_p256_derives_them() {
        let (first, first_key) = pem_of(7);
        let (second, second_key) = pem_of(9);
        let document = serde_json::json!({"public_keys": [
            {"key_identifier": "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
             "key": first, "is_current": false},
            {"key_identifier": "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
             "key": second.replace('\n', "\r\n"), "is_current": true},
        ]});
        let keys = ScannerKeys::parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 2);
        let key = keys
            .get("90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")
            .unwrap();
        assert_eq!(key.to_jwk_json(), expected_jwk(&first_key));
        let key = keys
            .get("bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c")
            .unwrap();
        assert_eq!(key.to_jwk_json(), expected_jwk(&second_key));
        assert!(keys.get("unknown").is_none());
    }

    #[test]
    fn unusable_entries_are_left_out_and_other_documents_refused() {
        let (good, _) = pem_of(7);
        // An RSA key's SPKI, and a P-256 key with its point compressed.
        let rsa = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END PUBLIC KEY-----";
        let compressed = "-----BEGIN PUBLIC KEY-----\nMDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADtA9gENh1+rRsdvHa6KDyHxmAMm2XSwc1GWsRa0/K/Bo=\n-----END PUBLIC KEY-----";
        let document = serde_json::json!({"public_keys": [
            {"key_identifier": "rsa", "key": rsa},
            {"key_identifier": "compressed", "key": compressed},
            {"key_identifier": "", "key": good},
            {"key_identifier": "no-key"},
            {"key_identifier": "not-pem", "key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"},
            {"key_identifier": 7, "key": good},
            {"key_identifier": "x".repeat(MAX_KEY_IDENTIFIER_LEN + 1), "key": good},
            {"key_identifier": "truncated", "key": format!("{PEM_BEGIN}\n{}\n{PEM_END}", &good[27..67])},
            {"key_identifier": "good", "key": good},
        ]});
        let keys = ScannerKeys::parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.get("good").is_some());
        for document in [
            "[]",
            "{}",
            r#"{"public_keys": {}}"#,
            r#"{"public_keys": null}"#,
            "not json",
        ] {
            assert_eq!(
                ScannerKeys::parse(document.as_bytes()),
                Err(MalformedKeyList),
                "{document}"
            );
        }
        assert!(ScannerKeys::parse(br#"{"public_keys": []}"#)
            .unwrap()
            .is_empty());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = ScannerKeys::parse(text.as_bytes());
            let wrapped = serde_json::json!({"public_keys": [{"key_identifier": "k", "key": text.to_string()}]});
            let _ = ScannerKeys::parse(wrapped.to_string().as_bytes());
        }
    }
}
