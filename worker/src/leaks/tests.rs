//! Leak reports, self-service revocation and the admin API's revoke-all, natively: real ECDSA
//! P-256 signatures (the p256 crate, standing in for WebCrypto), the real ledgers behind the
//! typed client, and KV in memory.

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
use crate::admin;
use crate::config::Config;
use crate::ledger::protocol::{AsUser, Audit, CreateToken, CreatedToken, Me, Notices, SignIn};
use crate::revocation::RevocationMode;
use crate::signin::provider::{Provider, ProviderRequest, ProviderResponse, Unreachable};
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

/// Everything a report meets: the users' ledgers and KV, the scanner's keys.
struct World {
    ledgers: InProcessLedgers,
    server: KeyServer,
    signer: SigningKey,
}

impl World {
    fn new() -> Self {
        let signer = scanner_key();
        Self {
            ledgers: InProcessLedgers::default(),
            server: KeyServer::publishing(&[(KEY_ID, &signer)]),
            signer,
        }
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
        let create = AsUser {
            session: user.1.clone(),
            action: CreateToken {
                name: TokenName::parse(name).unwrap(),
                expiry: Expiry::Never,
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
        let ledger = LedgerClient::new(&self.ledgers);
        let exposures = Exposures {
            index: &self.ledgers.kv,
            ledger: &ledger,
        };
        block_on(answer(body, &exposures))
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
        let ledger = LedgerClient::new(&self.ledgers);
        let exposures = Exposures {
            index: &self.ledgers.kv,
            ledger: &ledger,
        };
        block_on(revoke_for_holder(body.as_bytes().to_vec(), &exposures))
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

#[test]
fn a_signed_report_revokes_live_tokens_and_labels_every_match() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let leaked = world.create(&ada, "CI").plaintext;
    let kept = world.create(&ada, "laptop").plaintext;
    let unknown = patgate_core::token::generate(&[9; 96]).unwrap();
    let body = report_of(&[&leaked, unknown.as_str(), "pat_not_a_token", &leaked]);
    let reply = world.report(&body).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        labels(&reply),
        vec![
            (hash(&leaked), "true_positive".into()),
            (hash(unknown.as_str()), "false_positive".into()),
            (hash("pat_not_a_token"), "false_positive".into()),
            (hash(&leaked), "true_positive".into()),
        ]
    );
    assert!(!world.validates(&leaked));
    assert!(world.validates(&kept));
    let events = world.act(&ada, Audit {}).unwrap();
    assert_eq!(
        events[0].detail.as_deref(),
        Some("revoked automatically: found in public commit at https://github.com/octo/app/blob/1a2b/ci.yml")
    );
    assert_eq!(world.act(&ada, Notices {}).unwrap().len(), 1);

    // The same report again (a replay, or the scanner retrying) changes nothing, and answers
    // the same, though KV has no record of the token any more.
    let stored = world.stored();
    let again = world.report(&body).unwrap();
    assert_eq!(labels(&again), labels(&reply));
    assert_eq!(world.stored(), stored);
}

#[test]
fn a_report_is_refused_unless_its_signature_verifies_and_nothing_is_revoked() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let body = report_of(&[&token]);
    let der = der_signature(&world.signer, &body);
    let good = STANDARD.encode(&der);
    let keys = ScannerKeyCache::new(&world.server);
    let refused = |identifier: Option<&str>, signature: Option<&str>, body: &[u8]| {
        assert_eq!(
            world.send(&keys, identifier, signature, body),
            Err(ApiError::SignatureRefused),
            "{identifier:?} {signature:?}"
        );
    };
    let mut tampered = body.clone();
    tampered[2] ^= 1;
    refused(Some(KEY_ID), Some(&good), &tampered);
    // Re-serialized JSON is another body: the signature covers the raw bytes.
    let reserialized = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap());
    refused(Some(KEY_ID), Some(&good), &reserialized.unwrap());
    refused(None, Some(&good), &body);
    refused(Some(KEY_ID), None, &body);
    refused(Some("another-key"), Some(&good), &body);
    refused(Some(KEY_ID), Some("not base64!"), &body);
    refused(Some(KEY_ID), Some(&STANDARD.encode(&der[2..])), &body);
    // DER re-encodings of the very signature: a long-form length, trailing bytes.
    let mut long_form = vec![0x30, 0x81];
    long_form.extend(&der[1..]);
    refused(Some(KEY_ID), Some(&STANDARD.encode(&long_form)), &body);
    let mut trailing = der.clone();
    trailing.push(0);
    refused(Some(KEY_ID), Some(&STANDARD.encode(&trailing)), &body);
    // The raw r‖s form is not what the header carries.
    let raw: Signature = world.signer.sign(&body);
    refused(Some(KEY_ID), Some(&STANDARD.encode(raw.to_bytes())), &body);
    // Signed by a key the scanner does not publish, under its key's name.
    let forger = SigningKey::from_slice(&[8; 32]).unwrap();
    refused(
        Some(KEY_ID),
        Some(&STANDARD.encode(der_signature(&forger, &body))),
        &body,
    );
    assert!(world.validates(&token));
    assert!(world.act(&ada, Notices {}).unwrap().is_empty());
    // One fetch of the key list: an unknown key id within the minute fetches nothing more.
    assert_eq!(world.server.requests.get(), 1);
}

