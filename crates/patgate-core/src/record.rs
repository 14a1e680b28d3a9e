//! What the validation store (Workers KV) holds per token, under its [`StorageKey`].
//!
//! [`StorageKey`]: crate::token::StorageKey

use alloc::string::String;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::{Email, TokenId, TokenName, UserId};
use crate::time::Timestamp;

/// The version this build writes and the only one it reads.
pub const RECORD_VERSION: u32 = 1;

/// One token's validation record. It never contains the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// Format version; see [`RECORD_VERSION`].
    pub v: u32,
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

#[derive(Deserialize)]
struct VersionProbe {
    v: u64,
}

impl TokenRecord {
    pub fn decode(json: &str) -> Result<Self, RecordError> {
        let probe: VersionProbe = serde_json::from_str(json).map_err(|_| RecordError::Malformed)?;
        if probe.v != u64::from(RECORD_VERSION) {
            return Err(RecordError::UnsupportedVersion(probe.v));
        }
        serde_json::from_str(json).map_err(|_| RecordError::Malformed)
    }

    pub fn encode(&self) -> String {
        // Serializing plain strings and integers into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
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
    }

    #[test]
    fn unknown_versions_and_shapes_are_explicit_errors() {
        let newer = sample().encode().replacen("\"v\":1", "\"v\":2", 1);
        assert_eq!(
            TokenRecord::decode(&newer),
            Err(RecordError::UnsupportedVersion(2))
        );
        let extra = sample().encode().replacen('{', "{\"admin\":true,", 1);
        assert_eq!(TokenRecord::decode(&extra), Err(RecordError::Malformed));
        assert_eq!(TokenRecord::decode("not json"), Err(RecordError::Malformed));
        let bad_name = sample().encode().replacen("\"CI\"", "\"\"", 1);
        assert_eq!(TokenRecord::decode(&bad_name), Err(RecordError::Malformed));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = TokenRecord::decode(&text);
        }
    }
}
