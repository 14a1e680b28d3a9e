//! What the validation store (Workers KV) holds per token, under its [`StorageKey`].
//!
//! The JSON form is an object whose **first member is `"v"`**, the format version. A reader
//! looks at the version before anything else, so a record written by a newer build is reported
//! as [`RecordError::UnsupportedVersion`] rather than misread, and the record is parsed in a
//! single pass on the hot path.

use alloc::string::String;
use core::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::identity::{Email, TokenId, TokenName, UserId};
use crate::time::Timestamp;
use crate::token::StorageKey;

/// The version this build writes and the only one it reads.
pub const RECORD_VERSION: u32 = 1;

/// One token's validation record. It never contains the token or its hash.
///
/// The version field is private: [`TokenRecord::new`] is the only way to build a record, and it
/// always writes [`RECORD_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// Format version; see [`RECORD_VERSION`]. Serialized first (see the module docs).
    v: u32,
    pub token_id: TokenId,
    pub user_id: UserId,
    pub email: Email,
    pub name: TokenName,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A stored record that cannot be used. Either way, the token cannot be judged: callers answer
/// "service unavailable", never "invalid token".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Not the JSON shape of any known version.
    Malformed,
    /// Written by a newer (or unknown) build.
    UnsupportedVersion(u64),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("stored token record is malformed"),
            Self::UnsupportedVersion(v) => write!(f, "stored token record has unknown version {v}"),
        }
    }
}

impl TokenRecord {
    pub fn new(
        token_id: TokenId,
        user_id: UserId,
        email: Email,
        name: TokenName,
        created_at: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Self {
        Self {
            v: RECORD_VERSION,
            token_id,
            user_id,
            email,
            name,
            created_at,
            expires_at,
        }
    }

    /// Parses a stored record in one pass: the version first, then the fields of that version.
    pub fn decode(json: &str) -> Result<Self, RecordError> {
        match crate::json::from_text::<Decoded>(json) {
            Ok(Decoded::Current(record)) => Ok(record),
            Ok(Decoded::Unsupported(version)) => Err(RecordError::UnsupportedVersion(version)),
            Err(_) => Err(RecordError::Malformed),
        }
    }

    pub fn encode(&self) -> String {
        #[allow(clippy::expect_used)]
        // Invariant: every field is a string, an integer or null, and the target is a String,
        // so serialization has no way to fail.
        serde_json::to_string(self).expect("a record of strings and integers serializes")
    }
}

/// A record as read from the validation store, tied to the key it was read under, so that
/// [`crate::verify::verify`] can check that it belongs to the presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    key: StorageKey,
    record: TokenRecord,
}

impl StoredRecord {
    pub fn decode(key: StorageKey, json: &str) -> Result<Self, RecordError> {
        Ok(Self {
            key,
            record: TokenRecord::decode(json)?,
        })
    }

    pub fn key(&self) -> &StorageKey {
        &self.key
    }

    pub fn record(&self) -> &TokenRecord {
        &self.record
    }

    pub(crate) fn into_record(self) -> TokenRecord {
        self.record
    }
}

/// The outcome of reading a record of any version.
enum Decoded {
    Current(TokenRecord),
    Unsupported(u64),
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    V,
    TokenId,
    UserId,
    Email,
    Name,
    CreatedAt,
    ExpiresAt,
}

impl<'de> Deserialize<'de> for Decoded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

