//! JWS compact serialization (RFC 7515 §7.1): parsing, and verification through a
//! [`SignatureVerifier`] port.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::jwk::{JwkSet, KeySelectionError, PublicKey};
use super::{from_json_object, Algorithm};
use crate::base64url;

/// Longer inputs are refused before any decoding (ID tokens are a few kilobytes).
pub const MAX_COMPACT_LEN: usize = 16 * 1024;
/// Longest accepted RSA signature: an 8192-bit modulus.
const MAX_RSA_SIGNATURE_LEN: usize = 1024;
const ES256_SIGNATURE_LEN: usize = 64;

/// Checks a signature with real cryptography; the core has none of its own. In the Worker,
/// WebCrypto's `SubtleCrypto.verify`; in tests, a fake.
pub trait SignatureVerifier {
    type Error: fmt::Display;

    /// Whether `signature` is a valid `algorithm` signature of `signing_input` under `key`.
    /// `Err` only when the check itself could not be made.
    fn verify(
        &self,
        algorithm: Algorithm,
        key: &PublicKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, Self::Error>>;
}

/// Why a string is not an acceptable JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsError {
    TooLong,
    /// Not three base64url parts separated by dots.
    NotCompact,
    /// The header is not a JSON object with a string `alg`.
    MalformedHeader,
    /// `alg` is neither RS256 nor ES256 (`none` and HMAC algorithms included).
    UnsupportedAlgorithm,
    /// The header lists critical extensions, none of which this client understands.
    CriticalExtension,
    /// `typ` names something other than a JWT (an access token, say).
    UnexpectedType,
    /// The signature cannot be one of `alg`'s.
    SignatureLength,
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "the JWS is too long",
            Self::NotCompact => "the JWS is not three base64url parts",
            Self::MalformedHeader => "the JWS header is not a JSON object with an alg",
            Self::UnsupportedAlgorithm => "the JWS alg is not RS256 or ES256",
            Self::CriticalExtension => "the JWS header has critical extensions",
            Self::UnexpectedType => "the JWS typ is not JWT",
            Self::SignatureLength => "the JWS signature has the wrong length for its alg",
        })
    }
}

/// Why a parsed JWS was not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError<E> {
    Key(KeySelectionError),
    BadSignature,
    /// The verifier could not make the check.
    Verifier(E),
}

impl<E: fmt::Display> fmt::Display for VerifyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(error) => error.fmt(f),
            Self::BadSignature => f.write_str("the JWS signature does not verify"),
            Self::Verifier(error) => write!(f, "the JWS signature could not be checked: {error}"),
        }
    }
}

/// The parts of the protected header this client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsHeader {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// True for any value at all, `null` included: the member's presence is what counts.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// A well-formed JWS whose signature has not been checked: nothing in its payload may be
/// trusted yet, so the payload is not exposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedJws {
    header: JwsHeader,
    /// `BASE64URL(header) '.' BASE64URL(payload)`, exactly as received: what was signed.
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl UntrustedJws {
    pub fn parse(compact: &str) -> Result<Self, JwsError> {
        if compact.len() > MAX_COMPACT_LEN {
            return Err(JwsError::TooLong);
        }
        let mut parts = compact.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::NotCompact);
        };
        let decode = |part: &str| base64url::decode(part).ok_or(JwsError::NotCompact);
        let (header, payload, signature) = (
            decode(header_b64)?,
            decode(payload_b64)?,
            decode(signature_b64)?,
        );
        let raw: RawHeader = from_json_object(&header).ok_or(JwsError::MalformedHeader)?;
        let alg = Algorithm::parse(&raw.alg).ok_or(JwsError::UnsupportedAlgorithm)?;
        if raw.crit {
            return Err(JwsError::CriticalExtension);
        }
        if raw
            .typ
            .as_deref()
            .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
        {
            return Err(JwsError::UnexpectedType);
        }
        let length_fits = match alg {
            Algorithm::Rs256 => (1..=MAX_RSA_SIGNATURE_LEN).contains(&signature.len()),
            Algorithm::Es256 => signature.len() == ES256_SIGNATURE_LEN,
        };
        if !length_fits {
            return Err(JwsError::SignatureLength);
        }
        let signed_len = header_b64.len() + 1 + payload_b64.len();
        Ok(Self {
            header: JwsHeader { alg, kid: raw.kid },
            signing_input: compact.get(..signed_len).unwrap_or_default().into(),
            payload,
            signature,
        })
    }

    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// Checks the signature with the key that `keys` holds for it. The only way to a
    /// [`VerifiedJws`].
    pub async fn verify<V: SignatureVerifier>(
        &self,
        keys: &JwkSet,
        verifier: &V,
    ) -> Result<VerifiedJws, VerifyError<V::Error>> {
        let key = keys.select(&self.header).map_err(VerifyError::Key)?;
        let valid = verifier
            .verify(
                self.header.alg,
                key,
                self.signing_input.as_bytes(),
                &self.signature,
            )
            .await
            .map_err(VerifyError::Verifier)?;
        if !valid {
            return Err(VerifyError::BadSignature);
        }
        Ok(VerifiedJws {
            payload: self.payload.clone(),
        })
    }
}

/// A JWS whose signature a provider's key verified: its payload is what the provider said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    pub(crate) payload: Vec<u8>,
}
