//! The wire protocol between the Worker and a user's ledger (the `UserLedger` Durable Object).
//!
//! Every command is its own type, and [`Call::Reply`] names the one type its answer has: the
//! client's [`call`](super::client::LedgerClient::call) returns exactly that type, and the
//! ledger's handler for the command must produce it, so no caller ever matches on a reply it
//! cannot get. Commands that act for a signed-in user travel inside [`AsUser`], which carries
//! the session once; the ledger checks it before the action runs.
//!
//! These are internal types: the console's public JSON lives in `console::views`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use patgate_core::expiry::Expiry;
use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::session::SessionKey;
use patgate_core::time::Timestamp;
use patgate_core::token::StorageKey;

pub use super::schema::ExposureCause;
pub use super::schema::StoredAuditEvent as AuditEvent;

/// One request to the ledger of `user_id`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LedgerRequest {
    pub user_id: UserId,
    pub command: Command,
}

/// Externally tagged (`{"sign_in": {…}}`), as are [`UserAction`]s: an internally tagged enum
/// is read through serde's buffered `Content`, which cost 34 KiB of the Worker's wasm.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    AsUser {
        session: SessionKey,
        action: UserAction,
    },
    SignIn(SignIn),
    EndSession(EndSession),
    SignOut(SignOut),
    RecordUse(RecordUse),
    RevokeExposed(RevokeExposed),
    RevokeAllForPlatform(RevokeAllForPlatform),
}

/// What a signed-in user may ask of their own ledger.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAction {
    Me(Me),
    ListTokens(ListTokens),
    CreateToken(CreateToken),
    UpdateToken(UpdateToken),
    DeleteToken(DeleteToken),
    RevokeAllTokens(RevokeAllTokens),
    RegenerateToken(RegenerateToken),
    Audit(Audit),
    Notices(Notices),
    DismissNotice(DismissNotice),
}

/// Why the ledger refused or could not perform a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerError {
    NotSignedIn,
    NotFound,
    TokenLimitReached,
    Unavailable,
}

/// A command and the type of its answer.
pub trait Call: Into<Command> {
    type Reply: Serialize + DeserializeOwned;
}

/// An action of a signed-in user and the type of its answer.
pub trait UserCall: Into<UserAction> {
    type Reply: Serialize + DeserializeOwned;
}

/// Runs `action` for the holder of `session`.
#[derive(Debug)]
pub struct AsUser<A> {
    pub session: SessionKey,
    pub action: A,
}

impl<A: UserCall> From<AsUser<A>> for Command {
    fn from(call: AsUser<A>) -> Self {
        Self::AsUser {
            session: call.session,
            action: call.action.into(),
        }
    }
}

impl<A: UserCall> Call for AsUser<A> {
    type Reply = A::Reply;
}

/// Declares each command's wrapper variant and reply type in one line.
macro_rules! calls {
    ($($trait:ident: $enum:ident :: $variant:ident => $reply:ty;)*) => {$(
        impl From<$variant> for $enum {
            fn from(call: $variant) -> Self {
                Self::$variant(call)
            }
        }
        impl $trait for $variant {
            type Reply = $reply;
        }
    )*};
}

calls! {
    Call: Command::SignIn => ();
    Call: Command::EndSession => ();
    Call: Command::SignOut => ();
    Call: Command::RecordUse => ();
    Call: Command::RevokeExposed => Vec<ExposureOutcome>;
    Call: Command::RevokeAllForPlatform => PlatformRevocation;
    UserCall: UserAction::Me => Account;
    UserCall: UserAction::ListTokens => Vec<TokenSummary>;
    UserCall: UserAction::CreateToken => CreatedToken;
    UserCall: UserAction::UpdateToken => TokenSummary;
    UserCall: UserAction::DeleteToken => ();
    UserCall: UserAction::RevokeAllTokens => usize;
    UserCall: UserAction::RegenerateToken => CreatedToken;
    UserCall: UserAction::Audit => Vec<AuditEvent>;
    UserCall: UserAction::Notices => Vec<Notice>;
    UserCall: UserAction::DismissNotice => ();
}

