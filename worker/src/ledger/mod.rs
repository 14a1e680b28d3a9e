//! A user's token ledger: the logic of the per-user `UserLedger` Durable Object, written
//! against the storage ports so that it runs natively in tests with faults injected.
//!
//! - [`protocol`]: the commands and their typed replies; [`client`]: the Worker's side.
//! - [`schema`]: what is stored under which key; [`plan`]: a command's changes, committed once.
//! - [`sessions`], [`tokens`], [`audit`]: the logic, one concern each; [`exposure`]: tokens
//!   revoked because they were exposed, and the notices about them; [`account`]: revoking
//!   everything when the platform disables the account.
//! - [`propagation`]: keeping KV and the revocation feed in step, and the reconciling alarm.
//!
//! **Ordering invariant:** nothing stale says "valid" beyond the revocation bound. The ledger
//! is the source of truth and answers lookups from committed state. A change that could make
//! a valid answer stale is published to the revocation feed before the ledger commits it;
//! KV is written after the commit, and a `sync:` marker committed with the change stays until
//! KV has it (see [`propagation`]). A create whose KV write fails is undone, marker kept. The
//! Durable Object runs one command at a time, so concurrent commands cannot interleave between
//! those steps; lookups only read, and see each commit whole.

mod account;
pub mod audit;
pub mod client;
mod exposure;
pub mod plan;
pub mod propagation;
pub mod protocol;
pub mod schema;
mod sessions;
mod tokens;

#[cfg(test)]
mod tests;

use serde::Serialize;

use patgate_core::identity::UserId;
use patgate_core::time::Timestamp;

use crate::log;
use crate::revocation::FeedPublisher;
use crate::runtime::{Entropy, EntropyUnavailable, Sleep};
use crate::store::{LedgerStorage, StoreError, TokenStore};
use plan::Plan;
use protocol::{
    Call, Command, LedgerError, LedgerRequest, LookupReply, LookupRequest, UserAction, UserCall,
};

pub use tokens::{LAST_USED_INTERVAL_SECONDS, MAX_TOKENS_PER_USER};

impl From<StoreError> for LedgerError {
    fn from(error: StoreError) -> Self {
        log::error(&error.to_string());
        Self::Unavailable
    }
}

impl From<EntropyUnavailable> for LedgerError {
    fn from(error: EntropyUnavailable) -> Self {
        log::error(&error.to_string());
        Self::Unavailable
    }
}

/// The ports a ledger runs over: its storage, the KV records it writes, randomness, the
/// revocation feed it publishes to, and a way to wait between KV retries. Implemented by
/// whatever holds them (the Durable Object, the test fixtures).
pub trait LedgerPorts {
    type Storage: LedgerStorage;
    type Kv: TokenStore;
    type Entropy: Entropy;
    type Feed: FeedPublisher;
    type Sleep: Sleep;
}

/// One user's ledger over its ports.
pub struct Ledger<'a, P: LedgerPorts> {
    pub storage: &'a P::Storage,
    pub tokens: &'a P::Kv,
    pub entropy: &'a P::Entropy,
    pub feed: &'a P::Feed,
    pub sleep: &'a P::Sleep,
    pub user_id: &'a UserId,
}

/// The serialized answer to a command: `{"Ok": reply}` or `{"Err": error}`.
fn respond<C: Call>(outcome: Result<C::Reply, LedgerError>) -> String {
    serialize(&outcome)
}

fn respond_to_user<A: UserCall>(outcome: Result<A::Reply, LedgerError>) -> String {
    serialize(&outcome)
}

fn serialize<V: Serialize>(value: &V) -> String {
    #[allow(clippy::expect_used)]
    // Invariant: replies are plain data (strings, integers, enums, vectors of them).
    serde_json::to_string(value).expect("ledger replies always serialize")
}

