//! The provider sign-in natively: the real flow and the real core over a fake provider and a
//! fake verifier, step by step and against each attack. Long because it is the catalogue of
//! attacks, a few lines each.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use futures_executor::block_on;
use patgate_core::jose::claims::ClaimsError;
use patgate_core::signin::TransactionError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::fakes::{
    config, rsa_jwk, sign, FakePorts, CLIENT_ID, CLIENT_SECRET, DISCOVERY_URL, ISSUER, JWKS_URI,
    TOKEN_ENDPOINT,
};
use super::provider::{ProviderFailure, Unreachable, KEY_REFETCH_INTERVAL_SECONDS};
use super::*;
use crate::config::Config;
use crate::testing::{CountingEntropy, START};

const ORIGIN: &str = "https://api.example.com";

struct Setup {
    ports: FakePorts,
    config: Config,
    entropy: CountingEntropy,
}

/// A sign-in started in one browser: its transaction cookie and what went to the provider.
struct Started {
    cookie: String,
    params: HashMap<String, String>,
}

impl Setup {
    fn new() -> Self {
        Self {
            ports: FakePorts::default(),
            config: config(false),
            entropy: CountingEntropy::default(),
        }
    }

    fn flow(&self) -> SignInFlow<'_, FakePorts, CountingEntropy> {
        SignInFlow {
            settings: self.config.sign_in.as_ref().unwrap(),
            ports: &self.ports,
            entropy: &self.entropy,
        }
    }

    fn start(&self, query: &str) -> Result<Reply, SignInFailure> {
        block_on(self.flow().start(&Query::parse(Some(query)), ORIGIN))
    }

    fn begin(&self) -> Started {
        let reply = self.start("").unwrap();
        assert_eq!(reply.status, 302);
        let location = Url::parse(reply.header("location").unwrap()).unwrap();
        let set_cookie = reply.header("set-cookie").unwrap();
        Started {
            cookie: set_cookie.split(';').next().unwrap().to_owned(),
            params: location.query_pairs().into_owned().collect(),
        }
    }

    /// Claims the provider would sign for this sign-in, with `changes` applied.
    fn claims(&self, started: &Started, changes: &[(&str, Value)]) -> Value {
        let now = self.ports.now().unix_seconds();
        let mut claims = json!({
            "iss": ISSUER, "sub": "248289761001", "aud": CLIENT_ID, "exp": now + 300,
            "iat": now, "nonce": started.params["nonce"], "email": "ada@example.com",
            "email_verified": true,
        });
        for (name, value) in changes {
            claims[*name] = value.clone();
        }
        claims
    }

    /// Scripts the token endpoint to answer with an RS256 token signed by `kid`.
    fn provider_signs(&self, started: &Started, kid: &str, changes: &[(&str, Value)]) {
        let header = json!({ "alg": "RS256", "kid": kid, "typ": "JWT" });
        let token = sign(&header, &self.claims(started, changes), kid);
        self.ports.provider.answer_id_token(&token);
    }

    /// The provider's redirect back, as the browser that started `started` delivers it.
    fn callback(&self, started: &Started, query: &str) -> Result<(String, String), SignInFailure> {
        let query = Query::parse(Some(query));
        block_on(self.flow().finish(&query, Some(&started.cookie), ORIGIN))
            .map(|(identity, return_to)| (identity.user_id().as_str().to_owned(), return_to.into()))
    }

    fn good_callback(&self, started: &Started) -> Result<(String, String), SignInFailure> {
        let state = &started.params["state"];
        self.callback(started, &format!("code=abc&state={state}&iss={ISSUER}"))
    }
}

