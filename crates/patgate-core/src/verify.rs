//! The one place where a token becomes an authenticated [`Principal`].

use core::fmt;

use crate::expiry::is_expired;
use crate::identity::{Email, TokenId, TokenName, UserId};
use crate::record::{StoredRecord, TokenRecord};
use crate::time::Timestamp;
use crate::token::UntrustedToken;

/// Who is calling, proven by a token whose record was found and is in force. Its fields are
/// private: [`verify`] is the only constructor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    record: TokenRecord,
}

impl Principal {
    pub fn user_id(&self) -> &UserId {
        &self.record.user_id
    }

    pub fn email(&self) -> &Email {
        &self.record.email
    }

    pub fn token_id(&self) -> &TokenId {
        &self.record.token_id
    }

    pub fn token_name(&self) -> &TokenName {
        &self.record.name
    }

    pub fn created_at(&self) -> Timestamp {
        self.record.created_at
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        self.record.expires_at
    }
}

/// Why a token with a stored record is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// `now >= expires_at`.
    Expired,
    /// The record was read under another token's key. Only a bug in the caller's lookup can
    /// cause this; refusing is the safe answer.
    NotThisToken,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expired => f.write_str("token has expired"),
            Self::NotThisToken => f.write_str("the record belongs to another token"),
        }
    }
}

/// Turns a well-formed token and the record stored under its key into a principal. The token
/// is consumed: it has served its purpose once its record has been looked up.
pub fn verify(
    token: UntrustedToken<'_>,
    stored: StoredRecord,
    now: Timestamp,
) -> Result<Principal, VerifyError> {
    if stored.key() != token.storage_key() {
        return Err(VerifyError::NotThisToken);
    }
    if is_expired(stored.record().expires_at, now) {
        return Err(VerifyError::Expired);
    }
    Ok(Principal {
        record: stored.into_record(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::record;

    const TOKEN: &str = "pat_mavzfVABqZ5YsOOlB1f46RfHk7hp3ILTgK2y3mH3UqtmaFCrvkUb7keKpQ4Fhj1P";

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).unwrap()
    }

    fn stored(token: &UntrustedToken<'_>, expires_at: Option<u64>) -> StoredRecord {
        let json = record(expires_at).encode();
        StoredRecord::decode(token.storage_key().clone(), &json).unwrap()
    }

    #[test]
    fn valid_until_the_expiry_instant() {
        let token = UntrustedToken::parse(TOKEN).unwrap();
        let principal = verify(token.clone(), stored(&token, Some(200)), at(199)).unwrap();
        assert_eq!(principal.token_name().as_str(), "CI");
        assert_eq!(
            verify(token.clone(), stored(&token, Some(200)), at(200)),
            Err(VerifyError::Expired)
        );
        assert!(verify(token.clone(), stored(&token, None), Timestamp::MAX).is_ok());
    }

    #[test]
    fn a_record_read_under_another_key_is_refused() {
        let token = UntrustedToken::parse(TOKEN).unwrap();
        let other = crate::token::generate(&[7u8; 96]).unwrap();
        let other = UntrustedToken::parse(other.as_str()).unwrap();
        assert_eq!(
            verify(token, stored(&other, None), at(1)),
            Err(VerifyError::NotThisToken)
        );
    }
}
