//! The JOSE path against RFC 7515's published examples, tables of hostile headers, key sets
//! and claims, and property tests on arbitrary input. Long because it is tables: one hostile
//! input per line.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
use core::cell::RefCell;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::claims::{ClaimsError, Expected, IdTokenClaims};
use super::jwk::{JwkSet, KeySelectionError, MalformedJwkSet, PublicKey};
use super::jws::{JwsError, SignatureVerifier, UntrustedJws, VerifyError};
use super::Algorithm;
use crate::base64url;
use crate::identity::UserId;
use crate::time::Timestamp;

const RFC_7515: &str = include_str!("../../../../tests/vectors/rfc7515-jws.json");

/// Runs a future that never waits (every verifier here answers at once).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the test verifier never waits"),
    }
}

/// One question put to a verifier: algorithm, key as JWK, signing input, signature.
type Question = (Algorithm, String, Vec<u8>, Vec<u8>);

/// Answers `verdict`, and remembers what it was asked.
struct Recorder {
    verdict: Result<bool, &'static str>,
    asked: RefCell<Vec<Question>>,
}

impl Recorder {
    fn answering(verdict: Result<bool, &'static str>) -> Self {
        Self {
            verdict,
            asked: RefCell::default(),
        }
    }
}

impl SignatureVerifier for Recorder {
    type Error = &'static str;

    fn verify(
        &self,
        algorithm: Algorithm,
        key: &PublicKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, &'static str>> {
        self.asked.borrow_mut().push((
            algorithm,
            key.to_jwk_json(),
            signing_input.to_vec(),
            signature.to_vec(),
        ));
        core::future::ready(self.verdict)
    }
}

fn b64(json: &Value) -> String {
    base64url::encode(json.to_string().as_bytes())
}

fn compact(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header),
        b64(claims),
        base64url::encode(signature)
    )
}

fn set(keys: Value) -> JwkSet {
    JwkSet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
}

fn rsa_key(kid: &str) -> Value {
    json!({ "kty": "RSA", "kid": kid, "e": "AQAB", "n": base64url::encode(&[0xc5; 256]) })
}

fn ec_key(kid: &str) -> Value {
    json!({ "kty": "EC", "crv": "P-256", "kid": kid,
            "x": base64url::encode(&[1; 32]), "y": base64url::encode(&[2; 32]) })
}

#[test]
fn rfc_7515_examples_reach_the_verifier_exactly_as_published() {
    let vectors: Value = serde_json::from_str(RFC_7515).unwrap();
    for case in vectors["cases"].as_array().unwrap() {
        let jws_text = case["jws"].as_str().unwrap();
        let jws = UntrustedJws::parse(jws_text).unwrap();
        let alg = if case["alg"] == "RS256" {
            Algorithm::Rs256
        } else {
            Algorithm::Es256
        };
        assert_eq!(jws.header().alg, alg);
        assert_eq!(jws.header().kid, None);

        let keys = set(json!([case["jwk"]]));
        assert_eq!(keys.len(), 1);
        let verifier = Recorder::answering(Ok(true));
        let verified = ready(jws.verify(&keys, &verifier)).unwrap();
        let asked = verifier.asked.borrow();
        let (asked_alg, jwk, signing_input, signature) = &asked[0];
        assert_eq!(*asked_alg, alg);
        // The key goes to the verifier with the published parameters, unchanged.
        let jwk: Value = serde_json::from_str(jwk).unwrap();
        assert_eq!(jwk, case["jwk"]);
        let (signed, signature_b64) = jws_text.rsplit_once('.').unwrap();
        assert_eq!(signing_input, signed.as_bytes());
        assert_eq!(signature, &base64url::decode(signature_b64).unwrap());

        // Its claims are the RFC's (`iss` "joe", no `sub`, `aud` or `iat`): no ID token.
        let expected = Expected {
            issuer: "https://id.example.com",
            client_id: "patgate",
            nonce: "n",
            now: Timestamp::from_unix_seconds(1_300_819_000).unwrap(),
        };
        assert_eq!(verified.id_token(&expected), Err(ClaimsError::Malformed));

        let refusing = Recorder::answering(Ok(false));
        assert_eq!(
            ready(jws.verify(&keys, &refusing)),
            Err(VerifyError::BadSignature)
        );
        let failing = Recorder::answering(Err("no crypto"));
        assert_eq!(
            ready(jws.verify(&keys, &failing)),
            Err(VerifyError::Verifier("no crypto"))
        );
    }
}

