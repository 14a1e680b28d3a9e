//! The provider's public keys (its `jwks_uri` document, RFC 7517), and the choice of the key
//! that may verify a given JWS.
//!
//! A provider publishes keys for several purposes and algorithms. Keys this client cannot use
//! (encryption keys, HMAC keys, other curves, RSA keys under 2048 bits, keys restricted to
//! another algorithm) are left out of the set rather than failing it, so a new kind of key at
//! the provider does not break sign-in.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use super::jws::JwsHeader;
use super::{from_json_object, Algorithm};
use crate::base64url;

/// More keys than this in one document are ignored (providers publish a handful).
pub const MAX_KEYS: usize = 32;
/// RSA moduli below 2048 bits are refused (NIST SP 800-131A).
const MIN_RSA_MODULUS_BYTES: usize = 256;
const MAX_RSA_MODULUS_BYTES: usize = 1024;
const MAX_RSA_EXPONENT_BYTES: usize = 8;
pub const P256_COORDINATE_BYTES: usize = 32;

/// A public key usable for one of the accepted [`Algorithm`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: Option<String>,
    material: KeyMaterial,
}

/// The key's parameters, re-encoded canonically from their decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyMaterial {
    Rsa { n: String, e: String },
    EcP256 { x: String, y: String },
}

impl PublicKey {
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match self.material {
            KeyMaterial::Rsa { .. } => Algorithm::Rs256,
            KeyMaterial::EcP256 { .. } => Algorithm::Es256,
        }
    }

    /// A P-256 key from its affine coordinates (as a SubjectPublicKeyInfo carries them, say).
    pub fn p256(
        kid: Option<String>,
        x: &[u8; P256_COORDINATE_BYTES],
        y: &[u8; P256_COORDINATE_BYTES],
    ) -> Self {
        Self {
            kid,
            material: KeyMaterial::EcP256 {
                x: base64url::encode(x),
                y: base64url::encode(y),
            },
        }
    }

    /// The key as a minimal public JWK, for `SubtleCrypto.importKey("jwk", …)`.
    pub fn to_jwk_json(&self) -> String {
        match &self.material {
            KeyMaterial::Rsa { n, e } => format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#),
            KeyMaterial::EcP256 { x, y } => {
                format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)
            }
        }
    }
}

/// The usable keys of a provider's JWK set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<PublicKey>,
}

/// The document is not a JWK set at all (as opposed to holding no usable key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedJwkSet;

impl fmt::Display for MalformedJwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the provider's JWK set is not a JSON object with a \"keys\" array")
    }
}

/// Why no key was chosen for a JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySelectionError {
    /// No usable key has the JWS's `kid` (or, without a `kid`, its algorithm): the provider
    /// may have rotated its keys since the set was fetched.
    Unknown,
    /// The key named by `kid` is for another algorithm than the JWS's `alg`.
    WrongAlgorithm,
    /// Several keys qualify and nothing tells them apart.
    Ambiguous,
}

impl fmt::Display for KeySelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "no key of the provider matches the ID token's kid and alg",
            Self::WrongAlgorithm => "the key named by the ID token's kid is for another alg",
            Self::Ambiguous => "several keys of the provider match the ID token",
        })
    }
}

impl JwkSet {
    pub fn parse(json: &[u8]) -> Result<Self, MalformedJwkSet> {
        let document: Value = from_json_object(json).ok_or(MalformedJwkSet)?;
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(MalformedJwkSet)?;
        Ok(Self {
            keys: keys.iter().take(MAX_KEYS).filter_map(usable_key).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key that may verify a JWS with this header: the one with its `kid`, or without a
    /// `kid`, the only key for its algorithm.
    pub fn select(&self, header: &JwsHeader) -> Result<&PublicKey, KeySelectionError> {
        let mut candidates = self.keys.iter().filter(|key| match &header.kid {
            Some(kid) => key.kid.as_deref() == Some(kid.as_str()),
            None => key.algorithm() == header.alg,
        });
        let key = candidates.next().ok_or(KeySelectionError::Unknown)?;
        if candidates.next().is_some() {
            return Err(KeySelectionError::Ambiguous);
        }
        if key.algorithm() != header.alg {
            return Err(KeySelectionError::WrongAlgorithm);
        }
        Ok(key)
    }
}

/// A member that may be absent: `Some(None)` if it is, `None` if it is there but not a string
/// (which makes the key unusable).
fn optional_str<'k>(key: &'k Value, name: &str) -> Option<Option<&'k str>> {
    match key.get(name) {
        None => Some(None),
        Some(Value::String(text)) => Some(Some(text)),
        Some(_) => None,
    }
}

/// The key's bytes from a base64url member.
fn bytes_of(key: &Value, name: &str) -> Option<Vec<u8>> {
    base64url::decode(key.get(name)?.as_str()?)
}

fn usable_key(key: &Value) -> Option<PublicKey> {
    if optional_str(key, "use")?.is_some_and(|usage| usage != "sig") {
        return None;
    }
    if let Some(ops) = key.get("key_ops") {
        let ops = ops.as_array()?;
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return None;
        }
    }
    let restricted_to = match optional_str(key, "alg")? {
        None => None,
        Some(name) => Some(Algorithm::parse(name)?),
    };
    let kid = optional_str(key, "kid")?.map(String::from);
    let material = match (key.get("kty")?.as_str()?, optional_str(key, "crv")?) {
        ("RSA", _) => {
            let (n, e) = (bytes_of(key, "n")?, bytes_of(key, "e")?);
            let significant = n.iter().skip_while(|byte| **byte == 0).count();
            let exponent = e.iter().skip_while(|byte| **byte == 0).count();
            let sized = (MIN_RSA_MODULUS_BYTES..=MAX_RSA_MODULUS_BYTES).contains(&significant)
                && (1..=MAX_RSA_EXPONENT_BYTES).contains(&exponent);
            sized.then(|| KeyMaterial::Rsa {
                n: base64url::encode(&n),
                e: base64url::encode(&e),
            })?
        }
        ("EC", Some("P-256")) => {
            let (x, y) = (bytes_of(key, "x")?, bytes_of(key, "y")?);
            (x.len() == P256_COORDINATE_BYTES && y.len() == P256_COORDINATE_BYTES).then(|| {
                KeyMaterial::EcP256 {
                    x: base64url::encode(&x),
                    y: base64url::encode(&y),
                }
            })?
        }
        _ => return None,
    };
    let key = PublicKey { kid, material };
    match restricted_to {
        Some(alg) if alg != key.algorithm() => None,
        _ => Some(key),
    }
}
