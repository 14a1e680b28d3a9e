//! Fixtures shared by the unit tests.

use crate::identity::{Email, TokenId, TokenName, UserId};
use crate::record::{TokenRecord, RECORD_VERSION};
use crate::time::Timestamp;

/// A record for ada@example.com's token "CI", created at 1_700_000_000.
pub fn record(expires_at: Option<u64>) -> TokenRecord {
    let email = Email::parse("ada@example.com").unwrap();
    TokenRecord {
        v: RECORD_VERSION,
        token_id: TokenId::parse("tok_abcdefghij0123456789").unwrap(),
        user_id: UserId::for_email(&email),
        email,
        name: TokenName::parse("CI").unwrap(),
        created_at: Timestamp::from_unix_seconds(1_700_000_000).unwrap(),
        expires_at: expires_at.map(|s| Timestamp::from_unix_seconds(s).unwrap()),
    }
}
