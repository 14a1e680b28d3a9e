//! JOSE, as far as OpenID Connect sign-in needs it: JWS compact serialization (RFC 7515), JWK
//! sets (RFC 7517) and the ID token's claims (OpenID Connect Core §2 and §3.1.3.7).
//!
//! The path of an ID token, each step the only way to the next type:
//!
//! 1. [`jws::UntrustedJws::parse`]: three strict base64url parts, a header whose `alg` is RS256
//!    or ES256 (never `none`, never an HMAC algorithm, which a public key must not be used
//!    for), and no `crit` extension.
//! 2. [`jws::UntrustedJws::verify`]: the key chosen from the provider's [`jwk::JwkSet`] by `kid`
//!    and algorithm, and the signature checked by a [`jws::SignatureVerifier`] (WebCrypto in the
//!    Worker: no cryptography is written here). It alone makes a [`jws::VerifiedJws`].
//! 3. [`jws::VerifiedJws::id_token`]: `iss`, `aud`/`azp`, `exp`/`iat`/`nbf` with a bounded
//!    skew, `nonce`, and a verified `email`. It alone makes a [`claims::ProviderIdentity`].
//!
//! Parsing is pure and total: every parser here has a property test on arbitrary input.

pub mod claims;
pub mod jwk;
pub mod jws;

use core::fmt;

/// The signature algorithms accepted for ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256; the signature is the 64-byte `r‖s` (RFC 7518 §3.4).
    Es256,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Deserializes `bytes` as `T` only if they hold a JSON object: serde would also build a struct
/// from an array, which no JOSE structure is.
fn from_json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests;