#[test]
fn login_redirects_to_the_provider_with_pkce_state_and_nonce() {
    let setup = Setup::new();
    let reply = setup.start("return_to=/console/%23/activity").unwrap();
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let location = Url::parse(reply.header("location").unwrap()).unwrap();
    assert_eq!(location.origin().ascii_serialization(), ISSUER);
    assert_eq!(location.path(), "/authorize");
    let params: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(params["tenant"], "t1", "the endpoint's own query is kept");
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(
        params["redirect_uri"],
        "https://api.example.com/console/auth/callback"
    );
    assert_eq!(params["scope"], "openid email");
    assert_eq!(params["code_challenge_method"], "S256");
    for name in ["state", "nonce", "code_challenge"] {
        assert_eq!(params[name].len(), 43, "{name}");
    }
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-patgate_signin=v1."));
    assert!(cookie.contains("SameSite=Lax"));
    // The cookie carries neither state nor nonce in the clear.
    assert!(!cookie.contains(&params["state"]) && !cookie.contains(&params["nonce"]));
}

#[test]
fn the_full_flow_exchanges_the_code_with_the_verifier_and_client_secret_basic() {
    let setup = Setup::new();
    let started = setup.begin();
    setup.provider_signs(&started, "key-1", &[]);
    let (user_id, return_to) = setup.good_callback(&started).unwrap();
    assert_eq!(return_to, "/console/");
    assert_eq!(
        user_id,
        patgate_core::identity::UserId::for_provider_subject(ISSUER, "248289761001").as_str()
    );

    let requests = setup.ports.provider.requests.borrow();
    let token_request = requests.iter().find(|r| r.url == TOKEN_ENDPOINT).unwrap();
    assert_eq!(token_request.method, "POST");
    let header = |name: &str| {
        token_request
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = header("Authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let decoded = String::from_utf8(BASE64.decode(basic).unwrap()).unwrap();
    assert_eq!(decoded, "patgate:client+secret%3Awith%2Fodd+chars");
    assert!(decoded
        .ends_with(&form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>()));
    assert_eq!(
        header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: HashMap<String, String> =
        form_urlencoded::parse(token_request.body.as_deref().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "abc");
    assert_eq!(
        form["redirect_uri"],
        "https://api.example.com/console/auth/callback"
    );
    let challenge = base64url::encode(&Sha256::digest(form["code_verifier"].as_bytes()));
    assert_eq!(challenge, started.params["code_challenge"]);
    assert!(
        !form.contains_key("client_secret"),
        "the secret travels only in the header"
    );
}

use patgate_core::base64url;

#[test]
fn every_attack_ends_without_an_identity() {
    use SignInFailure as F;
    let setup = Setup::new();
    let started = setup.begin();
    let state = started.params["state"].clone();
    let check = |failure: Result<(String, String), SignInFailure>, expected: SignInFailure| {
        assert_eq!(failure.err(), Some(expected));
    };

    // The transaction: absent (a login CSRF: another browser's callback), or foreign.
    let other_browser = Started {
        cookie: "theme=dark".into(),
        params: started.params.clone(),
    };
    setup.provider_signs(&started, "key-1", &[]);
    check(
        setup.good_callback(&other_browser),
        F::Transaction(TransactionError::Missing),
    );
    let somebody_elses = setup.begin();
    let crossed = Started {
        cookie: somebody_elses.cookie,
        params: started.params.clone(),
    };
    check(setup.good_callback(&crossed), F::StateMismatch);

    // The state and the other parameters of the redirect back.
    check(
        setup.callback(&started, &format!("code=abc&iss={ISSUER}")),
        F::StateMismatch,
    );
    check(
        setup.callback(&started, &format!("code=abc&state=x&iss={ISSUER}")),
        F::StateMismatch,
    );
    check(
        setup.callback(
            &started,
            &format!("code=abc&state={state}&state={state}&iss={ISSUER}"),
        ),
        F::DuplicateParameter("state"),
    );
    check(
        setup.callback(&started, &format!("code=abc&state={state}")),
        F::IssuerMismatch,
    );
    check(
        setup.callback(
            &started,
            &format!("code=abc&state={state}&iss=https://evil.example"),
        ),
        F::IssuerMismatch,
    );
    check(
        setup.callback(&started, &format!("state={state}&iss={ISSUER}")),
        F::MissingCode,
    );
    check(
        setup.callback(
            &started,
            &format!("error=access_denied&state={state}&iss={ISSUER}"),
        ),
        F::ProviderDenied(Some("access_denied".into())),
    );
    check(
        setup.callback(
            &started,
            &format!("error=%3Cscript%3E&state={state}&iss={ISSUER}"),
        ),
        F::ProviderDenied(None),
    );

    // The token endpoint.
    setup
        .ports
        .provider
        .answer(400, &json!({ "error": "invalid_grant" }));
    check(
        setup.good_callback(&started),
        F::Provider(ProviderFailure::CodeRefused {
            status: 400,
            error: Some("invalid_grant".into()),
        }),
    );
    setup
        .ports
        .provider
        .answer(200, &json!({ "access_token": "at" }));
    assert!(matches!(
        setup.good_callback(&started),
        Err(F::Provider(ProviderFailure::Unusable(_)))
    ));
    *setup.ports.provider.token.borrow_mut() = Err(Unreachable("timeout".into()));
    check(
        setup.good_callback(&started),
        F::Provider(ProviderFailure::Unreachable("timeout".into())),
    );

    // The ID token.
    let claims = setup.claims(&started, &[]);
    let answer = |token: String| setup.ports.provider.answer_id_token(&token);
    let unsigned = format!(
        "{}.{}.",
        base64url::encode(br#"{"alg":"none"}"#),
        base64url::encode(claims.to_string().as_bytes())
    );
    answer(unsigned);
    check(
        setup.good_callback(&started),
        F::IdToken("the JWS alg is not RS256 or ES256".into()),
    );
    answer(sign(&json!({ "alg": "none" }), &claims, "key-1"));
    check(
        setup.good_callback(&started),
        F::IdToken("the JWS alg is not RS256 or ES256".into()),
    );
    answer(sign(
        &json!({ "alg": "HS256", "kid": "key-1" }),
        &claims,
        "key-1",
    ));
    check(
        setup.good_callback(&started),
        F::IdToken("the JWS alg is not RS256 or ES256".into()),
    );
    answer(sign(
        &json!({ "alg": "RS256", "kid": "key-1" }),
        &claims,
        "another key",
    ));
    check(
        setup.good_callback(&started),
        F::IdToken("the JWS signature does not verify".into()),
    );
    answer(sign(
        &json!({ "alg": "ES256", "kid": "key-1" }),
        &claims,
        "key-1",
    ));
    check(
        setup.good_callback(&started),
        F::IdToken("the key named by the ID token's kid is for another alg".into()),
    );
    for (changes, error) in [
        (
            vec![("iss", json!("https://evil.example"))],
            ClaimsError::IssuerMismatch,
        ),
        (
            vec![("aud", json!("another-client"))],
            ClaimsError::AudienceMismatch,
        ),
        (
            vec![("nonce", json!("another nonce"))],
            ClaimsError::NonceMismatch,
        ),
        (vec![("exp", json!(START - 120))], ClaimsError::Expired),
        (
            vec![("iat", json!(START + 3600))],
            ClaimsError::IssuedInFuture,
        ),
        (
            vec![("email_verified", json!(false))],
            ClaimsError::EmailNotVerified,
        ),
    ] {
        setup.provider_signs(&started, "key-1", &changes);
        check(setup.good_callback(&started), F::Claims(error));
    }

    // And the same browser still completes its own sign-in.
    setup.provider_signs(&started, "key-1", &[]);
    assert!(setup.good_callback(&started).is_ok());

    // Ten minutes later the transaction has expired.
    setup.ports.offset.set(600);
    check(
        setup.good_callback(&started),
        F::Transaction(TransactionError::Expired),
    );
}

#[test]
fn rotated_keys_are_fetched_again_but_at_most_once_a_minute() {
    let setup = Setup::new();
    let provider = &setup.ports.provider;
    let started = setup.begin();
    setup.provider_signs(&started, "key-1", &[]);
    assert!(setup.good_callback(&started).is_ok());
    assert_eq!(provider.fetches_of(JWKS_URI), 1);

    // The provider rotates to key-2: one refetch, and the sign-in succeeds.
    *provider.jwks.borrow_mut() = json!({ "keys": [rsa_jwk("key-2")] });
    setup.provider_signs(&started, "key-2", &[]);
    assert!(setup.good_callback(&started).is_ok());
    assert_eq!(provider.fetches_of(JWKS_URI), 2);
    setup.provider_signs(&started, "key-2", &[]);
    assert!(setup.good_callback(&started).is_ok());
    assert_eq!(provider.fetches_of(JWKS_URI), 2, "the new keys are cached");

    // A token naming an unknown key: no refetch within the minute, one after it.
    setup.provider_signs(&started, "key-unknown", &[]);
    assert!(matches!(
        setup.good_callback(&started),
        Err(SignInFailure::IdToken(_))
    ));
    assert_eq!(provider.fetches_of(JWKS_URI), 2);
    setup.ports.offset.set(KEY_REFETCH_INTERVAL_SECONDS);
    let started = setup.begin();
    setup.provider_signs(&started, "key-unknown", &[]);
    assert!(matches!(
        setup.good_callback(&started),
        Err(SignInFailure::IdToken(_))
    ));
    assert_eq!(provider.fetches_of(JWKS_URI), 3);
    assert!(matches!(
        setup.good_callback(&started),
        Err(SignInFailure::IdToken(_))
    ));
    assert_eq!(provider.fetches_of(JWKS_URI), 3);
}

#[test]
fn discovery_is_cached_and_checked() {
    let setup = Setup::new();
    setup.begin();
    setup.begin();
    assert_eq!(setup.ports.provider.fetches_of(DISCOVERY_URL), 1);

    let setup = Setup::new();
    setup.ports.provider.down.set(true);
    let failure = setup.start("").unwrap_err();
    assert_eq!(failure.code(), "provider_unreachable");

    for (member, value) in [
        ("issuer", json!("https://id.example.com/")),
        ("code_challenge_methods_supported", json!(["plain"])),
        ("token_endpoint", json!("http://id.example.com/token")),
        ("jwks_uri", json!("https://user:pw@id.example.com/jwks")),
    ] {
        let setup = Setup::new();
        setup.ports.provider.discovery.borrow_mut()[member] = value;
        let failure = setup.start("").unwrap_err();
        assert_eq!(failure.code(), "provider_error", "{member}");
    }
}

#[test]
fn return_paths_outside_the_console_are_refused_before_anything_starts() {
    let setup = Setup::new();
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "/auth/v1/verify",
        "/console/../x",
    ] {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", bad)
            .finish();
        assert_eq!(
            setup.start(&query).unwrap_err(),
            SignInFailure::ReturnPathRefused,
            "{bad}"
        );
    }
    assert!(setup.ports.provider.requests.borrow().is_empty());
}

#[test]
fn failures_land_on_the_sign_in_page_with_a_code_and_nothing_else() {
    assert_eq!(
        SignInFailure::StateMismatch.page(),
        "/console/?sign_in_error=invalid_response#/signin"
    );
    assert_eq!(
        SignInFailure::ProviderDenied(Some("access_denied".into())).page(),
        "/console/?sign_in_error=provider_denied&provider_error=access_denied#/signin"
    );
    assert_eq!(
        SignInFailure::Transaction(TransactionError::Expired).code(),
        "sign_in_expired"
    );
    assert_eq!(
        SignInFailure::Claims(ClaimsError::EmailNotVerified).code(),
        "email_not_verified"
    );
}
