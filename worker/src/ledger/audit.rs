//! The audit log: events appended under increasing sequence numbers, of which the newest
//! [`AUDIT_RETENTION`] are kept. Appending is planned like every other change: the new events,
//! the sequence, and the removal of events that fall out of retention commit together.

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::schema::{
    audit_key, decode, encode, load, StoredAuditEvent, AUDIT_PREFIX, AUDIT_SEQUENCE_KEY,
};
use crate::store::{LedgerStorage, StoreError};

/// Audit events kept per user; older ones are dropped.
pub const AUDIT_RETENTION: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Renamed,
    ExpiryChanged,
    Deleted,
    RevokedAll,
    /// A new secret for the same token; the old one is refused within the revocation bound.
    Regenerated,
    /// Revoked automatically: a secret scanner reported it found in public.
    RevokedLeaked,
    /// Revoked by someone who holds it (`POST /auth/v1/revoke`).
    RevokedByHolder,
    /// Every token revoked and every session ended at the platform's request (the admin API).
    RevokedAllByPlatform,
    SignedIn,
    SignedOut,
}

/// Adds `events` to `plan`, in order, after the last recorded one.
pub async fn append(
    storage: &impl LedgerStorage,
    plan: &mut Plan,
    events: Vec<StoredAuditEvent>,
) -> Result<(), StoreError> {
    let stored_sequence = load::<u64>(storage, AUDIT_SEQUENCE_KEY.to_owned()).await?;
    let before = stored_sequence.as_ref().map(|loaded| loaded.raw.clone());
    let mut sequence = stored_sequence.map_or(0, |loaded| loaded.value);
    for event in events {
        sequence += 1;
        // Lossless: usize is at most 64 bits on every target the Worker builds for.
        let retention = AUDIT_RETENTION as u64;
        if let Some(expired) = sequence.checked_sub(retention).filter(|&s| s > 0) {
            let key = audit_key(expired);
            // Read the event being dropped, so that an undo can bring it back.
            if let Some(raw) = storage.get(&key).await? {
                plan.delete(key, raw);
            }
        }
        plan.put(audit_key(sequence), encode(&event), None);
    }
    plan.put(AUDIT_SEQUENCE_KEY.to_owned(), sequence.to_string(), before);
    Ok(())
}

/// The newest events first, at most [`AUDIT_RETENTION`].
pub async fn recent(storage: &impl LedgerStorage) -> Result<Vec<StoredAuditEvent>, StoreError> {
    storage
        .list(AUDIT_PREFIX, true, AUDIT_RETENTION)
        .await?
        .into_iter()
        .map(|(key, json)| decode(&key, &json))
        .collect()
}
