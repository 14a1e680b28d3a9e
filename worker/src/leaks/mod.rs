//! Leaked tokens stop working on their own: a secret scanner's signed report
//! (`POST /auth/v1/leaks/github`, [`report`]) and self-service revocation by whoever holds a
//! token (`POST /auth/v1/revoke`, [`revoke_for_holder`]).
//!
//! Both find each token's owner from KV ([`ExposureIndex`]: the validation record names the
//! user, as the revocation authority's lookups use it; for a report, an exposure marker names
//! the owner of a token revoked earlier) and send one `RevokeExposed` command per owner. The
//! owner's ledger revokes through the path every deletion takes (announced to the feed,
//! committed, written to KV), so a reported token is refused everywhere within the revocation
//! bound of the mode in force.
//!
//! **KV operations:** an invocation may make at most 1,000. The Worker's share of a report is
//! two bulk reads per 100 tokens (records, then markers), whatever the tokens are; each
//! revoked token's KV writes (its record deleted, its exposure marker left) are made by its
//! owner's ledger, in the object's own invocation, where the per-user token limit bounds them.
//!
//! **KV staleness:** a token created seconds before it is reported, at another location, may
//! not be in the receiving location's KV yet (KV caches misses too). It is then unknown: a
//! false positive, not revoked. README ("Leaked tokens") states this.

pub mod keys;
pub mod report;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use futures_util::future::join_all;
use patgate_core::identity::UserId;
use patgate_core::leak::holder;
use patgate_core::record::StoredRecord;
use patgate_core::token::StorageKey;
use serde::Serialize;

use crate::console::body::{self, BodySource};
use crate::error::ApiError;
use crate::http::Reply;
use crate::ledger::client::{LedgerClient, LedgerTransport};
use crate::ledger::protocol::{ExposedToken, ExposureCause, ExposureOutcome, RevokeExposed};
use crate::log;
use crate::store::{ExposureIndex, StoreError};

/// Largest body of a self-service revocation: 1,000 tokens of 68 characters, quoted.
pub const MAX_HOLDER_BODY_BYTES: usize = 128 * 1024;

fn unavailable(error: StoreError) -> ApiError {
    log::error(&format!("leaked tokens: {error}"));
    ApiError::StoreUnavailable
}

/// The owners' ledgers, found through KV.
pub struct Exposures<'a, S, T> {
    pub index: &'a S,
    pub ledger: &'a LedgerClient<T>,
}

impl<S: ExposureIndex, T: LedgerTransport> Exposures<'_, S, T> {
    /// Who owns each key, as KV says: its validation record, and with `markers`, an exposure
    /// marker for a key without one.
    async fn owners(
        &self,
        keys: &[StorageKey],
        markers: bool,
    ) -> Result<HashMap<StorageKey, UserId>, ApiError> {
        let mut owners = HashMap::new();
        for (key, json) in self.index.records(keys).await.map_err(unavailable)? {
            let stored = StoredRecord::decode(key.clone(), &json).map_err(|error| {
                log::error(&format!("unusable record of a reported token: {error}"));
                ApiError::StoreUnavailable
            })?;
            owners.insert(key, stored.record().user_id.clone());
        }
        let unowned: Vec<StorageKey> = keys
            .iter()
            .filter(|key| !owners.contains_key(*key))
            .cloned()
            .collect();
        if markers && !unowned.is_empty() {
            owners.extend(
                self.index
                    .marked_owners(&unowned)
                    .await
                    .map_err(unavailable)?,
            );
        }
        Ok(owners)
    }

    /// Revokes every listed token whose owner KV names, one ledger command per owner, and
    /// returns what became of each (a token without a known owner is [`NotHeld`]). Each token
    /// revoked leaves an exposure marker, written by its owner's ledger. If any ledger cannot
    /// be reached, the answer is 503: what the others did stands, and a retry finds it done.
    ///
    /// [`NotHeld`]: ExposureOutcome::NotHeld
    pub async fn revoke(
        &self,
        tokens: Vec<ExposedToken>,
        markers: bool,
    ) -> Result<HashMap<StorageKey, ExposureOutcome>, ApiError> {
        let keys: Vec<StorageKey> = tokens.iter().map(|token| token.key.clone()).collect();
        let owners = self.owners(&keys, markers).await?;
        let mut outcomes = HashMap::new();
        let mut by_owner: Vec<(UserId, Vec<ExposedToken>)> = Vec::new();
        for token in tokens {
            let Some(owner) = owners.get(&token.key) else {
                outcomes.insert(token.key, ExposureOutcome::NotHeld);
                continue;
            };
            match by_owner.iter_mut().find(|(user, _)| user == owner) {
                Some((_, listed)) => listed.push(token),
                None => by_owner.push((owner.clone(), vec![token])),
            }
        }
        // The owners' ledgers live in different places: ask them all at once.
        let answers = join_all(by_owner.into_iter().map(|(owner, tokens)| async move {
            let keys: Vec<StorageKey> = tokens.iter().map(|token| token.key.clone()).collect();
            let answer = self.ledger.call(&owner, RevokeExposed { tokens }).await;
            (keys, answer)
        }))
        .await;
        let mut failure = None;
        for (keys, answer) in answers {
            let results = match answer {
                Ok(results) => results,
                Err(error) => {
                    failure = Some(error);
                    continue;
                }
            };
            outcomes.extend(keys.into_iter().zip(results));
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(outcomes),
        }
    }
}

/// The answer to a self-service revocation: the same whichever tokens existed.
#[derive(Debug, Serialize)]
struct HolderRevocationView {
    message: &'static str,
}

/// `POST /auth/v1/revoke`: revokes each listed token that is live, and answers 202 without
/// saying which were.
pub async fn revoke_for_holder<S: ExposureIndex, T: LedgerTransport>(
    body: impl BodySource,
    exposures: &Exposures<'_, S, T>,
) -> Result<Reply, ApiError> {
    let text = body::read_text_up_to(body, MAX_HOLDER_BODY_BYTES).await?;
    let tokens = holder::tokens_to_revoke(&text)?
        .into_iter()
        .map(|key| ExposedToken {
            key,
            cause: ExposureCause::Holder,
        })
        .collect();
    exposures.revoke(tokens, false).await?;
    let view = HolderRevocationView {
        message: "every listed token that was valid is revoked, and refused everywhere within \
                  the revocation bound",
    };
    Reply::json(202, &view)
}
