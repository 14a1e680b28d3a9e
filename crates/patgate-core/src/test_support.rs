//! Fixtures shared by the unit tests, here and (with the `test-support` feature) in the
//! Worker's. Test code: a fixture that cannot be built is a broken test, so it panics.
#![allow(clippy::unwrap_used)]

use crate::identity::{Email, TokenId, TokenName, UserId};
use crate::record::TokenRecord;
use crate::time::Timestamp;

/// A record for ada@example.com's token "CI", created at 1_700_000_000, expiring at the
/// given unix second (never if `None`).
pub fn record(expires_at: Option<u64>) -> TokenRecord {
    let email = Email::parse("ada@example.com").unwrap();
    TokenRecord::new(
        TokenId::parse("tok_abcdefghij0123456789").unwrap(),
        UserId::for_email(&email),
        email,
        TokenName::parse("CI").unwrap(),
        Timestamp::from_unix_seconds(1_700_000_000).unwrap(),
        expires_at.map(|s| Timestamp::from_unix_seconds(s).unwrap()),
    )
}