/// Stores a field once; a second occurrence is an error, as with serde's derive.
fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), &'static str> {
    if slot.replace(value).is_some() {
        return Err(name);
    }
    Ok(())
}

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Decoded;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token record object starting with \"v\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        if !matches!(map.next_key::<Field>()?, Some(Field::V)) {
            return Err(de::Error::custom("a token record starts with \"v\""));
        }
        let version: u64 = map.next_value()?;
        if version != u64::from(RECORD_VERSION) {
            // Another version's fields are not ours to judge: skip them.
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Decoded::Unsupported(version));
        }
        let (mut token_id, mut user_id, mut email, mut name) = (None, None, None, None);
        let (mut created_at, mut expires_at) = (None, None);
        while let Some(field) = map.next_key::<Field>()? {
            let duplicate = match field {
                Field::V => Err("v"),
                Field::TokenId => set_once(&mut token_id, map.next_value()?, "token_id"),
                Field::UserId => set_once(&mut user_id, map.next_value()?, "user_id"),
                Field::Email => set_once(&mut email, map.next_value()?, "email"),
                Field::Name => set_once(&mut name, map.next_value()?, "name"),
                Field::CreatedAt => set_once(&mut created_at, map.next_value()?, "created_at"),
                Field::ExpiresAt => set_once(&mut expires_at, map.next_value()?, "expires_at"),
            };
            duplicate.map_err(de::Error::duplicate_field)?;
        }
        let missing = de::Error::missing_field;
        Ok(Decoded::Current(TokenRecord::new(
            token_id.ok_or_else(|| missing("token_id"))?,
            user_id.ok_or_else(|| missing("user_id"))?,
            email.ok_or_else(|| missing("email"))?,
            name.ok_or_else(|| missing("name"))?,
            created_at.ok_or_else(|| missing("created_at"))?,
            // An absent expiry means "never", as in version 1's first writer.
            expires_at.unwrap_or(None),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> TokenRecord {
        crate::test_support::record(None)
    }

    #[test]
    fn round_trips() {
        let record = sample();
        assert_eq!(TokenRecord::decode(&record.encode()), Ok(record));
        let expiring = crate::test_support::record(Some(1_800_000_000));
        assert_eq!(TokenRecord::decode(&expiring.encode()), Ok(expiring));
    }

    #[test]
    fn the_version_is_written_first() {
        assert!(sample().encode().starts_with("{\"v\":1,"));
    }

    #[test]
    fn unknown_versions_and_shapes_are_explicit_errors() {
        let newer = sample().encode().replacen("\"v\":1", "\"v\":2", 1);
        assert_eq!(
            TokenRecord::decode(&newer),
            Err(RecordError::UnsupportedVersion(2))
        );
        // A newer version may have any fields of any type: it is still "unsupported".
        assert_eq!(
            TokenRecord::decode("{\"v\":99,\"future\":true,\"name\":{\"x\":[]}}"),
            Err(RecordError::UnsupportedVersion(99))
        );
        let extra = sample().encode().replacen(",", ",\"admin\":true,", 1);
        assert_eq!(TokenRecord::decode(&extra), Err(RecordError::Malformed));
        let without_version = sample().encode().replacen("{\"v\":1,", "{", 1);
        let version_not_first =
            alloc::format!("{},\"v\":1}}", without_version.trim_end_matches('}'));
        assert_eq!(
            TokenRecord::decode(&version_not_first),
            Err(RecordError::Malformed)
        );
        assert_eq!(TokenRecord::decode("not json"), Err(RecordError::Malformed));
        assert_eq!(TokenRecord::decode("{}"), Err(RecordError::Malformed));
        assert_eq!(
            TokenRecord::decode("{\"v\":1}"),
            Err(RecordError::Malformed)
        );
        let bad_name = sample().encode().replacen("\"CI\"", "\"\"", 1);
        assert_eq!(TokenRecord::decode(&bad_name), Err(RecordError::Malformed));
        let twice =
            sample()
                .encode()
                .replacen("\"name\":\"CI\"", "\"name\":\"CI\",\"name\":\"CD\"", 1);
        assert_eq!(TokenRecord::decode(&twice), Err(RecordError::Malformed));
        let trailing = sample().encode() + " x";
        assert_eq!(TokenRecord::decode(&trailing), Err(RecordError::Malformed));
    }

    #[test]
    fn a_missing_expiry_means_never() {
        let without = sample().encode().replacen(",\"expires_at\":null", "", 1);
        assert_eq!(TokenRecord::decode(&without), Ok(sample()));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = TokenRecord::decode(&text);
        }

        #[test]
        fn decoding_record_shaped_text_never_panics(
            version in 0u64..4,
            name in "\\PC{0,20}",
            created in any::<u64>(),
        ) {
            let json = alloc::format!(
                "{{\"v\":{version},\"token_id\":\"tok_abcdefghij0123456789\",\"user_id\":\"usr_0\",\
                 \"email\":\"a@b.c\",\"name\":{name:?},\"created_at\":{created},\"expires_at\":null}}"
            );
            let _ = TokenRecord::decode(&json);
        }
    }
}
