//! Edge validation: from an `Authorization` header to an authenticated principal.
//!
//! **Architecture invariant:** a malformed or mistyped token is rejected before any storage
//! read, and a well-formed one costs exactly one KV read; whether KV's record may be trusted
//! is then [`Revocation`]'s decision (in fast mode, an in-memory check for most tokens). A
//! storage failure is never an authentication answer: it becomes 503.

use patgate_core::bearer::{bearer_credential, AuthorizationError};
use patgate_core::record::StoredRecord;
use patgate_core::token::UntrustedToken;
use patgate_core::verify::{verify, Principal};

use crate::error::ApiError;
use crate::log;
use crate::revocation::Revocation;
use crate::runtime::UnixMillis;
use crate::store::TokenStore;

/// The token an `Authorization` header presents, if it is well-formed: decided without any
/// I/O, so a malformed or mistyped token is answered before storage is touched.
pub fn presented(authorization: Option<&str>) -> Result<UntrustedToken<'_>, ApiError> {
    let credential = bearer_credential(authorization).map_err(|error| match error {
        AuthorizationError::Missing | AuthorizationError::OtherScheme => ApiError::BearerRequired,
        AuthorizationError::Malformed(_) => ApiError::InvalidAuthorization(error),
    })?;
    UntrustedToken::parse(credential).map_err(|_| ApiError::InvalidToken)
}

/// From an `Authorization` header to a principal: [`presented`], then [`authenticate_token`].
/// The Worker calls the two halves itself (`platform::edge`), so that a refusal needs no I/O
/// and no promise; the tests and the simulation drive them together.
#[cfg(test)]
pub async fn authenticate<S: TokenStore, R: Revocation>(
    authorization: Option<&str>,
    store: &S,
    revocation: &R,
    now: UnixMillis,
) -> Result<Principal, ApiError> {
    authenticate_token(presented(authorization)?, store, revocation, now).await
}

