//! The routes for leaked tokens and the account lifecycle in workerd: secret-scanning reports,
//! self-service revocation and the admin API's revoke-all. Each reads its request here and
//! hands it to the logic in `leaks` and `admin`; the scanner's keys are cached per isolate.

use std::rc::Rc;

use worker::{Env, Request};

use super::body::WorkerBody;
use super::kv::KvTokenStore;
use super::limiter::WorkersRateLimiter;
use super::provider::{FetchProvider, WebCryptoVerifier};
use super::{client_key, config, ledger};
use crate::admin;
use crate::console::body::BodySource;
use crate::error::ApiError;
use crate::http::Reply;
use crate::leaks::keys::ScannerKeyCache;
use crate::leaks::report::{self, SignedReport, KEY_IDENTIFIER_HEADER, SIGNATURE_HEADER};
use crate::leaks::{self, Exposures};
use crate::limits::{self, Limit};
use crate::runtime::{Clock, SystemClock};

thread_local! {
    /// The scanner's signing keys, kept for the isolate's lifetime (see `leaks::keys`).
    static SCANNER_KEYS: Rc<ScannerKeyCache<FetchProvider>> =
        Rc::new(ScannerKeyCache::new(FetchProvider));
}

/// `POST /auth/v1/revoke`, counted against the client's limit before any work.
pub async fn holder_revocation(req: Request, env: &Env) -> Result<Reply, ApiError> {
    let limiter = WorkersRateLimiter(env);
    limits::count(&limiter, Limit::Revoke, &client_key(&req.inner().headers())).await?;
    let ledger = ledger(env);
    let exposures = Exposures {
        index: &KvTokenStore::new(env),
        ledger: &ledger,
    };
    leaks::revoke_for_holder(WorkerBody(req), &exposures).await
}

/// `POST /auth/v1/leaks/github`. A refused signature counts against the sender's address; a
/// verified report never does.
pub async fn leak_report(req: Request, env: &Env) -> Result<Reply, ApiError> {
    let config = config(env);
    let settings = config
        .leak_reports
        .as_ref()
        .map_err(|_| ApiError::Misconfigured("secret-scanning reports are not configured"))?;
    let client = client_key(&req.inner().headers());
    let key_identifier = req.headers().get(KEY_IDENTIFIER_HEADER)?;
    let signature = req.headers().get(SIGNATURE_HEADER)?;
    let body = WorkerBody(req)
        .read_limited(report::MAX_REPORT_BYTES)
        .await?;
    let signed = SignedReport {
        key_identifier: key_identifier.as_deref(),
        signature: signature.as_deref(),
        body: &body,
    };
    let keys = SCANNER_KEYS.with(Rc::clone);
    let verified = report::verify(
        &signed,
        &keys,
        &WebCryptoVerifier,
        &settings.keys_url,
        SystemClock.now(),
    )
    .await;
    limits::after_credential_check(verified, &WorkersRateLimiter(env), &client).await?;
    let ledger = ledger(env);
    let exposures = Exposures {
        index: &KvTokenStore::new(env),
        ledger: &ledger,
    };
    report::answer(&body, &exposures).await
}

/// `POST /auth/v1/admin/users/{user_id}/revoke-all`. A refused credential counts against the
/// sender's address.
pub async fn admin_revoke_all(req: Request, env: &Env, user_id: &str) -> Result<Reply, ApiError> {
    let client = client_key(&req.inner().headers());
    let authorization = req.headers().get("Authorization")?;
    let outcome = admin::revoke_all(
        &config(env),
        authorization.as_deref(),
        user_id,
        WorkerBody(req),
        &ledger(env),
    )
    .await;
    limits::after_credential_check(outcome, &WorkersRateLimiter(env), &client).await
}
