//! Edge validation: from an `Authorization` header to an authenticated principal.
//!
//! **Architecture invariant:** a malformed or mistyped token is rejected before any storage
//! read, and a well-formed one costs exactly one read. A storage failure is never an
//! authentication answer: it becomes 503.

use patgate_core::bearer::{bearer_credential, AuthorizationError};
use patgate_core::record::StoredRecord;
use patgate_core::time::Timestamp;
use patgate_core::token::UntrustedToken;
use patgate_core::verify::{verify, Principal};

use crate::error::ApiError;
use crate::log;
use crate::store::TokenStore;

/// Whether `authenticate` reads the store for this header: only for a well-formed token.
pub fn looks_up(authorization: Option<&str>) -> bool {
    bearer_credential(authorization)
        .is_ok_and(|credential| UntrustedToken::parse(credential).is_ok())
}

pub async fn authenticate<S: TokenStore>(
    authorization: Option<&str>,
    store: &S,
    now: Timestamp,
) -> Result<Principal, ApiError> {
    let credential = bearer_credential(authorization).map_err(|error| match error {
        AuthorizationError::Missing | AuthorizationError::OtherScheme => ApiError::BearerRequired,
        AuthorizationError::Malformed(_) => ApiError::InvalidAuthorization(error),
    })?;
    let token = UntrustedToken::parse(credential).map_err(|_| ApiError::InvalidToken)?;
    let key = token.storage_key();
    let stored = store.get(key).await.map_err(|error| {
        log::error(&format!(
            "token lookup failed for {}…: {error}",
            token.hint()
        ));
        ApiError::StoreUnavailable
    })?;
    let Some(json) = stored else {
        return Err(ApiError::InvalidToken);
    };
    let stored = StoredRecord::decode(key.clone(), &json).map_err(|error| {
        log::error(&format!("unusable record for {}…: {error}", token.hint()));
        ApiError::StoreUnavailable
    })?;
    verify(token, stored, now).map_err(|_| ApiError::InvalidToken)
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use patgate_core::bearer::MalformedReason;

    use super::*;
    use crate::store::memory::{Faults, MemoryTokenStore};
    use crate::testing::{at, token, START};
    use patgate_core::test_support::record;

    const NOW: u64 = START + 10;

    fn now() -> Timestamp {
        at(10)
    }

    /// A store holding one token, and that token's Authorization header.
    fn store_with_token(expires_at: Option<u64>) -> (MemoryTokenStore, String) {
        let token = token();
        let store = MemoryTokenStore::default();
        store
            .records
            .borrow_mut()
            .insert(token.storage_key().to_string(), record(expires_at).encode());
        (store, format!("Bearer {}", token.as_str()))
    }

    fn check(store: &MemoryTokenStore, header: Option<&str>) -> Result<Principal, ApiError> {
        block_on(authenticate(header, store, now()))
    }

    #[test]
    fn a_valid_token_costs_exactly_one_read() {
        let (store, header) = store_with_token(None);
        let principal = check(&store, Some(&header)).unwrap();
        assert_eq!(principal.token_name().as_str(), "CI");
        assert_eq!(store.reads.get(), 1);
    }

    #[test]
    fn malformed_and_mistyped_tokens_cost_no_read() {
        let (store, header) = store_with_token(None);
        let mistyped = header.replacen("pat_g", "pat_h", 1);
        assert_ne!(mistyped, header);
        for bad in [
            mistyped.as_str(),
            "Bearer pat_short",
            "Bearer ghp_abc",
            "Basic abc",
            "Bearer  x",
        ] {
            assert!(check(&store, Some(bad)).is_err());
        }
        assert_eq!(check(&store, Some(&mistyped)), Err(ApiError::InvalidToken));
        assert_eq!(check(&store, None), Err(ApiError::BearerRequired));
        assert_eq!(
            check(&store, Some("Bearer ")),
            Err(ApiError::InvalidAuthorization(
                AuthorizationError::Malformed(MalformedReason::Empty)
            ))
        );
        assert_eq!(store.reads.get(), 0);
        assert!(!looks_up(Some(&mistyped)) && !looks_up(None) && !looks_up(Some("Bearer ")));
        assert!(looks_up(Some(&header)));
    }

    #[test]
    fn unknown_and_expired_tokens_are_invalid() {
        let (store, _) = store_with_token(Some(NOW));
        let (_, other) = store_with_token(None);
        store.records.borrow_mut().clear();
        assert_eq!(check(&store, Some(&other)), Err(ApiError::InvalidToken));
        let (expired_store, expired) = store_with_token(Some(NOW));
        assert_eq!(
            check(&expired_store, Some(&expired)),
            Err(ApiError::InvalidToken)
        );
        let (live_store, live) = store_with_token(Some(NOW + 1));
        assert!(check(&live_store, Some(&live)).is_ok());
    }

    #[test]
    fn a_failing_or_corrupt_store_is_503_never_401() {
        let (store, header) = store_with_token(None);
        store.faults.set(Faults {
            get: true,
            ..Faults::default()
        });
        assert_eq!(
            check(&store, Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
        let (corrupt, header) = store_with_token(None);
        for value in corrupt.records.borrow_mut().values_mut() {
            *value = value.replacen("\"v\":1", "\"v\":9", 1);
        }
        assert_eq!(
            check(&corrupt, Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
    }
}