/// A well-formed token's one KV read, the revocation check and the verification.
pub async fn authenticate_token<S: TokenStore, R: Revocation>(
    token: UntrustedToken<'_>,
    store: &S,
    revocation: &R,
    now: UnixMillis,
) -> Result<Principal, ApiError> {
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
    let Some(current) = revocation.confirm(stored, now).await? else {
        return Err(ApiError::InvalidToken);
    };
    verify(token, current, now.timestamp()).map_err(|_| ApiError::InvalidToken)
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use futures_executor::block_on;
    use patgate_core::bearer::MalformedReason;
    use patgate_core::identity::{TokenId, UserId};
    use patgate_core::test_support::record;
    use patgate_core::token::StorageKey;

    use super::*;
    use crate::revocation::feed::{FeedCopy, HashPrefix, Snapshot};
    use crate::revocation::{Authority, FeedSource, Gate, RevocationMode, FEED_MAX_AGE_MS};
    use crate::store::memory::{Faults, MemoryTokenStore};
    use crate::store::StoreError;
    use crate::testing::{at_millis, token, START};

    const NOW: u64 = START + 10;

    fn now() -> UnixMillis {
        at_millis(10)
    }

    /// An authority with a set answer, counting the questions.
    #[derive(Default)]
    struct Authorities {
        asked: Cell<usize>,
        answer: RefCell<Option<Result<Option<String>, StoreError>>>,
    }

    impl Authority for Authorities {
        async fn current_record(
            &self,
            _: &UserId,
            _: &TokenId,
            _: &StorageKey,
        ) -> Result<Option<String>, StoreError> {
            self.asked.set(self.asked.get() + 1);
            self.answer
                .borrow()
                .clone()
                .expect("the test did not expect the authority to be asked")
        }
    }

    /// A feed source with a set answer, counting the fetches.
    #[derive(Default)]
    struct Sources {
        fetched: Cell<usize>,
        answer: RefCell<Option<Snapshot>>,
    }

    impl FeedSource for Sources {
        async fn fetch(&self) -> Result<Snapshot, StoreError> {
            self.fetched.set(self.fetched.get() + 1);
            self.answer
                .borrow()
                .clone()
                .ok_or_else(|| StoreError("injected: feed unreachable".into()))
        }
    }

    fn snapshot(as_of: UnixMillis, listed: &[&StorageKey]) -> Snapshot {
        Snapshot {
            as_of,
            prefixes: listed.iter().map(|key| HashPrefix::of(key)).collect(),
        }
    }

    /// An isolate's world: KV, its copy of the feed, the feed's source and the authority.
    #[derive(Default)]
    struct Isolate {
        store: MemoryTokenStore,
        feed: FeedCopy,
        source: Sources,
        authority: Authorities,
    }

    impl Isolate {
        /// An isolate with a fresh, empty feed copy and one token in KV.
        fn with_token(expires_at: Option<u64>) -> (Self, String) {
            let isolate = Self::default();
            let token = token();
            isolate
                .store
                .records
                .borrow_mut()
                .insert(token.storage_key().to_string(), record(expires_at).encode());
            isolate.feed.refresh_done(now(), Some(snapshot(now(), &[])));
            (isolate, format!("Bearer {}", token.as_str()))
        }

        fn list_token(&self) {
            let key = token().storage_key();
            let later = now().saturating_add(1);
            self.feed
                .refresh_done(later, Some(snapshot(later, &[&key])));
        }

        fn check_in(
            &self,
            mode: RevocationMode,
            header: Option<&str>,
        ) -> Result<Principal, ApiError> {
            let gate = Gate {
                mode,
                feed: &self.feed,
                source: &self.source,
                authority: &self.authority,
            };
            block_on(authenticate(header, &self.store, &gate, now()))
        }

        fn check(&self, header: Option<&str>) -> Result<Principal, ApiError> {
            self.check_in(RevocationMode::Fast, header)
        }

        fn authority_answers(&self, answer: Result<Option<String>, StoreError>) {
            *self.authority.answer.borrow_mut() = Some(answer);
        }
    }

    #[test]
    fn a_valid_token_costs_one_read_and_an_in_memory_check() {
        let (isolate, header) = Isolate::with_token(None);
        let principal = isolate.check(Some(&header)).unwrap();
        assert_eq!(principal.token_name().as_str(), "CI");
        assert_eq!(isolate.store.reads.get(), 1);
        assert_eq!(isolate.authority.asked.get(), 0);
        assert_eq!(isolate.source.fetched.get(), 0);
    }

    #[test]
    fn malformed_and_mistyped_tokens_cost_no_read() {
        let (isolate, header) = Isolate::with_token(None);
        let mistyped = header.replacen("pat_g", "pat_h", 1);
        assert_ne!(mistyped, header);
        for bad in [
            mistyped.as_str(),
            "Bearer pat_short",
            "Bearer ghp_abc",
            "Basic abc",
            "Bearer  x",
        ] {
            assert!(isolate.check(Some(bad)).is_err());
            assert!(isolate.check_in(RevocationMode::Strict, Some(bad)).is_err());
        }
        assert_eq!(isolate.check(Some(&mistyped)), Err(ApiError::InvalidToken));
        assert_eq!(isolate.check(None), Err(ApiError::BearerRequired));
        assert_eq!(
            isolate.check(Some("Bearer ")),
            Err(ApiError::InvalidAuthorization(
                AuthorizationError::Malformed(MalformedReason::Empty)
            ))
        );
        assert_eq!(isolate.store.reads.get(), 0);
        assert_eq!(isolate.authority.asked.get(), 0);
        // The same refusals without a store at all: what the Worker answers with no promise.
        assert_eq!(
            presented(Some(&mistyped)).err(),
            Some(ApiError::InvalidToken)
        );
        assert_eq!(presented(None).err(), Some(ApiError::BearerRequired));
        assert!(presented(Some(&header)).is_ok());
    }

    #[test]
    fn unknown_and_expired_tokens_are_invalid() {
        let (isolate, header) = Isolate::with_token(Some(NOW));
        assert_eq!(isolate.check(Some(&header)), Err(ApiError::InvalidToken));
        isolate.store.records.borrow_mut().clear();
        assert_eq!(isolate.check(Some(&header)), Err(ApiError::InvalidToken));
        // A KV miss is refused without asking anyone, in either mode.
        assert_eq!(
            isolate.check_in(RevocationMode::Strict, Some(&header)),
            Err(ApiError::InvalidToken)
        );
        assert_eq!(isolate.authority.asked.get(), 0);
        let (live, header) = Isolate::with_token(Some(NOW + 1));
        assert!(live.check(Some(&header)).is_ok());
    }

    #[test]
    fn a_failing_or_corrupt_store_is_503_never_401() {
        let (isolate, header) = Isolate::with_token(None);
        isolate.store.faults.set(Faults {
            get: true,
            ..Faults::default()
        });
        assert_eq!(
            isolate.check(Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
        let (corrupt, header) = Isolate::with_token(None);
        for value in corrupt.store.records.borrow_mut().values_mut() {
            *value = value.replacen("\"v\":1", "\"v\":9", 1);
        }
        assert_eq!(
            corrupt.check(Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
    }

    #[test]
    fn a_token_on_the_feed_is_decided_by_the_authority() {
        let (isolate, header) = Isolate::with_token(None);
        isolate.list_token();
        let renamed = record(None).encode().replacen("\"CI\"", "\"deploy\"", 1);
        isolate.authority_answers(Ok(Some(renamed)));
        let principal = isolate.check(Some(&header)).unwrap();
        assert_eq!(principal.token_name().as_str(), "deploy");
        // Deleted at the authority, still in KV: refused.
        isolate.authority_answers(Ok(None));
        assert_eq!(isolate.check(Some(&header)), Err(ApiError::InvalidToken));
        // Expired by the authority's record, whatever KV says.
        isolate.authority_answers(Ok(Some(record(Some(NOW)).encode())));
        assert_eq!(isolate.check(Some(&header)), Err(ApiError::InvalidToken));
        // An unreachable authority or an unreadable answer is 503, never KV's word.
        isolate.authority_answers(Err(StoreError("down".into())));
        assert_eq!(
            isolate.check(Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
        isolate.authority_answers(Ok(Some("{\"v\":9}".into())));
        assert_eq!(
            isolate.check(Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
        assert_eq!(isolate.authority.asked.get(), 5);
    }

    #[test]
    fn strict_mode_asks_the_authority_for_every_token() {
        let (isolate, header) = Isolate::with_token(None);
        isolate.authority_answers(Ok(Some(record(None).encode())));
        assert!(isolate
            .check_in(RevocationMode::Strict, Some(&header))
            .is_ok());
        isolate.authority_answers(Ok(None));
        assert_eq!(
            isolate.check_in(RevocationMode::Strict, Some(&header)),
            Err(ApiError::InvalidToken)
        );
        assert_eq!(isolate.authority.asked.get(), 2);
        assert_eq!(isolate.source.fetched.get(), 0, "strict mode needs no feed");
    }

    #[test]
    fn an_old_copy_is_refreshed_first_and_without_a_feed_the_authority_decides() {
        let (isolate, header) = Isolate::with_token(None);
        let old = UnixMillis(now().0 - FEED_MAX_AGE_MS - 1);
        let isolate = Isolate {
            feed: FeedCopy::default(),
            ..isolate
        };
        isolate.feed.refresh_done(old, Some(snapshot(old, &[])));
        // The feed answers: its fresh copy vouches for KV.
        *isolate.source.answer.borrow_mut() = Some(snapshot(now(), &[]));
        assert!(isolate.check(Some(&header)).is_ok());
        assert_eq!(
            (isolate.source.fetched.get(), isolate.authority.asked.get()),
            (1, 0)
        );

        // The feed is down and the copy too old: the authority decides, and if it is down
        // too, 503. KV alone never says yes.
        let (isolate, header) = Isolate::with_token(None);
        let isolate = Isolate {
            feed: FeedCopy::default(),
            ..isolate
        };
        isolate.authority_answers(Ok(Some(record(None).encode())));
        assert!(isolate.check(Some(&header)).is_ok());
        isolate.authority_answers(Err(StoreError("down".into())));
        assert_eq!(
            isolate.check(Some(&header)),
            Err(ApiError::StoreUnavailable)
        );
        assert_eq!(
            isolate.source.fetched.get(),
            1,
            "one attempt, then backing off"
        );
    }
}