#[test]
fn only_rs256_and_es256_without_extensions() {
    let claims = json!({ "iss": "x" });
    let rsa_sig = [7u8; 256];
    let check = |header: Value, signature: &[u8]| {
        UntrustedJws::parse(&compact(&header, &claims, signature))
    };
    assert!(check(
        json!({ "alg": "RS256", "kid": "k", "typ": "JWT" }),
        &rsa_sig
    )
    .is_ok());
    assert!(check(json!({ "alg": "ES256", "typ": "jwt" }), &[7; 64]).is_ok());
    for alg in [
        "none", "None", "HS256", "HS512", "RS384", "PS256", "ES384", "EdDSA", "rs256", "",
    ] {
        assert_eq!(
            check(json!({ "alg": alg }), &rsa_sig),
            Err(JwsError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    for header in [
        json!({}),
        json!({ "alg": 256 }),
        json!(["RS256"]),
        json!("RS256"),
        json!(null),
    ] {
        assert_eq!(
            check(header.clone(), &rsa_sig),
            Err(JwsError::MalformedHeader),
            "{header}"
        );
    }
    for crit in [json!(["exp"]), json!([]), json!(null)] {
        assert_eq!(
            check(json!({ "alg": "RS256", "crit": crit }), &rsa_sig),
            Err(JwsError::CriticalExtension)
        );
    }
    assert_eq!(
        check(json!({ "alg": "RS256", "typ": "at+jwt" }), &rsa_sig),
        Err(JwsError::UnexpectedType)
    );
    assert_eq!(
        check(json!({ "alg": "ES256" }), &[7; 63]),
        Err(JwsError::SignatureLength)
    );
    assert_eq!(
        check(json!({ "alg": "ES256" }), &rsa_sig),
        Err(JwsError::SignatureLength)
    );
    assert_eq!(
        check(json!({ "alg": "RS256" }), &[]),
        Err(JwsError::SignatureLength)
    );
}

#[test]
fn duplicate_header_members_are_refused() {
    let header = base64url::encode(br#"{"alg":"ES256","alg":"RS256"}"#);
    let text = format!(
        "{header}.{}.{}",
        b64(&json!({})),
        base64url::encode(&[7; 256])
    );
    assert_eq!(UntrustedJws::parse(&text), Err(JwsError::MalformedHeader));
}

#[test]
fn the_compact_form_is_exactly_three_strict_base64url_parts() {
    let good = compact(&json!({ "alg": "ES256" }), &json!({}), &[7; 64]);
    assert!(UntrustedJws::parse(&good).is_ok());
    let mut parts: Vec<&str> = good.split('.').collect();
    assert_eq!(
        UntrustedJws::parse(&parts[..2].join(".")),
        Err(JwsError::NotCompact)
    );
    parts.push("");
    assert_eq!(
        UntrustedJws::parse(&parts.join(".")),
        Err(JwsError::NotCompact)
    );
    for bad in [
        format!("{good}="),
        format!(" {good}"),
        good.replace('.', ".+"),
        String::new(),
    ] {
        assert_eq!(
            UntrustedJws::parse(&bad),
            Err(JwsError::NotCompact),
            "{bad}"
        );
    }
    let huge = format!("{good}{}", "A".repeat(16 * 1024));
    assert_eq!(UntrustedJws::parse(&huge), Err(JwsError::TooLong));
}

#[test]
fn unusable_keys_are_left_out_of_the_set() {
    let keys = set(json!([
        rsa_key("rsa"),
        ec_key("ec"),
        { "kty": "RSA", "kid": "enc", "use": "enc", "e": "AQAB", "n": base64url::encode(&[0xc5; 256]) },
        { "kty": "RSA", "kid": "small", "e": "AQAB", "n": base64url::encode(&[0xc5; 128]) },
        { "kty": "RSA", "kid": "zeros", "e": "AQAB", "n": base64url::encode(&[[0u8; 10].as_slice(), &[0xc5; 250]].concat()) },
        { "kty": "RSA", "kid": "rs384", "alg": "RS384", "e": "AQAB", "n": base64url::encode(&[0xc5; 256]) },
        { "kty": "RSA", "kid": "padded", "e": "AQAB", "n": format!("{}==", base64url::encode(&[0xc5; 256])) },
        { "kty": "EC", "crv": "P-384", "kid": "p384", "x": base64url::encode(&[1; 48]), "y": base64url::encode(&[2; 48]) },
        { "kty": "EC", "crv": "P-256", "kid": "short", "x": base64url::encode(&[1; 31]), "y": base64url::encode(&[2; 32]) },
        { "kty": "EC", "crv": "P-256", "kid": "ops", "key_ops": ["encrypt"], "x": base64url::encode(&[1; 32]), "y": base64url::encode(&[2; 32]) },
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        { "kty": "RSA", "kid": 42, "e": "AQAB", "n": base64url::encode(&[0xc5; 256]) },
        "not a key"
    ]));
    let kids: Vec<_> = [
        "rsa", "ec", "enc", "small", "zeros", "rs384", "padded", "p384", "short", "ops", "hmac",
    ]
    .into_iter()
    .filter(|kid| {
        let header = super::jws::JwsHeader {
            alg: Algorithm::Rs256,
            kid: Some((*kid).to_string()),
        };
        keys.select(&header) != Err(KeySelectionError::Unknown)
    })
    .collect();
    assert_eq!(kids, ["rsa", "ec"]);
    assert_eq!(keys.len(), 2);
}

#[test]
fn a_key_is_chosen_by_kid_or_else_by_algorithm_alone() {
    use super::jws::JwsHeader;
    let header = |alg, kid: Option<&str>| JwsHeader {
        alg,
        kid: kid.map(ToString::to_string),
    };
    let keys = set(json!([rsa_key("r1"), ec_key("e1")]));
    assert_eq!(
        keys.select(&header(Algorithm::Rs256, Some("r1")))
            .unwrap()
            .kid(),
        Some("r1")
    );
    assert_eq!(
        keys.select(&header(Algorithm::Es256, None)).unwrap().kid(),
        Some("e1")
    );
    assert_eq!(
        keys.select(&header(Algorithm::Rs256, Some("r2"))),
        Err(KeySelectionError::Unknown)
    );
    // An HS256 token cannot even be parsed; an ES256 header naming the RSA key is refused.
    assert_eq!(
        keys.select(&header(Algorithm::Es256, Some("r1"))),
        Err(KeySelectionError::WrongAlgorithm)
    );
    let two_rsa = set(json!([rsa_key("r1"), rsa_key("r2")]));
    assert_eq!(
        two_rsa.select(&header(Algorithm::Rs256, None)),
        Err(KeySelectionError::Ambiguous)
    );
    let same_kid = set(json!([rsa_key("k"), ec_key("k")]));
    assert_eq!(
        same_kid.select(&header(Algorithm::Rs256, Some("k"))),
        Err(KeySelectionError::Ambiguous)
    );
    assert_eq!(
        set(json!([])).select(&header(Algorithm::Rs256, None)),
        Err(KeySelectionError::Unknown)
    );
}

#[test]
fn a_document_without_a_keys_array_is_malformed() {
    for bad in [
        "",
        "[]",
        r#"{"keys":{}}"#,
        r#"{"key":[]}"#,
        r#"[{"keys":[]}]"#,
        "null",
    ] {
        assert_eq!(JwkSet::parse(bad.as_bytes()), Err(MalformedJwkSet), "{bad}");
    }
}

// ---- claims --------------------------------------------------------------------------

const ISSUER: &str = "https://id.example.com";
const CLIENT: &str = "patgate";
const NONCE: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const NOW: u64 = 1_800_000_000;

fn good_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": NOW + 300, "iat": NOW - 5,
        "nonce": NONCE, "email": "Ada@Example.com", "email_verified": true, "name": "Ada"
    })
}

fn judge(claims: &Value) -> Result<crate::jose::claims::ProviderIdentity, ClaimsError> {
    let expected = Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: NONCE,
        now: Timestamp::from_unix_seconds(NOW).unwrap(),
    };
    IdTokenClaims::parse(claims.to_string().as_bytes())?.validate(&expected)
}

