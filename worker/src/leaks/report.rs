//! `POST /auth/v1/leaks/github`: a secret scanner's report, in GitHub's partner format.
//!
//! 1. [`verify`]: `Github-Public-Key-Signature` (base64 of a DER ECDSA P-256/SHA-256
//!    signature) must verify over the **raw** body with the key that
//!    `Github-Public-Key-Identifier` names in the scanner's list. Anything else is 401 before
//!    the body is even parsed, and nothing is revoked.
//! 2. [`answer`]: every match that is a live patgate token is revoked (see the module above);
//!    the answer labels each match, in order: `true_positive` for a token revoked now or
//!    revoked for exposure before, `false_positive` for anything else.
//!
//! A replayed report (same body, same signature) verifies again and changes nothing: its
//! tokens are revoked already, and their owners' ledgers recognise them, so the labels are the
//! same.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use patgate_core::jose::jws::SignatureVerifier;
use patgate_core::jose::Algorithm;
use patgate_core::leak::der::raw_signature;
use patgate_core::leak::report::{self, distinct_tokens, InvalidReport, Verdict};
use patgate_core::time::Timestamp;

use super::keys::ScannerKeyCache;
use super::Exposures;
use crate::error::ApiError;
use crate::http::Reply;
use crate::ledger::client::LedgerTransport;
use crate::ledger::protocol::{ExposedToken, ExposureCause, ExposureOutcome};
use crate::log;
use crate::signin::provider::Provider;
use crate::store::ExposureIndex;

/// Largest report accepted (5,000 matches fit easily).
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;
/// The header naming the key in the scanner's list.
pub const KEY_IDENTIFIER_HEADER: &str = "Github-Public-Key-Identifier";
/// The header carrying the base64 DER signature.
pub const SIGNATURE_HEADER: &str = "Github-Public-Key-Signature";
/// Longest signature header read: a DER P-256 signature is at most 72 bytes.
const MAX_SIGNATURE_HEADER_LEN: usize = 256;

/// A report as received: its two headers and its raw body.
#[derive(Debug, Clone, Copy)]
pub struct SignedReport<'a> {
    pub key_identifier: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// Checks the report's signature. A missing, malformed or wrong signature, or a key the
/// scanner does not publish, is [`ApiError::SignatureRefused`]; keys that cannot be fetched,
/// or a verifier that cannot check, are 503 (the scanner retries).
pub async fn verify<H: Provider, V: SignatureVerifier>(
    report: &SignedReport<'_>,
    keys: &ScannerKeyCache<H>,
    verifier: &V,
    keys_url: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let (Some(identifier), Some(signature)) = (report.key_identifier, report.signature) else {
        return Err(ApiError::SignatureRefused);
    };
    if signature.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(ApiError::SignatureRefused);
    }
    let der = STANDARD
        .decode(signature.trim())
        .map_err(|_| ApiError::SignatureRefused)?;
    let raw = raw_signature(&der).map_err(|_| ApiError::SignatureRefused)?;
    let key = keys
        .key(keys_url, identifier.trim(), now)
        .await
        .map_err(|error| {
            log::error(&format!("secret-scanning keys unavailable: {}", error.0));
            ApiError::StoreUnavailable
        })?
        .ok_or(ApiError::SignatureRefused)?;
    match verifier
        .verify(Algorithm::Es256, &key, report.body, &raw)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::SignatureRefused),
        Err(error) => {
            log::error(&format!("secret-scanning signature not checked: {error}"));
            Err(ApiError::StoreUnavailable)
        }
    }
}

/// Revokes the live tokens of a verified report and labels every match.
pub async fn answer<S: ExposureIndex, T: LedgerTransport>(
    body: &[u8],
    exposures: &Exposures<'_, S, T>,
) -> Result<Reply, ApiError> {
    let matches = report::parse(body).map_err(|error| match error {
        InvalidReport::TooManyEntries => ApiError::PayloadTooLarge(error.to_string()),
        InvalidReport::Malformed => ApiError::InvalidBody(error.to_string()),
    })?;
    let tokens = distinct_tokens(&matches)
        .into_iter()
        .map(|(key, found)| ExposedToken {
            key,
            cause: ExposureCause::SecretScanning(found),
        })
        .collect();
    let outcomes = exposures.revoke(tokens, true).await?;
    let verdicts: Vec<Verdict> = matches
        .iter()
        .map(|reported| {
            let outcome = reported
                .token()
                .and_then(|token| outcomes.get(token.storage_key()));
            let true_positive = matches!(
                outcome,
                Some(ExposureOutcome::Revoked | ExposureOutcome::RevokedBefore)
            );
            Verdict::of(reported, true_positive)
        })
        .collect();
    Reply::json(200, &verdicts)
}