impl<P: LedgerPorts> Ledger<'_, P> {
    /// Answers one serialized [`LookupRequest`] with a serialized [`LookupReply`].
    pub async fn lookup(&self, request_json: &str) -> String {
        let reply: LookupReply = match patgate_core::json::from_text::<LookupRequest>(request_json)
        {
            Ok(request) if &request.user_id == self.user_id => {
                self.current_record(request.lookup).await
            }
            Ok(_) => {
                log::error("ledger lookup for another user refused");
                Err(LedgerError::Unavailable)
            }
            Err(error) => {
                log::error(&format!("unreadable ledger lookup: {error}"));
                Err(LedgerError::Unavailable)
            }
        };
        serialize(&reply)
    }

    /// Runs one serialized [`LedgerRequest`] and returns the serialized reply.
    pub async fn handle(&self, request_json: &str, now: Timestamp) -> String {
        match patgate_core::json::from_text::<LedgerRequest>(request_json) {
            Ok(request) if &request.user_id == self.user_id => {
                self.execute(request.command, now).await
            }
            Ok(_) => {
                log::error("ledger request for another user refused");
                serialize(&Err::<(), _>(LedgerError::Unavailable))
            }
            Err(error) => {
                log::error(&format!("unreadable ledger request: {error}"));
                serialize(&Err::<(), _>(LedgerError::Unavailable))
            }
        }
    }

    async fn execute(&self, command: Command, now: Timestamp) -> String {
        match command {
            Command::AsUser { session, action } => {
                let mut plan = Plan::default();
                let account = match self.admit(&session, now, &mut plan).await {
                    Ok(account) => account,
                    Err(error) => return serialize(&Err::<(), _>(error)),
                };
                match action {
                    UserAction::Me(_) => {
                        respond_to_user::<protocol::Me>(self.commit(&plan).await.map(|()| account))
                    }
                    UserAction::ListTokens(_) => {
                        respond_to_user::<protocol::ListTokens>(self.list_tokens(plan).await)
                    }
                    UserAction::CreateToken(create) => respond_to_user::<protocol::CreateToken>(
                        self.create_token(&account, create, plan, now).await,
                    ),
                    UserAction::UpdateToken(update) => respond_to_user::<protocol::UpdateToken>(
                        self.update_token(&account, update, plan, now).await,
                    ),
                    UserAction::DeleteToken(delete) => respond_to_user::<protocol::DeleteToken>(
                        self.delete_token(delete, plan, now).await,
                    ),
                    UserAction::RevokeAllTokens(_) => respond_to_user::<protocol::RevokeAllTokens>(
                        self.revoke_all_tokens(plan, now).await,
                    ),
                    UserAction::RegenerateToken(regenerate) => {
                        respond_to_user::<protocol::RegenerateToken>(
                            self.regenerate_token(&account, regenerate, plan, now).await,
                        )
                    }
                    UserAction::Audit(_) => {
                        respond_to_user::<protocol::Audit>(self.audit(plan).await)
                    }
                    UserAction::Notices(_) => {
                        respond_to_user::<protocol::Notices>(self.notices(plan).await)
                    }
                    UserAction::DismissNotice(dismiss) => {
                        respond_to_user::<protocol::DismissNotice>(
                            self.dismiss_notice(dismiss, plan).await,
                        )
                    }
                }
            }
            Command::SignIn(sign_in) => {
                respond::<protocol::SignIn>(self.sign_in(sign_in, now).await)
            }
            Command::EndSession(end) => {
                respond::<protocol::EndSession>(self.end_session(end).await)
            }
            Command::SignOut(sign_out) => {
                respond::<protocol::SignOut>(self.sign_out(sign_out, now).await)
            }
            Command::RecordUse(used) => {
                respond::<protocol::RecordUse>(self.record_use(used, now).await)
            }
            Command::RevokeExposed(revoke) => {
                respond::<protocol::RevokeExposed>(self.revoke_exposed(revoke, now).await)
            }
            Command::RevokeAllForPlatform(request) => respond::<protocol::RevokeAllForPlatform>(
                self.revoke_all_for_platform(request, now).await,
            ),
        }
    }

    /// Commits a plan in one batch; an empty plan writes nothing.
    async fn commit(&self, plan: &Plan) -> Result<(), LedgerError> {
        if !plan.is_empty() {
            self.storage.commit(plan.batch()).await?;
        }
        Ok(())
    }

    async fn audit(&self, plan: Plan) -> Result<Vec<protocol::AuditEvent>, LedgerError> {
        self.commit(&plan).await?;
        Ok(audit::recent(self.storage).await?)
    }
}
