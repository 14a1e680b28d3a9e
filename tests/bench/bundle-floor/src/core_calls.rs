//! The floor plus patgate's pure core (`crates/patgate-core`): every part of the core's public
//! API that the Worker uses, called once, for real, the way the Worker's own call sites call it,
//! on inputs read from the request (so nothing is computed at compile time), with the results
//! answered as JSON. Beyond the calls there is no logic here: a failing step refuses the request.
//!
//! It exists to measure the stack and the domain logic together, before any of the Worker's own
//! code (`measure.sh --core`): if this weighs more than the size budget, no Worker built on this
//! stack with this core can meet it.
//!
//! `POST /core`, with `Authorization: Bearer <a token>` (also the admin credential) and a body
//! of one input a line, in the order the calls read them:
//!
//! 1. the token's record, as KV holds it;
//! 2. the host the client addressed (`X-Forwarded-Host`);
//! 3. to 7. the console's bodies: create a token, change one, regenerate one, an empty
//!    command's, and development sign-in's; 8. a token id, as in the console's paths;
//! 9. the sign-in's `return_to` (empty for the console's home);
//! 10. the callback's `Cookie` header (the sign-in transaction and the session), 11. its
//!     `state`; 12. the provider's ID token, 13. its JWK set, 14. its issuer, 15. the client id;
//! 16. values as the ledger stores them: `[session record, expiry, storage key, session key,
//!     where a token was found]`;
//! 17. the secret scanner's key list, 18. its signature header, 19. its key identifier header,
//!     20. its report;
//! 21. a self-service revocation body;
//! 22. a user id, as in the admin API's paths, and 23. the admin API's revoke-all body.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use patgate_core::admin::{credential_matches, revoke_all_request};
use patgate_core::bearer::bearer_credential;
use patgate_core::expiry::{is_expired, Expiry};
use patgate_core::identity::{Email, TokenId, TokenName, UserId, RANDOM_BYTES_FOR_TOKEN_ID};
use patgate_core::jose::claims::Expected;
use patgate_core::jose::jwk::{JwkSet, PublicKey};
use patgate_core::jose::jws::{SignatureVerifier, UntrustedJws};
use patgate_core::jose::Algorithm;
use patgate_core::json;
use patgate_core::leak::der::raw_signature;
use patgate_core::leak::holder;
use patgate_core::leak::keys::ScannerKeys;
use patgate_core::leak::report::{self, distinct_tokens, FoundAt, Verdict};
use patgate_core::origin::{RequestId, SignedRequest};
use patgate_core::record::{StoredRecord, TokenRecord};
use patgate_core::request::{self, TokenChangesBody};
use patgate_core::session::{
    clear_cookie_header, presented_session, NewSession, SessionKey, SessionRecord,
};
use patgate_core::signin::{clear_transaction_cookie_header, ReturnPath, SignInTransaction};
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, StorageKey, UntrustedToken, RANDOM_BYTES_FOR_TOKEN};
use patgate_core::verify::verify;
use serde::Serialize;
use worker::{Env, Response};

use crate::floor::{verify_es256, FloorError};

/// The signature port as the Worker fills it (`worker/src/platform/provider.rs`): WebCrypto,
/// here the floor's own ES256 check, so that the WebCrypto glue is not counted twice (the
/// Worker's also imports RSA keys, for RS256).
struct WebCrypto;

impl SignatureVerifier for WebCrypto {
    type Error = FloorError;