#[test]
fn the_other_ecdsa_signature_of_the_same_body_changes_nothing() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let body = report_of(&[&token]);
    let first = world.report(&body).unwrap();
    let stored = world.stored();
    // (r, n − s) verifies too: ECDSA's own malleability. The report is the same report.
    let signature: Signature = world.signer.sign(&body);
    let (r, s) = signature.split_scalars();
    let flipped = Signature::from_scalars(r, -*s).unwrap();
    assert!(world.signer.verifying_key().verify(&body, &flipped).is_ok());
    let reply = world
        .send(
            &ScannerKeyCache::new(&world.server),
            Some(KEY_ID),
            Some(&STANDARD.encode(flipped.to_der().as_bytes())),
            &body,
        )
        .unwrap();
    assert_eq!(labels(&reply), labels(&first));
    assert_eq!(world.stored(), stored);
    assert_eq!(world.act(&ada, Notices {}).unwrap().len(), 1);
}

#[test]
fn keys_are_fetched_again_for_an_unknown_id_at_most_once_a_minute() {
    let world = World::new();
    let body = report_of(&[]);
    let rotated = SigningKey::from_slice(&[11; 32]).unwrap();
    let signature = STANDARD.encode(der_signature(&rotated, &body));
    let keys = ScannerKeyCache::new(&world.server);
    let send = |offset| {
        world.ledgers.offset.set(offset);
        world.send(&keys, Some("rotated"), Some(&signature), &body)
    };
    assert_eq!(send(0), Err(ApiError::SignatureRefused));
    assert_eq!(send(1), Err(ApiError::SignatureRefused));
    assert_eq!(
        world.server.requests.get(),
        1,
        "no refetch within the minute"
    );
    *world.server.document.borrow_mut() = KeyServer::publishing(&[("rotated", &rotated)])
        .document
        .into_inner();
    assert_eq!(send(KEYS_REFETCH_INTERVAL_SECONDS).unwrap().status, 200);
    assert_eq!(world.server.requests.get(), 2);
    assert_eq!(send(KEYS_REFETCH_INTERVAL_SECONDS + 1).unwrap().status, 200);
    assert_eq!(world.server.requests.get(), 2, "kept");
}

#[test]
fn unreachable_keys_or_ledgers_are_503_and_a_retry_completes_the_report() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let body = report_of(&[&token]);
    world.server.down.set(true);
    assert_eq!(world.report(&body), Err(ApiError::StoreUnavailable));
    world.server.down.set(false);
    world.ledgers.unreachable.set(true);
    assert_eq!(world.report(&body), Err(ApiError::StoreUnavailable));
    world.ledgers.unreachable.set(false);
    assert!(world.validates(&token));
    let reply = world.report(&body).unwrap();
    assert_eq!(labels(&reply)[0].1, "true_positive");
    assert!(!world.validates(&token));
}

#[test]
fn reports_of_several_owners_reach_each_ledger() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let ada_token = world.create(&ada, "CI").plaintext;
    let bob_token = world.create(&bob, "deploy").plaintext;
    let reply = world.report(&report_of(&[&ada_token, &bob_token])).unwrap();
    assert!(labels(&reply)
        .iter()
        .all(|(_, label)| label == "true_positive"));
    assert!(!world.validates(&ada_token) && !world.validates(&bob_token));
    assert_eq!(
        world.act(&bob, Notices {}).unwrap()[0].token_name.as_str(),
        "deploy"
    );
}

