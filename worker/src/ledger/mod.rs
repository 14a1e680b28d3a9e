//! A user's token ledger: the logic of the per-user `UserLedger` Durable Object, written
//! against the storage ports so that it runs natively in tests with faults injected.
//!
//! - [`protocol`]: the commands and their typed replies; [`client`]: the Worker's side.
//! - [`schema`]: what is stored under which key; [`plan`]: a command's changes, committed once.
//! - [`sessions`], [`tokens`], [`audit`]: the logic, one concern each.
//!
//! **Ordering invariant:** a KV validation record never exists without its ledger entry.
//! Create and update commit the ledger's plan, then write KV, and commit the plan's exact undo
//! if KV fails; delete removes the KV record, then commits the ledger's plan. The Durable Object
//! runs one command at a time, so concurrent requests cannot interleave between those steps.

pub mod audit;
pub mod client;
pub mod plan;
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
use crate::runtime::{Entropy, EntropyUnavailable};
use crate::store::{LedgerStorage, StoreError, TokenStore};
use plan::Plan;
use protocol::{Call, Command, LedgerError, LedgerRequest, UserAction, UserCall};

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

/// One user's ledger over its ports.
pub struct Ledger<'a, L, T, E> {
    pub storage: &'a L,
    pub tokens: &'a T,
    pub entropy: &'a E,
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

impl<L: LedgerStorage, T: TokenStore, E: Entropy> Ledger<'_, L, T, E> {
    /// Runs one serialized [`LedgerRequest`] and returns the serialized reply.
    pub async fn handle(&self, request_json: &str, now: Timestamp) -> String {
        match serde_json::from_str::<LedgerRequest>(request_json) {
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
                    UserAction::Audit(_) => {
                        respond_to_user::<protocol::Audit>(self.audit(plan).await)
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
