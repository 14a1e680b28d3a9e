//! The platform's admin API: `POST /auth/v1/admin/users/{user_id}/revoke-all`, for when the
//! platform disables an account. Tokens act with their owner's permissions, so they stop with
//! the account; its console sessions end too, so that it cannot make new ones.
//!
//! The credential is `ADMIN_API_SECRET` as a Bearer credential, compared in constant time. It
//! is never a personal access token: a credential that starts with `pat_` is refused with 403
//! before any comparison (the configuration refuses such a secret).

use patgate_core::admin::{credential_matches, revoke_all_request};
use patgate_core::bearer::bearer_credential;
use patgate_core::identity::UserId;
use patgate_core::token::PREFIX;
use serde::Serialize;

use crate::config::{AdminSecret, Config};
use crate::console::body::{self, BodySource};
use crate::error::ApiError;
use crate::http::Reply;
use crate::ledger::client::{LedgerClient, LedgerTransport};
use crate::ledger::protocol::{PlatformRevocation, RevokeAllForPlatform};

/// Whether `authorization` carries the admin secret.
pub fn check_credential(authorization: Option<&str>, secret: &AdminSecret) -> Result<(), ApiError> {
    let credential =
        bearer_credential(authorization).map_err(|_| ApiError::AdminCredentialRefused)?;
    if credential.starts_with(PREFIX) {
        return Err(ApiError::TokenNotAdmin);
    }
    if !credential_matches(credential, secret.as_str()) {
        return Err(ApiError::AdminCredentialRefused);
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct PlatformRevocationView {
    revoked: usize,
    sessions_ended: usize,
}

/// Checks the credential, then revokes every token and session of the user in the path.
pub async fn revoke_all<T: LedgerTransport>(
    config: &Config,
    authorization: Option<&str>,
    raw_user_id: &str,
    body: impl BodySource,
    ledger: &LedgerClient<T>,
) -> Result<Reply, ApiError> {
    let secret = config
        .admin
        .as_ref()
        .map_err(|_| ApiError::Misconfigured("the admin API is not configured"))?;
    check_credential(authorization, secret)?;
    // A malformed id names nobody: the same 404 as any unknown path.
    let user_id = UserId::parse(raw_user_id).ok_or(ApiError::NotFound)?;
    let request = revoke_all_request(&body::read_text(body).await?)?;
    let command = RevokeAllForPlatform {
        requested_by: request.requested_by,
        reason: request.reason,
    };
    let PlatformRevocation {
        revoked,
        sessions_ended,
    } = ledger.call(&user_id, command).await?;
    Reply::json(
        200,
        &PlatformRevocationView {
            revoked,
            sessions_ended,
        },
    )
}
