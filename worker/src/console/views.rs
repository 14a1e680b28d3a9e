//! The console API's public JSON (README, "Console API"). These types are the contract with
//! the web console and any script; they are built from the ledger's replies and change only
//! with the documentation.

use serde::Serialize;

use patgate_core::time::Timestamp;

use crate::ledger::audit::AuditAction;
use crate::ledger::protocol::{
    Account, AuditEvent, CreatedToken, ExposureCause, Notice, TokenSummary,
};

/// An instant as RFC 3339 (`2026-11-23T10:00:00Z`).
fn rfc3339(at: Timestamp) -> String {
    at.to_string()
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
}

impl From<Account> for UserView {
    fn from(account: Account) -> Self {
        Self {
            id: account.user_id.as_str().to_owned(),
            email: account.email.as_str().to_owned(),
        }
    }
}

/// `{"user": …}`, the answer of `/me` and of sign-in.
#[derive(Debug, Serialize)]
pub struct UserEnvelope {
    pub user: UserView,
}

#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_from: Option<String>,
}

impl From<TokenSummary> for TokenView {
    fn from(token: TokenSummary) -> Self {
        Self {
            id: token.id.as_str().to_owned(),
            name: token.name.as_str().to_owned(),
            hint: token.hint,
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
            last_used_at: token.last_used_at.map(rfc3339),
            last_used_from: token.last_used_from,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A token just created: its view plus the secret, shown this once.
#[derive(Serialize)]
pub struct CreatedTokenView {
    #[serde(flatten)]
    pub view: TokenView,
    pub token: String,
}

impl From<CreatedToken> for CreatedTokenView {
    fn from(created: CreatedToken) -> Self {
        Self {
            view: created.token.into(),
            token: created.plaintext,
        }
    }
}

impl std::fmt::Debug for CreatedTokenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenView")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

/// The answer of revoke-all: how many tokens there were.
#[derive(Debug, Serialize)]
pub struct RevokedTokens {
    pub revoked: usize,
}

#[derive(Debug, Serialize)]
pub struct AuditEventView {
    pub at: String,
    pub action: AuditAction,
    pub token_id: Option<String>,
    pub token_name: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            at: rfc3339(event.at),
            action: event.action,
            token_id: event.token_id.map(|id| id.as_str().to_owned()),
            token_name: event.token_name,
            detail: event.detail,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditList {
    pub events: Vec<AuditEventView>,
}

/// A token revoked because it was exposed, for the banner at sign-in.
#[derive(Debug, Serialize)]
pub struct NoticeView {
    pub token_id: String,
    pub token_name: String,
    pub token_hint: String,
    /// `secret_scanning` (found in public by a scanner) or `holder` (revoked by someone who
    /// had it).
    pub cause: &'static str,
    /// Where the scanner found it (`commit`, `npm`, …), for `secret_scanning`.
    pub source: Option<String>,
    pub url: Option<String>,
    pub revoked_at: String,
}

impl From<Notice> for NoticeView {
    fn from(notice: Notice) -> Self {
        let (cause, source, url) = match notice.cause {
            ExposureCause::SecretScanning(found) => {
                ("secret_scanning", Some(found.source), found.url)
            }
            ExposureCause::Holder => ("holder", None, None),
        };
        Self {
            token_id: notice.token_id.as_str().to_owned(),
            token_name: notice.token_name.as_str().to_owned(),
            token_hint: notice.hint,
            cause,
            source,
            url,
            revoked_at: rfc3339(notice.revoked_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct NoticeList {
    pub notices: Vec<NoticeView>,
}

/// `GET /console/auth/methods`: how this deployment lets people sign in.
#[derive(Debug, Serialize)]
pub struct SignInMethods {
    /// The identity provider, unless sign-in with it is not configured.
    pub provider: Option<ProviderView>,
    /// Whether development sign-in (`POST /console/auth/dev-login`) is enabled.
    pub development: bool,
}

#[derive(Debug, Serialize)]
pub struct ProviderView {
    pub name: String,
    /// Where the browser goes to sign in (add `?return_to=/console/…` to come back there).
    pub login_url: &'static str,
}
