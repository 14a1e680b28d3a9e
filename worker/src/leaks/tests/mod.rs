//! Leak reports, self-service revocation and the admin API's revoke-all, natively: real ECDSA
//! P-256 signatures (the p256 crate, standing in for WebCrypto), the real ledgers behind the
//! typed client, and KV in memory. This file holds the fixtures; [`signature`] tests what a
//! report must carry, [`report`] what a verified report does, [`holder`] self-service
//! revocation and [`admin`] the admin API.

mod admin;
mod holder;
mod report;
mod signature;

use std::cell::{Cell, RefCell};
use std::future::{ready, Future};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_executor::block_on;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use patgate_core::expiry::Expiry;
use patgate_core::identity::{Email, TokenName, UserId};
use patgate_core::jose::jwk::PublicKey;
use patgate_core::jose::jws::SignatureVerifier;
use patgate_core::jose::Algorithm;
use patgate_core::session::{NewSession, SessionKey};
use patgate_core::token::UntrustedToken;
use serde_json::{json, Value};

use super::keys::{ScannerKeyCache, KEYS_REFETCH_INTERVAL_SECONDS};
use super::report::{answer, verify, SignedReport};
use super::*;
use crate::ledger::protocol::{AsUser, Audit, CreateToken, CreatedToken, Me, Notices, SignIn};
use crate::revocation::RevocationMode;
use crate::signin::provider::{Provider, ProviderRequest, ProviderResponse, Unreachable};
use crate::store::memory::MemoryTokenStore;
use crate::testing::{at, InProcessLedgers};

const KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";
const KEY_ID: &str = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";
const ADMIN_SECRET: &str = "test-only-admin-secret-0123456789abcdef";

/// The scanner's key list, served as GitHub serves it, counting requests.
struct KeyServer {
    document: RefCell<Value>,
    requests: Cell<usize>,
    down: Cell<bool>,
}

impl KeyServer {
    fn publishing(keys: &[(&str, &SigningKey)]) -> Self {
        let listed: Vec<Value> = keys
            .iter()
            .map(|(id, key)| {
                let pem = key
                    .verifying_key()
                    .to_public_key_pem(LineEnding::LF)
                    .unwrap();
                json!({"key_identifier": id, "key": pem, "is_current": true})
            })
            .collect();
        Self {
            document: RefCell::new(json!({ "public_keys": listed })),
            requests: Cell::new(0),
            down: Cell::new(false),
        }
    }
}

impl Provider for &KeyServer {
    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, Unreachable> {
        assert_eq!((request.method, request.url.as_str()), ("GET", KEYS_URL));
        assert!(request
            .headers
            .iter()
            .any(|(name, _)| *name == "User-Agent"));
        self.requests.set(self.requests.get() + 1);
        if self.down.get() {
            return Err(Unreachable("injected: keys unreachable".into()));
        }
        Ok(ProviderResponse {
            status: 200,
            body: self.document.borrow().to_string().into_bytes(),
        })
    }
}

/// ECDSA P-256 verification by the p256 crate, as WebCrypto does it in workerd.
struct P256Verifier;

impl SignatureVerifier for P256Verifier {
    type Error = String;

    fn verify(
        &self,
        algorithm: Algorithm,
        key: &PublicKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, String>> {
        assert_eq!(algorithm, Algorithm::Es256);
        let jwk: Value = serde_json::from_str(&key.to_jwk_json()).unwrap();
        let coordinate = |name: &str| base64url_decode(jwk[name].as_str().unwrap());
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x"));
        sec1.extend(coordinate("y"));
        let key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let verdict = Signature::from_slice(signature)
            .map(|signature| key.verify(signing_input, &signature).is_ok())
            .unwrap_or(false);
        ready(Ok(verdict))
    }
}

fn base64url_decode(text: &str) -> Vec<u8> {
    patgate_core::base64url::decode(text).unwrap()
}

/// The scanner: its signing key, and reports signed with it.
fn scanner_key() -> SigningKey {
    SigningKey::from_slice(&[7; 32]).unwrap()
}

fn der_signature(key: &SigningKey, body: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(body);
    signature.to_der().as_bytes().to_vec()
}

/// KV as the Worker's own invocation reaches it: the ledgers' KV, with a count of the
/// operations the Worker makes there (Cloudflare allows 1,000 per invocation; a bulk read of up
/// to 100 keys is one). The ledgers' own writes, made in their objects' invocations, are not
/// counted.
struct WorkerKv<'a> {
    kv: &'a MemoryTokenStore,
    operations: &'a Cell<usize>,
}

impl WorkerKv<'_> {
    /// Runs one call on the store and counts the operations it made. The memory store never
    /// suspends, so no ledger's write falls between the two readings.
    async fn counted<R>(&self, call: impl Future<Output = R>) -> R {
        let made = || self.kv.reads.get() + self.kv.writes.get();
        let before = made();
        let result = call.await;
        self.operations.set(self.operations.get() + made() - before);
        result
    }
}

impl ExposureIndex for WorkerKv<'_> {
    async fn records(&self, keys: &[StorageKey]) -> Result<Vec<(StorageKey, String)>, StoreError> {
        self.counted(self.kv.records(keys)).await
    }

    async fn marked_owners(
        &self,
        keys: &[StorageKey],
    ) -> Result<Vec<(StorageKey, UserId)>, StoreError> {
        self.counted(self.kv.marked_owners(keys)).await
    }
}