/// Starts a session for a user whom a sign-in method has identified.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignIn {
    pub email: Email,
    pub session: SessionKey,
}

/// Ends a session without an audit event (a stale cookie replaced at sign-in).
#[derive(Debug, Serialize, Deserialize)]
pub struct EndSession {
    pub session: SessionKey,
}

/// Ends a session at the user's request. Ending an already-ended session is not an error.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignOut {
    pub session: SessionKey,
}

/// Notes that a token was used (best effort; at most once per interval).
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordUse {
    pub token_id: TokenId,
    /// Where it was used, e.g. "AMS, NL".
    pub from: Option<String>,
}

/// Revokes the user's tokens with these hashes, because they were exposed: a secret scanner
/// found them in public, or someone holding them asked. The reply says, per token in order,
/// what became of it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokeExposed {
    pub tokens: Vec<ExposedToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExposedToken {
    pub key: StorageKey,
    pub cause: ExposureCause,
}

/// What [`RevokeExposed`] did with one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureOutcome {
    /// It was live, and is now revoked.
    Revoked,
    /// It was revoked for exposure before (an earlier report, or its holder).
    RevokedBefore,
    /// The ledger holds no such live token (none, or one past its expiry), and never revoked
    /// one for exposure.
    NotHeld,
}

/// Revokes every token and ends every session of the user, at the platform's request (the
/// account was disabled, say). `requested_by` and `reason` go to the audit log.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokeAllForPlatform {
    pub requested_by: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformRevocation {
    pub revoked: usize,
    pub sessions_ended: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Me {}

/// The user's tokens, newest first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ListTokens {}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateToken {
    pub name: TokenName,
    pub expiry: Expiry,
}

/// Renames and/or re-dates a token; `None` keeps the current value. A new expiry counts
/// from now.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateToken {
    pub token_id: TokenId,
    pub name: Option<TokenName>,
    pub expiry: Option<Expiry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteToken {
    pub token_id: TokenId,
}

/// Deletes every token of the user at once; the reply is how many there were.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RevokeAllTokens {}

/// Gives a token a new secret and a new expiry (counted from now), keeping its id and name.
/// The old secret is refused within the revocation bound; the new one is in the reply only.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegenerateToken {
    pub token_id: TokenId,
    pub expiry: Expiry,
}

/// The newest audit events first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Audit {}

/// The tokens revoked for exposure whose notices the user has not dismissed, newest first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Notices {}

/// Dismisses the notice about the token with this id.
#[derive(Debug, Serialize, Deserialize)]
pub struct DismissNotice {
    pub token_id: TokenId,
}

/// A token revoked for exposure, as its owner is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub token_id: TokenId,
    pub token_name: TokenName,
    pub hint: String,
    pub cause: ExposureCause,
    pub revoked_at: Timestamp,
}

/// A question to the ledger of `user_id` as the authority on one of its tokens. Lookups
/// travel apart from commands: they only read committed state, so they never wait for a
/// command to finish.
#[derive(Debug, Serialize, Deserialize)]
pub struct LookupRequest {
    pub user_id: UserId,
    pub lookup: LookupToken,
}

/// The current validation record of the token with this id, if it exists and has this
/// hash. The reply is the record's JSON as KV would hold it, or `None`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LookupToken {
    pub token_id: TokenId,
    pub storage_key: StorageKey,
}

/// What [`LookupToken`] answers.
pub type LookupReply = Result<Option<String>, LedgerError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: UserId,
    pub email: Email,
}

/// A token as its owner may see it: never the secret, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub id: TokenId,
    pub name: TokenName,
    pub hint: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub last_used_from: Option<String>,
}

/// A new token and its secret, which leaves the ledger this once and is stored nowhere.
#[derive(Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: TokenSummary,
    pub plaintext: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, not even in a debug log.
        f.debug_struct("CreatedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