fn with(changes: &[(&str, Value)]) -> Value {
    let mut claims = good_claims();
    for (name, value) in changes {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(*name);
        } else {
            claims[*name] = value.clone();
        }
    }
    claims
}

#[test]
fn good_claims_name_the_user_by_issuer_and_subject() {
    let identity = judge(&good_claims()).unwrap();
    assert_eq!(identity.issuer(), ISSUER);
    assert_eq!(identity.subject(), "248289761001");
    assert_eq!(identity.email().as_str(), "ada@example.com");
    assert_eq!(
        identity.user_id(),
        UserId::for_provider_subject(ISSUER, "248289761001")
    );
    // Several audiences are fine when azp names us; fractional dates are allowed.
    assert!(judge(&with(&[
        ("aud", json!(["other", CLIENT])),
        ("azp", json!(CLIENT))
    ]))
    .is_ok());
    assert!(judge(&with(&[("exp", json!((NOW + 10) as f64 + 0.5))])).is_ok());
    assert!(judge(&with(&[("nbf", json!(NOW))])).is_ok());
}

#[test]
fn every_claim_is_checked() {
    use ClaimsError::*;
    let none = Value::Null;
    let cases: Vec<(Vec<(&str, Value)>, ClaimsError)> = vec![
        (
            vec![("iss", json!("https://id.example.com/"))],
            IssuerMismatch,
        ),
        (
            vec![("iss", json!("https://ID.example.com"))],
            IssuerMismatch,
        ),
        (vec![("iss", none.clone())], Malformed),
        (vec![("aud", json!("other"))], AudienceMismatch),
        (vec![("aud", json!([]))], AudienceMismatch),
        (
            vec![("aud", json!(["other", CLIENT]))],
            AuthorizedPartyMismatch,
        ),
        (vec![("azp", json!("other"))], AuthorizedPartyMismatch),
        (vec![("aud", json!(42))], Malformed),
        (vec![("exp", json!(NOW - 60))], Expired),
        (vec![("exp", json!("1800000300"))], Malformed),
        (vec![("exp", none.clone())], Malformed),
        (vec![("iat", json!(NOW + 61))], IssuedInFuture),
        (vec![("iat", json!(NOW - 661))], IssuedTooLongAgo),
        (vec![("iat", json!(-1))], Malformed),
        (vec![("iat", json!(1e300))], Malformed),
        (vec![("nbf", json!(NOW + 61))], NotYetValid),
        (vec![("nonce", json!("other"))], NonceMismatch),
        (vec![("nonce", none.clone())], NonceMismatch),
        (vec![("nonce", json!(&NONCE[1..]))], NonceMismatch),
        (vec![("sub", json!(""))], SubjectInvalid),
        (vec![("sub", json!("x".repeat(256)))], SubjectInvalid),
        (vec![("sub", json!("ädå"))], SubjectInvalid),
        (vec![("sub", json!("a\nb"))], SubjectInvalid),
        (vec![("email", none.clone())], EmailMissing),
        (vec![("email_verified", json!(false))], EmailNotVerified),
        (vec![("email_verified", json!("true"))], EmailNotVerified),
        (vec![("email_verified", none)], EmailNotVerified),
        (vec![("email", json!("not an email"))], EmailMalformed),
    ];
    for (changes, expected) in cases {
        assert_eq!(judge(&with(&changes)).err(), Some(expected), "{changes:?}");
    }
    // The boundaries of the 60-second skew.
    assert!(judge(&with(&[("exp", json!(NOW - 59))])).is_ok());
    assert!(judge(&with(&[("iat", json!(NOW + 60))])).is_ok());
    assert!(judge(&with(&[("iat", json!(NOW - 660)), ("exp", json!(NOW))])).is_ok());
    assert!(judge(&with(&[("nbf", json!(NOW + 60))])).is_ok());
}

