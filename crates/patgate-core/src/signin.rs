//! The sign-in transaction of the OpenID Connect authorization code flow: `state`, `nonce`,
//! the PKCE verifier (RFC 7636, `S256`) and where to return, from `/console/auth/login` to
//! `/console/auth/callback`.
//!
//! The transaction travels in the browser that started it, in a `__Host-` cookie signed with
//! HMAC-SHA256 under `COOKIE_SECRET`, for at most 10 minutes, and is cleared by the callback
//! whatever its outcome. A callback opened in another browser (a login CSRF) finds no cookie,
//! or one whose `state` differs. The cookie is `SameSite=Lax`: the provider's redirect back is
//! a cross-site top-level navigation, which a `Strict` cookie would not accompany.
//!
//! Cookie value: `v1.<base64url(JSON payload)>.<base64url(HMAC)>`; the HMAC covers a domain
//! tag and everything before the last dot. Other versions are refused explicitly.

use alloc::format;
use alloc::string::{String, ToString};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::time::Timestamp;
use crate::{base64url, cookie};

pub const TRANSACTION_COOKIE_NAME: &str = "__Host-patgate_signin";
/// How long a sign-in may take, from the login redirect to the callback.
pub const TRANSACTION_LIFETIME_SECONDS: u64 = 600;
/// Random bytes a caller should supply to [`SignInTransaction::start`]: 32 each for the
/// state, the nonce and the PKCE verifier.
pub const RANDOM_BYTES_FOR_TRANSACTION: usize = 96;
const SECRET_PART_BYTES: usize = 32;
/// The base64url length of 32 bytes.
const SECRET_PART_LEN: usize = 43;
const VERSION: &str = "v1";
const MAC_DOMAIN: &[u8] = b"patgate/signin-transaction\0";
const MAX_RETURN_PATH_LEN: usize = 512;
const CONSOLE_HOME: &str = "/console/";

/// Where the browser goes after signing in: a path of the console on this origin, so the
/// sign-in can never be made to redirect elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReturnPath(String);

impl ReturnPath {
    /// Accepts `/console/…` made of URL path, query and fragment characters, without dot
    /// segments or encoded dots and slashes (which could climb out of `/console/`).
    pub fn parse(input: &str) -> Option<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?#%".contains(c);
        let path = input.split(['?', '#']).next().unwrap_or_default();
        let climbs = path
            .split('/')
            .any(|segment| segment == "." || segment == "..");
        let lower = input.to_ascii_lowercase();
        let encoded_escape = ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e));
        (input.starts_with(CONSOLE_HOME)
            && input.len() <= MAX_RETURN_PATH_LEN
            && input.chars().all(allowed)
            && !climbs
            && !encoded_escape)
            .then(|| Self(input.to_string()))
    }

    /// The console's home page, where a sign-in without a `return_to` lands.
    pub fn console_home() -> Self {
        Self(CONSOLE_HOME.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReturnPath {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("not a console path")
    }
}

impl From<ReturnPath> for String {
    fn from(path: ReturnPath) -> Self {
        path.0
    }
}

/// A sign-in in progress. Its `Debug` shows only where it returns to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInTransaction {
    state: String,
    nonce: String,
    code_verifier: String,
    return_to: ReturnPath,
    expires_at: Timestamp,
}

impl core::fmt::Debug for SignInTransaction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignInTransaction")
            .field("return_to", &self.return_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a callback has no usable transaction. Only [`TransactionError::Expired`] is the
/// ordinary case of a slow user; the others mean a lost, foreign or tampered cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionError {
    Missing,
    UnknownVersion,
    /// Malformed, or its HMAC does not verify.
    Forged,
    Expired,
}

impl core::fmt::Display for TransactionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Missing => "no sign-in transaction cookie",
            Self::UnknownVersion => "a sign-in transaction cookie of an unknown version",
            Self::Forged => "a sign-in transaction cookie that is malformed or wrongly signed",
            Self::Expired => "the sign-in transaction has expired",
        })
    }
}

impl SignInTransaction {
    pub fn start(
        random: &[u8; RANDOM_BYTES_FOR_TRANSACTION],
        return_to: ReturnPath,
        now: Timestamp,
    ) -> Self {
        let (state, rest) = random.split_at(SECRET_PART_BYTES);
        let (nonce, verifier) = rest.split_at(SECRET_PART_BYTES);
        Self {
            state: base64url::encode(state),
            nonce: base64url::encode(nonce),
            code_verifier: base64url::encode(verifier),
            return_to,
            expires_at: now.saturating_add_seconds(TRANSACTION_LIFETIME_SECONDS),
        }
    }

    pub fn state(&self) -> &str {
        &self.state
    }

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The PKCE verifier, sent only to the token endpoint.
    pub fn code_verifier(&self) -> &str {
        &self.code_verifier
    }

    /// The PKCE `S256` challenge: base64url(SHA-256(verifier)), sent in the authorization request.
    pub fn code_challenge(&self) -> String {
        base64url::encode(&Sha256::digest(self.code_verifier.as_bytes()))
    }

    pub fn return_to(&self) -> &ReturnPath {
        &self.return_to
    }

    /// Constant-time comparison with the `state` the callback presents.
    pub fn state_matches(&self, presented: &str) -> bool {
        self.state.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// The `Set-Cookie` value that hands the transaction to the browser.
    pub fn set_cookie_header(&self, secret: &[u8]) -> String {
        // A struct of strings and a number always serializes.
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let signed = format!("{VERSION}.{}", base64url::encode(&payload));
        let mac = base64url::encode(&mac(secret, &signed).finalize().into_bytes());
        format!(
            "{TRANSACTION_COOKIE_NAME}={signed}.{mac}; Path=/; Secure; HttpOnly; SameSite=Lax; \
             Max-Age={TRANSACTION_LIFETIME_SECONDS}"
        )
    }

    /// The transaction in a request's `Cookie` header, if it is ours, intact and current.
    pub fn from_cookie_header(
        cookie_header: Option<&str>,
        secret: &[u8],
        now: Timestamp,
    ) -> Result<Self, TransactionError> {
        let value = cookie::single(cookie_header, TRANSACTION_COOKIE_NAME)
            .ok_or(TransactionError::Missing)?;
        let (signed, presented_mac) = value.rsplit_once('.').ok_or(TransactionError::Forged)?;
        let (version, payload) = signed.split_once('.').ok_or(TransactionError::Forged)?;
        if version != VERSION {
            return Err(TransactionError::UnknownVersion);
        }
        let presented_mac = base64url::decode(presented_mac).ok_or(TransactionError::Forged)?;
        mac(secret, signed)
            .verify_slice(&presented_mac)
            .map_err(|_| TransactionError::Forged)?;
        let transaction: Self = base64url::decode(payload)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(TransactionError::Forged)?;
        let well_formed = [
            &transaction.state,
            &transaction.nonce,
            &transaction.code_verifier,
        ]
        .iter()
        .all(|part| part.len() == SECRET_PART_LEN);
        if !well_formed {
            return Err(TransactionError::Forged);
        }
        if now >= transaction.expires_at {
            return Err(TransactionError::Expired);
        }
        Ok(transaction)
    }
}

/// The `Set-Cookie` value that removes the transaction, sent by every callback.
pub fn clear_transaction_cookie_header() -> String {
    format!("{TRANSACTION_COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
    let mut mac = crate::hmac_sha256(secret);
    mac.update(MAC_DOMAIN);
    mac.update(signed.as_bytes());
    mac
}

#[cfg(test)]
mod tests;
