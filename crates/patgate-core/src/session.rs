//! Browser sessions for the console: cookie format, stored record, timeouts.
//!
//! The session layer does not care how the user was identified (the platform's OpenID Connect
//! provider, or local development sign-in): it starts from a [`UserId`] and an [`Email`].

use alloc::format;
use alloc::string::String;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::identity::{Email, UserId};
use crate::time::Timestamp;
use crate::{cookie, hex};

pub const SESSION_COOKIE_NAME: &str = "__Host-patgate_session";
/// A session unused for this long ends (OWASP: 15–30 minutes for sensitive applications).
pub const IDLE_TIMEOUT_SECONDS: u64 = 30 * 60;
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE_TIMEOUT_SECONDS: u64 = 12 * 60 * 60;
/// 256 bits of session secret.
pub const RANDOM_BYTES_FOR_SESSION: usize = 32;
const SECRET_HEX_LEN: usize = RANDOM_BYTES_FOR_SESSION * 2;

/// The server-side handle of a session: a hash of its secret. Only this is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionKey(String);

impl SessionKey {
    fn of_secret(secret_hex: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(b"patgate/session/v1\0")
            .chain_update(secret_hex.as_bytes())
            .finalize();
        Self(hex::encode(&digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A session just created at sign-in: the cookie value goes to the browser once.
pub struct NewSession {
    cookie_value: String,
    key: SessionKey,
}

impl NewSession {
    pub fn start(user_id: &UserId, random: &[u8; RANDOM_BYTES_FOR_SESSION]) -> Self {
        let mut secret = hex::encode(random);
        let key = SessionKey::of_secret(&secret);
        let cookie_value = format!("{}.{secret}", user_id.as_str());
        secret.zeroize();
        Self { cookie_value, key }
    }

    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// The `Set-Cookie` value that hands the session to the browser.
    pub fn set_cookie_header(&self) -> String {
        format!(
            "{SESSION_COOKIE_NAME}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={ABSOLUTE_TIMEOUT_SECONDS}",
            self.cookie_value
        )
    }
}

impl Drop for NewSession {
    fn drop(&mut self) {
        self.cookie_value.zeroize();
    }
}

impl core::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NewSession")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie_header() -> String {
    format!("{SESSION_COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// A well-formed session cookie from a request: which user's ledger holds the session, and
/// the key to look up there. Whether the session exists is for the ledger to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedSession {
    pub user_id: UserId,
    pub key: SessionKey,
}

/// Finds exactly one well-formed session cookie in a `Cookie` header. Missing, duplicated,
/// oversized or malformed cookies all mean "no session".
pub fn presented_session(cookie_header: Option<&str>) -> Option<PresentedSession> {
    let value = cookie::single(cookie_header, SESSION_COOKIE_NAME)?;
    let (user_id, secret) = value.split_once('.')?;
    if !hex::is_lower_hex(secret, SECRET_HEX_LEN) {
        return None;
    }
    Some(PresentedSession {
        user_id: UserId::parse(user_id)?,
        key: SessionKey::of_secret(secret),
    })
}

/// What the ledger stores per session, under its [`SessionKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user_id: UserId,
    pub email: Email,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// Why a stored session no longer admits its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnded {
    Idle,
    Absolute,
}

impl SessionRecord {
    pub fn new(user_id: UserId, email: Email, now: Timestamp) -> Self {
        Self {
            user_id,
            email,
            created_at: now,
            last_seen_at: now,
        }
    }

    /// Checks both timeouts at `now`.
    pub fn check(&self, now: Timestamp) -> Result<(), SessionEnded> {
        if now.seconds_since(self.created_at) >= ABSOLUTE_TIMEOUT_SECONDS {
            Err(SessionEnded::Absolute)
        } else if now.seconds_since(self.last_seen_at) >= IDLE_TIMEOUT_SECONDS {
            Err(SessionEnded::Idle)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    fn user() -> (UserId, Email) {
        let email = Email::parse("ada@example.com").unwrap();
        (UserId::for_email(&email), email)
    }

    fn cookie_value_of(session: &NewSession) -> String {
        let header = session.set_cookie_header();
        let pair = header.split(';').next().unwrap();
        pair.split_once('=').unwrap().1.to_string()
    }

    #[test]
    fn a_new_session_is_found_again_by_its_cookie() {
        let (user_id, _) = user();
        let session = NewSession::start(&user_id, &[9u8; 32]);
        let header = session.set_cookie_header();
        assert!(header.starts_with("__Host-patgate_session=usr_"));
        assert!(header.contains("; Path=/; Secure; HttpOnly; SameSite=Strict"));
        let cookie = alloc::format!(
            "theme=dark; {SESSION_COOKIE_NAME}={}",
            cookie_value_of(&session)
        );
        let presented = presented_session(Some(&cookie)).unwrap();
        assert_eq!(presented.user_id, user_id);
        assert_eq!(&presented.key, session.key());
        // The stored key is a hash: it never equals the secret in the cookie.
        assert!(!cookie.contains(session.key().as_str()));
    }

    #[test]
    fn ambiguous_or_malformed_cookies_mean_no_session() {
        let (user_id, _) = user();
        let value = cookie_value_of(&NewSession::start(&user_id, &[1u8; 32]));
        let twice = alloc::format!("{SESSION_COOKIE_NAME}={value}; {SESSION_COOKIE_NAME}={value}");
        assert_eq!(presented_session(Some(&twice)), None);
        assert_eq!(presented_session(None), None);
        let forged = alloc::format!("{SESSION_COOKIE_NAME}=usr_x.{}", "a".repeat(64));
        assert_eq!(presented_session(Some(&forged)), None);
        let upper = alloc::format!("{SESSION_COOKIE_NAME}={}", value.to_uppercase());
        assert_eq!(presented_session(Some(&upper)), None);
        let huge = alloc::format!("{SESSION_COOKIE_NAME}={value}; pad={}", "x".repeat(9000));
        assert_eq!(presented_session(Some(&huge)), None);
    }

    #[test]
    fn timeouts() {
        let (user_id, email) = user();
        let start = Timestamp::from_unix_seconds(1_000_000).unwrap();
        let mut record = SessionRecord::new(user_id, email, start);
        let later = |s| start.saturating_add_seconds(s);
        assert_eq!(record.check(later(IDLE_TIMEOUT_SECONDS - 1)), Ok(()));
        assert_eq!(
            record.check(later(IDLE_TIMEOUT_SECONDS)),
            Err(SessionEnded::Idle)
        );
        record.last_seen_at = later(ABSOLUTE_TIMEOUT_SECONDS - 60);
        assert_eq!(record.check(later(ABSOLUTE_TIMEOUT_SECONDS - 1)), Ok(()));
        assert_eq!(
            record.check(later(ABSOLUTE_TIMEOUT_SECONDS)),
            Err(SessionEnded::Absolute)
        );
    }

    proptest! {
        #[test]
        fn cookie_parsing_never_panics(text in "\\PC{0,200}") {
            let _ = presented_session(Some(&text));
        }
    }
}