#[test]
fn malformed_or_oversized_reports_are_refused_once_verified() {
    let world = World::new();
    let body = br#"{"token":"x"}"#;
    assert!(matches!(world.report(body), Err(ApiError::InvalidBody(_))));
    let entry = r#"{"token":"x","type":"y"}"#;
    let many = format!(
        "[{}]",
        vec![entry; patgate_core::leak::report::MAX_REPORT_ENTRIES + 1].join(",")
    );
    assert!(matches!(
        world.report(many.as_bytes()),
        Err(ApiError::PayloadTooLarge(_))
    ));
    let thousand = format!("[{}]", vec![entry; 1_000].join(","));
    assert_eq!(
        labels(&world.report(thousand.as_bytes()).unwrap()).len(),
        1_000
    );
}

#[test]
fn a_holder_revokes_without_learning_which_tokens_existed() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let live = world.create(&ada, "CI").plaintext;
    let unknown = patgate_core::token::generate(&[9; 96]).unwrap();
    let answers: Vec<Reply> = [
        format!(r#"{{"tokens":["{live}"]}}"#),
        format!(r#"{{"tokens":["{}"]}}"#, unknown.as_str()),
        r#"{"tokens":["pat_short"]}"#.to_owned(),
        format!(r#"{{"tokens":["{live}"]}}"#),
    ]
    .iter()
    .map(|body| world.holder(body).unwrap())
    .collect();
    for reply in &answers {
        assert_eq!((reply.status, &reply.body), (202, &answers[0].body));
    }
    assert!(!world.validates(&live));
    let events = world.act(&ada, Audit {}).unwrap();
    assert_eq!(events[0].detail.as_deref(), Some("revoked by a holder"));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.detail.as_deref() == Some("revoked by a holder"))
            .count(),
        1
    );
    assert!(matches!(
        world.holder(r#"{"tokens":"x"}"#),
        Err(ApiError::InvalidBody(_))
    ));
    // A later report of the token a holder revoked is recognised.
    let reply = world.report(&report_of(&[&live])).unwrap();
    assert_eq!(labels(&reply)[0].1, "true_positive");
    let key = UntrustedToken::parse(&live).unwrap().storage_key().clone();
    assert!(world
        .ledgers
        .kv
        .records
        .borrow()
        .contains_key(&crate::store::exposure_marker_key(&key)));
}

fn admin_config(secret: Option<&str>) -> Config {
    Config::parse(|name| match name {
        "ADMIN_API_SECRET" => secret.map(str::to_owned),
        _ => None,
    })
}

#[test]
fn the_admin_api_takes_its_secret_never_a_token() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let config = admin_config(Some(ADMIN_SECRET));
    let send = |config: &Config, authorization: Option<&str>, user: &str| {
        let ledger = LedgerClient::new(&world.ledgers);
        let body = br#"{"requested_by":"offboarding","reason":"account disabled"}"#.to_vec();
        block_on(admin::revoke_all(
            config,
            authorization,
            user,
            body,
            &ledger,
        ))
    };
    let ada_id = ada.0.as_str();
    let bearer = format!("Bearer {ADMIN_SECRET}");
    assert_eq!(
        send(&admin_config(None), Some(&bearer), ada_id),
        Err(ApiError::Misconfigured("the admin API is not configured"))
    );
    for (authorization, refusal) in [
        (None, ApiError::AdminCredentialRefused),
        (
            Some("Basic YWRtaW46YWRtaW4="),
            ApiError::AdminCredentialRefused,
        ),
        (
            Some("Bearer wrong-secret"),
            ApiError::AdminCredentialRefused,
        ),
        (
            Some(&format!("Bearer {ADMIN_SECRET}x")),
            ApiError::AdminCredentialRefused,
        ),
        (Some(&format!("Bearer {token}")), ApiError::TokenNotAdmin),
        (Some("Bearer pat_typo"), ApiError::TokenNotAdmin),
    ] {
        assert_eq!(
            send(&config, authorization, ada_id),
            Err(refusal),
            "{authorization:?}"
        );
    }
    assert!(world.validates(&token));
    assert_eq!(
        send(&config, Some(&bearer), "usr_nope"),
        Err(ApiError::NotFound)
    );
    let reply = send(&config, Some(&bearer), ada_id).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&reply.body).unwrap(),
        json!({"revoked": 1, "sessions_ended": 1})
    );
    assert!(!world.validates(&token));
    assert_eq!(world.act(&ada, Me {}), Err(ApiError::NotSignedIn));
}
