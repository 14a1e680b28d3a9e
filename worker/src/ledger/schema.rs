//! What a user's ledger stores, and under which keys. This is a persistent format: changing a
//! stored type means reading the old shape too.
//!
//! | key | value |
//! | --- | --- |
//! | `token:<token id>` | [`TokenEntry`] |
//! | `session:<session key>` | [`SessionRecord`](patgate_core::session::SessionRecord) |
//! | `audit:<20-digit sequence>` | [`StoredAuditEvent`] |
//! | `audit-sequence` | the last audit sequence number |
//! | `account` | [`StoredAccount`]: the email that validation records carry |
//! | `sync:<storage key>` | the unix seconds since which KV may disagree with the ledger for that hash |
//! | `exposure:<storage key>` | [`StoredExposure`]: a token revoked because it was exposed, and whether its owner has dismissed the notice |

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::leak::report::FoundAt;
use patgate_core::record::TokenRecord;
use patgate_core::session::SessionKey;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;

use super::audit::AuditAction;
use crate::store::{LedgerStorage, StoreError};

pub const TOKEN_PREFIX: &str = "token:";
pub const SESSION_PREFIX: &str = "session:";
pub const AUDIT_PREFIX: &str = "audit:";
pub const AUDIT_SEQUENCE_KEY: &str = "audit-sequence";
pub const ACCOUNT_KEY: &str = "account";
pub const SYNC_PREFIX: &str = "sync:";
pub const EXPOSURE_PREFIX: &str = "exposure:";

pub fn token_key(token_id: &TokenId) -> String {
    format!("{TOKEN_PREFIX}{}", token_id.as_str())
}

pub fn session_key(session: &SessionKey) -> String {
    format!("{SESSION_PREFIX}{}", session.as_str())
}

/// The marker that KV's record for `key` may not match the ledger yet (see `propagation`).
pub fn sync_key(key: &StorageKey) -> String {
    format!("{SYNC_PREFIX}{key}")
}

pub fn exposure_key(key: &StorageKey) -> String {
    format!("{EXPOSURE_PREFIX}{key}")
}

pub fn audit_key(sequence: u64) -> String {
    // Zero-padded so that key order is sequence order.
    format!("{AUDIT_PREFIX}{sequence:020}")
}

/// What the ledger keeps per token. The hash is kept so the KV record can be found again; the
/// plaintext never is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub token_id: TokenId,
    pub storage_key: StorageKey,
    pub hint: String,
    pub name: TokenName,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub last_used_from: Option<String>,
}

impl TokenEntry {
    /// The KV validation record that matches this entry.
    pub fn record(&self, user_id: &UserId, email: &Email) -> TokenRecord {
        TokenRecord::new(
            self.token_id.clone(),
            user_id.clone(),
            email.clone(),
            self.name.clone(),
            self.created_at,
            self.expires_at,
        )
    }
}

/// Who the ledger belongs to, beyond the object's name: validation records carry the email,
/// and the ledger writes them when no session is at hand (reconciling, answering lookups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccount {
    pub email: Email,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAuditEvent {
    pub at: Timestamp,
    pub action: AuditAction,
    pub token_id: Option<TokenId>,
    pub token_name: Option<String>,
    pub detail: Option<String>,
}

/// How a token came to be revoked for exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureCause {
    /// A secret scanner found it in public, and reported it with a verified signature.
    SecretScanning(FoundAt),
    /// Someone holding it asked for its revocation (`POST /auth/v1/revoke`).
    Holder,
}

/// A token revoked because it was exposed. It outlives the token: the owner is told at their
/// next sign-in until they dismiss it, and a later report of the same token is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredExposure {
    pub token_id: TokenId,
    pub token_name: TokenName,
    pub hint: String,
    pub cause: ExposureCause,
    pub revoked_at: Timestamp,
    pub dismissed: bool,
}

/// A value read from storage together with its stored text, so that a change to it can be
/// undone byte for byte.
#[derive(Debug, Clone)]
pub struct Loaded<V> {
    pub key: String,
    pub raw: String,
    pub value: V,
}

pub fn encode<V: Serialize>(value: &V) -> String {
    #[allow(clippy::expect_used)]
    // Invariant: the stored types are plain structs of strings, integers and enums with string
    // keys, which serde_json always serializes.
    serde_json::to_string(value).expect("stored ledger types always serialize")
}

pub fn decode<V: DeserializeOwned>(key: &str, json: &str) -> Result<V, StoreError> {
    patgate_core::json::from_text(json)
        .map_err(|e| StoreError(format!("unreadable ledger entry {key}: {e}")))
}

/// Reads and decodes one entry, keeping its stored text.
pub async fn load<V: DeserializeOwned>(
    storage: &impl LedgerStorage,
    key: String,
) -> Result<Option<Loaded<V>>, StoreError> {
    let Some(raw) = storage.get(&key).await? else {
        return Ok(None);
    };
    let value = decode(&key, &raw)?;
    Ok(Some(Loaded { key, raw, value }))
}