#[test]
fn claims_that_are_not_one_json_object_are_malformed() {
    for bad in ["", "[]", "\"iss\"", r#"{"iss":"a","iss":"b"}"#, "{", "null"] {
        assert_eq!(
            IdTokenClaims::parse(bad.as_bytes()).err(),
            Some(ClaimsError::Malformed),
            "{bad}"
        );
    }
}

proptest! {
    #[test]
    fn parsing_never_panics(text in "\\PC{0,400}") {
        let _ = UntrustedJws::parse(&text);
        let _ = JwkSet::parse(text.as_bytes());
        let _ = IdTokenClaims::parse(text.as_bytes());
    }

    #[test]
    fn jws_shaped_input_never_panics(
        header in prop_oneof![Just(r#"{"alg":"RS256"}"#.to_string()), Just(r#"{"alg":"ES256","kid":"k"}"#.to_string()), "\\PC{0,60}"],
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        signature in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let text = format!(
            "{}.{}.{}",
            base64url::encode(header.as_bytes()),
            base64url::encode(&payload),
            base64url::encode(&signature)
        );
        if let Ok(jws) = UntrustedJws::parse(&text) {
            let keys = set(json!([rsa_key("k"), ec_key("e")]));
            if let Ok(verified) = ready(jws.verify(&keys, &Recorder::answering(Ok(true)))) {
                let expected = Expected { issuer: ISSUER, client_id: CLIENT, nonce: NONCE, now: Timestamp::from_unix_seconds(NOW).unwrap() };
                let _ = verified.id_token(&expected);
            }
        }
    }

    #[test]
    fn validation_never_panics_and_admits_only_in_window(
        exp in 0u64..4_000_000_000, iat in 0u64..4_000_000_000, nbf in proptest::option::of(0u64..4_000_000_000)
    ) {
        let mut claims = with(&[("exp", json!(exp)), ("iat", json!(iat))]);
        if let Some(nbf) = nbf {
            claims["nbf"] = json!(nbf);
        }
        if judge(&claims).is_ok() {
            prop_assert!(NOW < exp + 60);
            prop_assert!(iat <= NOW + 60 && NOW.saturating_sub(iat) <= 660);
            prop_assert!(nbf.is_none_or(|nbf| nbf <= NOW + 60));
        }
    }
}
