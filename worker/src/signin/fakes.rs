//! Test doubles for the provider sign-in: a scriptable provider, a verifier whose "signature"
//! is a hash a test can compute, and the ports that bundle them with a settable clock.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use patgate_core::base64url;
use patgate_core::jose::jwk::PublicKey;
use patgate_core::jose::jws::SignatureVerifier;
use patgate_core::jose::Algorithm;
use patgate_core::time::Timestamp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::provider::{Provider, ProviderCache, ProviderRequest, ProviderResponse, Unreachable};
use super::SignInPorts;
use crate::config::Config;
use crate::testing::at;

pub const ISSUER: &str = "https://id.example.com";
pub const CLIENT_ID: &str = "patgate";
pub const CLIENT_SECRET: &str = "client secret:with/odd chars";
pub const COOKIE_SECRET: &str = "test-only-cookie-secret-0123456789abcdef";
pub const DISCOVERY_URL: &str = "https://id.example.com/.well-known/openid-configuration";
pub const JWKS_URI: &str = "https://id.example.com/jwks";
pub const TOKEN_ENDPOINT: &str = "https://id.example.com/token";

/// A configuration that signs in with the fake provider (and, if asked, development sign-in).
pub fn config(dev_login: bool) -> Config {
    Config::parse(|name| {
        let value = match name {
            "OIDC_ISSUER" => ISSUER,
            "OIDC_CLIENT_ID" => CLIENT_ID,
            "OIDC_CLIENT_SECRET" => CLIENT_SECRET,
            "OIDC_PROVIDER_NAME" => "Example ID",
            "COOKIE_SECRET" => COOKIE_SECRET,
            "DEV_LOGIN" if dev_login => "enabled",
            _ => return None,
        };
        Some(value.to_owned())
    })
}

/// An RSA public key of the right size, named `kid`.
pub fn rsa_jwk(kid: &str) -> Value {
    json!({ "kty": "RSA", "kid": kid, "use": "sig", "e": "AQAB",
            "n": base64url::encode(&[0xc5; 256]) })
}

pub fn ec_jwk(kid: &str) -> Value {
    json!({ "kty": "EC", "crv": "P-256", "kid": kid,
            "x": base64url::encode(&[1; 32]), "y": base64url::encode(&[2; 32]) })
}

/// The signature [`FakeVerifier`] accepts: a hash of the key's id and the signing input.
pub fn fake_signature(alg: Algorithm, kid: &str, signing_input: &str) -> Vec<u8> {
    let digest = Sha256::new()
        .chain_update(kid)
        .chain_update(b"|")
        .chain_update(signing_input)
        .finalize();
    let len = match alg {
        Algorithm::Rs256 => 256,
        Algorithm::Es256 => 64,
    };
    digest.iter().copied().cycle().take(len).collect()
}

/// A compact JWS of `claims` that [`FakeVerifier`] accepts for the key `kid`.
pub fn sign(header: &Value, claims: &Value, kid: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        base64url::encode(header.to_string().as_bytes()),
        base64url::encode(claims.to_string().as_bytes())
    );
    let alg = if header["alg"] == "ES256" {
        Algorithm::Es256
    } else {
        Algorithm::Rs256
    };
    let signature = fake_signature(alg, kid, &signing_input);
    format!("{signing_input}.{}", base64url::encode(&signature))
}

#[derive(Debug, Default)]
pub struct FakeVerifier;

impl SignatureVerifier for FakeVerifier {
    type Error = String;

    fn verify(
        &self,
        algorithm: Algorithm,
        key: &PublicKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, String>> {
        let input = String::from_utf8_lossy(signing_input);
        let expected = fake_signature(algorithm, key.kid().unwrap_or_default(), &input);
        std::future::ready(Ok(expected == signature))
    }
}

/// A provider whose documents and token answer the test sets, and which records requests.
#[derive(Debug)]
pub struct FakeProvider {
    pub discovery: RefCell<Value>,
    pub jwks: RefCell<Value>,
    /// The token endpoint's next answer.
    pub token: RefCell<Result<ProviderResponse, Unreachable>>,
    pub requests: RefCell<Vec<ProviderRequest>>,
    pub down: Cell<bool>,
}

impl Default for FakeProvider {
    fn default() -> Self {
        Self {
            discovery: RefCell::new(json!({
                "issuer": ISSUER,
                "authorization_endpoint": "https://id.example.com/authorize?tenant=t1",
                "token_endpoint": TOKEN_ENDPOINT,
                "jwks_uri": JWKS_URI,
                "authorization_response_iss_parameter_supported": true,
                "code_challenge_methods_supported": ["S256"],
            })),
            jwks: RefCell::new(json!({ "keys": [rsa_jwk("key-1"), ec_jwk("key-ec")] })),
            token: RefCell::new(Err(Unreachable("no token answer scripted".into()))),
            requests: RefCell::default(),
            down: Cell::new(false),
        }
    }
}

impl FakeProvider {
    /// The token endpoint will answer 200 with this ID token.
    pub fn answer_id_token(&self, id_token: &str) {
        let body = json!({ "access_token": "at", "token_type": "Bearer", "id_token": id_token });
        self.answer(200, &body);
    }

    pub fn answer(&self, status: u16, body: &Value) {
        *self.token.borrow_mut() = Ok(ProviderResponse {
            status,
            body: body.to_string().into_bytes(),
        });
    }

    /// How many requests went to `url`.
    pub fn fetches_of(&self, url: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|r| r.url == url)
            .count()
    }
}

impl Provider for Rc<FakeProvider> {
    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, Unreachable> {
        self.requests.borrow_mut().push(request.clone());
        if self.down.get() {
            return Err(Unreachable("injected: provider down".into()));
        }
        let document = |value: &Value| ProviderResponse {
            status: 200,
            body: value.to_string().into_bytes(),
        };
        match request.url.as_str() {
            DISCOVERY_URL => Ok(document(&self.discovery.borrow())),
            JWKS_URI => Ok(document(&self.jwks.borrow())),
            TOKEN_ENDPOINT => self.token.borrow().clone(),
            _ => Ok(ProviderResponse {
                status: 404,
                body: Vec::new(),
            }),
        }
    }
}

/// The ports over the fake provider, at a settable offset from the tests' start time.
#[derive(Debug)]
pub struct FakePorts {
    pub provider: Rc<FakeProvider>,
    pub cache: ProviderCache<Rc<FakeProvider>>,
    pub verifier: FakeVerifier,
    pub offset: Cell<u64>,
}

impl Default for FakePorts {
    fn default() -> Self {
        let provider = Rc::new(FakeProvider::default());
        Self {
            cache: ProviderCache::new(Rc::clone(&provider)),
            provider,
            verifier: FakeVerifier,
            offset: Cell::new(0),
        }
    }
}

impl SignInPorts for FakePorts {
    type Provider = Rc<FakeProvider>;
    type Verifier = FakeVerifier;

    fn provider(&self) -> &ProviderCache<Rc<FakeProvider>> {
        &self.cache
    }

    fn verifier(&self) -> &FakeVerifier {
        &self.verifier
    }

    fn now(&self) -> Timestamp {
        at(self.offset.get())
    }
}