    async fn verify(
        &self,
        algorithm: Algorithm,
        key: &PublicKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, FloorError> {
        match algorithm {
            Algorithm::Es256 => verify_es256(&key.to_jwk_json(), signing_input, signature).await,
            Algorithm::Rs256 => Err(refused("the floor checks ES256 signatures only")),
        }
    }
}

/// A refused request (400), with the core's message.
fn refused(error: impl fmt::Display) -> FloorError {
    FloorError::BadRequest(error.to_string())
}

/// `N` random bytes, as the Worker's `Entropy::draw` gives them.
fn draw<const N: usize>() -> Result<[u8; N], FloorError> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// Everything the core answered.
#[derive(Serialize)]
struct CoreAnswer<'a> {
    hint: &'a str,
    storage_key: StorageKey,
    email: &'a Email,
    token_name: &'a TokenName,
    created_at: String,
    age_seconds: u64,
    expires_at: Option<Timestamp>,
    request_id: &'a str,
    signature: String,
    new_token: &'a str,
    new_token_hint: &'a str,
    new_token_key: StorageKey,
    new_record: String,
    expired: bool,
    changed_name: Option<TokenName>,
    changed_expiry: Option<Expiry>,
    regenerated: Expiry,
    dev_user: UserId,
    token_id: TokenId,
    session_cookie: String,
    session_key: &'a SessionKey,
    session: SessionRecord,
    presented_user: UserId,
    presented_key: SessionKey,
    cleared_session: String,
    stored: (SessionRecord, Expiry, StorageKey, SessionKey, FoundAt),
    session_in_force: bool,
    state: &'a str,
    nonce: &'a str,
    code_challenge: String,
    transaction_cookie: String,
    state_matches: bool,
    code_verifier: &'a str,
    return_to: &'a ReturnPath,
    cleared_transaction: String,
    issuer: &'a str,
    subject: &'a str,
    provider_email: &'a Email,
    provider_user: UserId,
    report_verified: bool,
    verdicts: Vec<Verdict>,
    exposed: Vec<(StorageKey, FoundAt)>,
    revoked_by_holder: Vec<StorageKey>,
    admin: bool,
    user_id: UserId,
    requested_by: String,
    reason: Option<String>,
}

