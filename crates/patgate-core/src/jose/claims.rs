//! The ID token's claims and their validation (OpenID Connect Core §3.1.3.7).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

use super::from_json_object;
use super::jws::VerifiedJws;
use crate::identity::{Email, UserId};
use crate::time::Timestamp;

/// The most that the provider's clock and ours may disagree by.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 60;
/// An ID token issued longer ago than this (plus the skew) did not come from the sign-in that
/// asked for it, which lasts at most this long.
pub const MAX_ID_TOKEN_AGE_SECONDS: u64 = 600;
/// OpenID Connect Core §2: `sub` is at most 255 ASCII characters.
const MAX_SUBJECT_LEN: usize = 255;

/// What the ID token must say, from the configuration and the sign-in transaction.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: Timestamp,
}

/// Why the claims were refused. Messages are for logs and never include a claim's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsError {
    /// Not a JSON object, a required claim missing, or a claim of the wrong type.
    Malformed,
    IssuerMismatch,
    AudienceMismatch,
    AuthorizedPartyMismatch,
    Expired,
    IssuedInFuture,
    IssuedTooLongAgo,
    NotYetValid,
    NonceMismatch,
    SubjectInvalid,
    EmailMissing,
    EmailNotVerified,
    EmailMalformed,
}

impl fmt::Display for ClaimsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the ID token's claims are malformed",
            Self::IssuerMismatch => "the ID token's iss is not the configured issuer",
            Self::AudienceMismatch => "the ID token's aud does not contain the client id",
            Self::AuthorizedPartyMismatch => "the ID token's azp is not the client id",
            Self::Expired => "the ID token has expired",
            Self::IssuedInFuture => "the ID token's iat is in the future",
            Self::IssuedTooLongAgo => "the ID token's iat is too long ago",
            Self::NotYetValid => "the ID token's nbf is in the future",
            Self::NonceMismatch => "the ID token's nonce is not the sign-in's",
            Self::SubjectInvalid => "the ID token's sub is empty, too long or not ASCII",
            Self::EmailMissing => "the ID token has no email",
            Self::EmailNotVerified => "the ID token's email_verified is not true",
            Self::EmailMalformed => "the ID token's email is not an email address",
        })
    }
}

/// The claims as the provider sent them, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// One audience, or an array of them (RFC 7519 §4.1.3).
    pub aud: serde_json::Value,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: Timestamp,
    #[serde(deserialize_with = "numeric_date")]
    pub iat: Timestamp,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub nbf: Option<Timestamp>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Kept as any JSON: only the boolean `true` counts as verified (not `"true"`).
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
}

/// Who the provider says signed in. Made only from a verified ID token whose claims passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    issuer: String,
    subject: String,
    email: Email,
}

impl ProviderIdentity {
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// A display attribute, refreshed at each sign-in: the user is the (issuer, subject).
    pub fn email(&self) -> &Email {
        &self.email
    }

    pub fn user_id(&self) -> UserId {
        UserId::for_provider_subject(&self.issuer, &self.subject)
    }
}

impl IdTokenClaims {
    pub fn parse(payload: &[u8]) -> Result<Self, ClaimsError> {
        from_json_object(payload).ok_or(ClaimsError::Malformed)
    }

    pub(crate) fn validate(self, expected: &Expected<'_>) -> Result<ProviderIdentity, ClaimsError> {
        let now = expected.now;
        if self.iss != expected.issuer {
            return Err(ClaimsError::IssuerMismatch);
        }
        let audiences: Vec<&str> = match &self.aud {
            serde_json::Value::String(one) => alloc::vec![one.as_str()],
            serde_json::Value::Array(many) => many
                .iter()
                .map(serde_json::Value::as_str)
                .collect::<Option<_>>()
                .ok_or(ClaimsError::Malformed)?,
            _ => return Err(ClaimsError::Malformed),
        };
        if !audiences.contains(&expected.client_id) {
            return Err(ClaimsError::AudienceMismatch);
        }
        // With several audiences, `azp` must name us; when present, it must always.
        match &self.azp {
            Some(azp) if azp != expected.client_id => {
                return Err(ClaimsError::AuthorizedPartyMismatch)
            }
            None if audiences.len() > 1 => return Err(ClaimsError::AuthorizedPartyMismatch),
            _ => {}
        }
        if now >= self.exp.saturating_add_seconds(MAX_CLOCK_SKEW_SECONDS) {
            return Err(ClaimsError::Expired);
        }
        if self.iat > now.saturating_add_seconds(MAX_CLOCK_SKEW_SECONDS) {
            return Err(ClaimsError::IssuedInFuture);
        }
        if now.seconds_since(self.iat) > MAX_ID_TOKEN_AGE_SECONDS + MAX_CLOCK_SKEW_SECONDS {
            return Err(ClaimsError::IssuedTooLongAgo);
        }
        if self
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add_seconds(MAX_CLOCK_SKEW_SECONDS))
        {
            return Err(ClaimsError::NotYetValid);
        }
        let nonce_matches = self
            .nonce
            .as_deref()
            .is_some_and(|nonce| bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())));
        if !nonce_matches {
            return Err(ClaimsError::NonceMismatch);
        }
        let subject_ok = !self.sub.is_empty()
            && self.sub.len() <= MAX_SUBJECT_LEN
            && self
                .sub
                .bytes()
                .all(|b| b.is_ascii() && !b.is_ascii_control());
        if !subject_ok {
            return Err(ClaimsError::SubjectInvalid);
        }
        let email = self.email.ok_or(ClaimsError::EmailMissing)?;
        if self.email_verified != Some(serde_json::Value::Bool(true)) {
            return Err(ClaimsError::EmailNotVerified);
        }
        let email = Email::parse(&email).map_err(|_| ClaimsError::EmailMalformed)?;
        Ok(ProviderIdentity {
            issuer: self.iss,
            subject: self.sub,
            email,
        })
    }
}

impl VerifiedJws {
    /// Validates the payload as an ID token for `expected`: the only way to a
    /// [`ProviderIdentity`].
    pub fn id_token(&self, expected: &Expected<'_>) -> Result<ProviderIdentity, ClaimsError> {
        IdTokenClaims::parse(&self.payload)?.validate(expected)
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional (dropped).
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    struct NumericDate;

    impl Visitor<'_> for NumericDate {
        type Value = Timestamp;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("seconds since 1970 within years 1970-9999")
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Timestamp, E> {
            Timestamp::from_unix_seconds(seconds).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Timestamp, E> {
            let seconds = u64::try_from(seconds).map_err(E::custom)?;
            self.visit_u64(seconds)
        }

        fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Timestamp, E> {
            if !(0.0..=Timestamp::MAX.unix_seconds() as f64).contains(&seconds) {
                return Err(E::custom("NumericDate out of range"));
            }
            // In range and not NaN, so the conversion is exact up to the dropped fraction.
            self.visit_u64(seconds as u64)
        }
    }

    deserializer.deserialize_any(NumericDate)
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    numeric_date(deserializer).map(Some)
}
