//! The Worker's typed client for users' ledgers. The transport (a Durable Object stub in
//! workerd, the ledger itself in native tests) only moves JSON; this side turns each command
//! into its typed reply, and every failure to get one into "unavailable" (503).

use patgate_core::identity::UserId;
use patgate_core::session::PresentedSession;

use super::protocol::{
    AsUser, Call, LedgerError, LedgerRequest, LookupReply, LookupRequest, LookupToken, UserCall,
};
use super::schema::encode;
use crate::error::ApiError;
use crate::log;
use crate::store::StoreError;

/// The ledger could not be reached or did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError(pub String);

/// Moves one serialized request to the ledger of `user_id` and its serialized reply back.
#[allow(async_fn_in_trait)]
pub trait LedgerTransport {
    /// A command, which the ledger runs after any command already under way.
    async fn send(&self, user_id: &UserId, request: String) -> Result<String, TransportError>;
    /// A [`LookupRequest`], which the ledger answers at once from committed state.
    async fn lookup(&self, user_id: &UserId, request: String) -> Result<String, TransportError>;
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::NotSignedIn => Self::NotSignedIn,
            LedgerError::NotFound => Self::NotFound,
            LedgerError::TokenLimitReached => Self::TokenLimitReached,
            LedgerError::Unavailable => Self::StoreUnavailable,
        }
    }
}

#[derive(Debug)]
pub struct LedgerClient<T> {
    transport: T,
}

impl<T: LedgerTransport> LedgerClient<T> {
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// Sends `call` to the ledger of `user_id` and returns its typed reply.
    pub async fn call<C: Call>(&self, user_id: &UserId, call: C) -> Result<C::Reply, ApiError> {
        let request = encode(&LedgerRequest {
            user_id: user_id.clone(),
            command: call.into(),
        });
        let reply =
            self.transport
                .send(user_id, request)
                .await
                .map_err(|TransportError(error)| {
                    log::error(&format!("ledger unreachable: {error}"));
                    ApiError::StoreUnavailable
                })?;
        let outcome: Result<C::Reply, LedgerError> = patgate_core::json::from_text(&reply)
            .map_err(|error| {
                log::error(&format!("unreadable ledger reply: {error}"));
                ApiError::StoreUnavailable
            })?;
        Ok(outcome?)
    }

    /// Asks the ledger of `user_id`, as the token's authority, for its current record. Any
    /// failure to get an answer is a storage failure: the caller fails closed.
    pub async fn lookup(
        &self,
        user_id: &UserId,
        lookup: LookupToken,
    ) -> Result<Option<String>, StoreError> {
        let request = encode(&LookupRequest {
            user_id: user_id.clone(),
            lookup,
        });
        let reply = self
            .transport
            .lookup(user_id, request)
            .await
            .map_err(|TransportError(error)| StoreError(format!("ledger unreachable: {error}")))?;
        let outcome: LookupReply = patgate_core::json::from_text(&reply)
            .map_err(|error| StoreError(format!("unreadable lookup reply: {error}")))?;
        outcome.map_err(|error| StoreError(format!("ledger lookup refused: {error:?}")))
    }

    /// Runs `action` in the ledger of the session's user, as that user.
    pub async fn as_user<A: UserCall>(
        &self,
        session: &PresentedSession,
        action: A,
    ) -> Result<A::Reply, ApiError> {
        let call = AsUser {
            session: session.key.clone(),
            action,
        };
        self.call(&session.user_id, call).await
    }
}