/// Each of the core's calls, in the order a request meets them in the Worker, each input the
/// next line of the body.
pub(crate) async fn answer(
    env: &Env,
    url: &str,
    method: &str,
    authorization: &str,
    body: &[u8],
) -> Result<Response, FloorError> {
    let mut lines = std::str::from_utf8(body).map_err(refused)?.lines();
    let mut line = || {
        lines
            .next()
            .ok_or_else(|| refused("the body holds fewer input lines than the calls read"))
    };
    let secret = |name: &str| -> Result<String, FloorError> { Ok(env.secret(name)?.to_string()) };
    let now = Timestamp::from_unix_millis_clamped(js_sys::Date::now());

    // The edge (auth.rs, platform/edge.rs, gateway.rs): the bearer token, its one KV record,
    // the principal, and the signature the origin checks.
    let credential = bearer_credential(Some(authorization)).map_err(refused)?;
    let token = UntrustedToken::parse(credential).map_err(refused)?;
    let storage_key = token.storage_key().clone();
    let hint = token.hint();
    let stored = StoredRecord::decode(storage_key.clone(), line()?).map_err(refused)?;
    let principal = verify(token, stored, now).map_err(refused)?;
    let request_id = RequestId::from_random(&draw()?);
    let signed = SignedRequest {
        timestamp: now.unix_seconds(),
        request_id: request_id.as_str(),
        method,
        host: line()?,
        path_and_query: url,
        user_id: principal.user_id().as_str(),
        token_id: principal.token_id().as_str(),
    };
    let origin_signature = signed.sign(secret("ORIGIN_SHARED_SECRET")?.as_bytes());

    // The console's bodies and paths (console/mod.rs), the ledger's new token (ledger/tokens.rs).
    let (name, expiry) = request::new_token(line()?).map_err(refused)?;
    let changes = request::token_changes(line()?)
        .and_then(TokenChangesBody::judge)
        .map_err(refused)?;
    let regenerated = request::regenerated_expiry(line()?).map_err(refused)?;
    request::expect_empty(line()?).map_err(refused)?;
    let dev_email = request::sign_in_email(line()?).map_err(refused)?;
    let token_id = TokenId::parse(line()?).ok_or_else(|| refused("not a token id"))?;
    let new_token = generate(&draw::<RANDOM_BYTES_FOR_TOKEN>()?).map_err(refused)?;
    let new_id = TokenId::generate(&draw::<RANDOM_BYTES_FOR_TOKEN_ID>()?).map_err(refused)?;
    let expires_at = expiry.expires_at(now);
    let new_record = TokenRecord::new(
        new_id,
        principal.user_id().clone(),
        principal.email().clone(),
        name,
        now,
        expires_at,
    );

    // Sign-in (signin/mod.rs): the transaction, the provider's ID token verified with its
    // keys, the claims checked into an identity; then the session (console/, ledger/).
    let return_to = match line()? {
        "" => ReturnPath::console_home(),
        path => ReturnPath::parse(path).ok_or_else(|| refused("not a console path"))?,
    };
    let cookie_secret = secret("COOKIE_SECRET")?;
    let started = SignInTransaction::start(&draw()?, return_to, now);
    let cookie = line()?;
    let state = line()?;
    let transaction =
        SignInTransaction::from_cookie_header(Some(cookie), cookie_secret.as_bytes(), now)
            .map_err(refused)?;
    let jws = UntrustedJws::parse(line()?).map_err(refused)?;
    let keys = JwkSet::parse(line()?.as_bytes()).map_err(refused)?;
    let verified = jws.verify(&keys, &WebCrypto).await.map_err(refused)?;
    let expected = Expected {
        issuer: line()?,
        client_id: line()?,
        nonce: transaction.nonce(),
        now,
    };
    let identity = verified.id_token(&expected).map_err(refused)?;
    let session = NewSession::start(&identity.user_id(), &draw()?);
    let presented = presented_session(Some(cookie)).ok_or_else(|| refused("no session"))?;
    let stored: (SessionRecord, Expiry, StorageKey, SessionKey, FoundAt) =
        json::from_text(line()?).map_err(refused)?;

    // Leaked tokens (leaks/): the scanner's signed report, and self-service revocation.
    let scanner_keys = ScannerKeys::parse(line()?.as_bytes()).map_err(refused)?;
    let raw = raw_signature(&STANDARD.decode(line()?.trim())?).map_err(refused)?;
    let scanner_key = scanner_keys
        .get(line()?.trim())
        .ok_or_else(|| refused("an unknown scanner key"))?;
    let report = line()?.as_bytes();
    let report_verified = WebCrypto
        .verify(Algorithm::Es256, scanner_key, report, &raw)
        .await?;
    let matches = report::parse(report).map_err(refused)?;
    let verdicts = matches
        .iter()
        .map(|reported| Verdict::of(reported, reported.token().is_some()))
        .collect();
    let revoked_by_holder = holder::tokens_to_revoke(line()?).map_err(refused)?;

    // The admin API (admin.rs).
    let user_id = UserId::parse(line()?).ok_or_else(|| refused("not a user id"))?;
    let revoke_all = revoke_all_request(line()?).map_err(refused)?;

    Ok(Response::from_json(&CoreAnswer {
        hint,
        storage_key,
        email: principal.email(),
        token_name: principal.token_name(),
        created_at: principal.created_at().to_string(),
        age_seconds: now.seconds_since(principal.created_at()),
        expires_at: principal.expires_at(),
        request_id: request_id.as_str(),
        signature: origin_signature,
        new_token: new_token.as_str(),
        new_token_hint: new_token.hint(),
        new_token_key: new_token.storage_key(),
        new_record: new_record.encode(),
        expired: is_expired(expires_at, now),
        changed_name: changes.name,
        changed_expiry: changes.expiry,
        regenerated,
        dev_user: UserId::for_email(&dev_email),
        token_id,
        session_cookie: session.set_cookie_header(),
        session_key: session.key(),
        session: SessionRecord::new(identity.user_id(), identity.email().clone(), now),
        presented_user: presented.user_id,
        presented_key: presented.key,
        cleared_session: clear_cookie_header(),
        session_in_force: stored.0.check(now).is_ok(),
        stored,
        state: started.state(),
        nonce: started.nonce(),
        code_challenge: started.code_challenge(),
        transaction_cookie: started.set_cookie_header(cookie_secret.as_bytes()),
        state_matches: transaction.state_matches(state),
        code_verifier: transaction.code_verifier(),
        return_to: transaction.return_to(),
        cleared_transaction: clear_transaction_cookie_header(),
        issuer: identity.issuer(),
        subject: identity.subject(),
        provider_email: identity.email(),
        provider_user: identity.user_id(),
        report_verified,
        verdicts,
        exposed: distinct_tokens(&matches),
        revoked_by_holder,
        admin: credential_matches(credential, &secret("ADMIN_SECRET")?),
        user_id,
        requested_by: revoke_all.requested_by,
        reason: revoke_all.reason,
    })?)
}