/// Everything a report meets: the users' ledgers and KV, the scanner's keys.
struct World {
    ledgers: InProcessLedgers,
    server: KeyServer,
    signer: SigningKey,
    /// The KV operations made by the Worker's invocations so far (see [`WorkerKv`]).
    worker_kv_operations: Cell<usize>,
}

impl World {
    fn new() -> Self {
        let signer = scanner_key();
        Self {
            ledgers: InProcessLedgers::default(),
            server: KeyServer::publishing(&[(KEY_ID, &signer)]),
            signer,
            worker_kv_operations: Cell::new(0),
        }
    }

    /// Runs `route` as the Worker does: with KV and the owners' ledgers.
    fn exposures<R>(
        &self,
        route: impl AsyncFnOnce(&Exposures<'_, WorkerKv, &InProcessLedgers>) -> R,
    ) -> R {
        let ledger = LedgerClient::new(&self.ledgers);
        let index = WorkerKv {
            kv: &self.ledgers.kv,
            operations: &self.worker_kv_operations,
        };
        let exposures = Exposures {
            index: &index,
            ledger: &ledger,
        };
        block_on(route(&exposures))
    }

    /// A signed-in user's id and session.
    fn user(&self, email: &str) -> (UserId, SessionKey) {
        let email = Email::parse(email).unwrap();
        let user_id = UserId::for_email(&email);
        let secret = [email.as_str().len() as u8; 32];
        let session = NewSession::start(&user_id, &secret).key().clone();
        let sign_in = SignIn {
            email,
            session: session.clone(),
        };
        block_on(LedgerClient::new(&self.ledgers).call(&user_id, sign_in)).unwrap();
        (user_id, session)
    }

    fn create(&self, user: &(UserId, SessionKey), name: &str) -> CreatedToken {
        self.create_expiring(user, name, Expiry::Never)
    }

    fn create_expiring(
        &self,
        user: &(UserId, SessionKey),
        name: &str,
        expiry: Expiry,
    ) -> CreatedToken {
        let create = AsUser {
            session: user.1.clone(),
            action: CreateToken {
                name: TokenName::parse(name).unwrap(),
                expiry,
            },
        };
        block_on(LedgerClient::new(&self.ledgers).call(&user.0, create)).unwrap()
    }

    fn act<A: crate::ledger::protocol::UserCall>(
        &self,
        user: &(UserId, SessionKey),
        action: A,
    ) -> Result<A::Reply, ApiError> {
        let call = AsUser {
            session: user.1.clone(),
            action,
        };
        block_on(LedgerClient::new(&self.ledgers).call(&user.0, call))
    }

    fn validates(&self, token: &str) -> bool {
        let header = format!("Bearer {token}");
        let fast = self
            .ledgers
            .authenticate(Some(&header), RevocationMode::Fast);
        assert_eq!(
            fast,
            self.ledgers
                .authenticate(Some(&header), RevocationMode::Strict)
        );
        fast.is_ok()
    }

    /// Sends a report with these headers to the route's logic, as the platform does; `keys` is
    /// the isolate's key cache.
    fn send(
        &self,
        keys: &ScannerKeyCache<&KeyServer>,
        key_identifier: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, ApiError> {
        let report = SignedReport {
            key_identifier,
            signature,
            body,
        };
        let now = at(self.ledgers.offset.get());
        block_on(verify(&report, keys, &P256Verifier, KEYS_URL, now))?;
        self.exposures(async |exposures| answer(body, exposures).await)
    }

    /// A report signed by the scanner, sent with a fresh key cache.
    fn report(&self, body: &[u8]) -> Result<Reply, ApiError> {
        let signature = STANDARD.encode(der_signature(&self.signer, body));
        self.send(
            &ScannerKeyCache::new(&self.server),
            Some(KEY_ID),
            Some(&signature),
            body,
        )
    }

    fn holder(&self, body: &str) -> Result<Reply, ApiError> {
        let body = body.as_bytes().to_vec();
        self.exposures(async |exposures| revoke_for_holder(body, exposures).await)
    }

    fn stored(&self) -> String {
        format!(
            "{:?}{:?}",
            self.ledgers.ledgers.borrow(),
            self.ledgers.kv.records.borrow()
        )
    }
}

fn labels(reply: &Reply) -> Vec<(String, String)> {
    let verdicts: Vec<Value> = serde_json::from_slice(&reply.body).unwrap();
    verdicts
        .iter()
        .map(|v| {
            (
                v["token_hash"].as_str().unwrap().to_owned(),
                v["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn report_of(tokens: &[&str]) -> Vec<u8> {
    let entries: Vec<Value> = tokens
        .iter()
        .map(|token| {
            json!({"token": token, "type": "patgate_pat",
                   "url": "https://github.com/octo/app/blob/1a2b/ci.yml", "source": "commit"})
        })
        .collect();
    serde_json::to_vec(&entries).unwrap()
}

fn hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    patgate_core::hex::encode(&Sha256::digest(token.as_bytes()))
}
