//! The identity provider as the sign-in sees it: its discovery document, its keys and its
//! token endpoint, over a small [`Provider`] port (fetch in workerd, a fake in tests), cached
//! per isolate by [`ProviderCache`].

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use patgate_core::jose::jwk::JwkSet;
use patgate_core::time::Timestamp;
use serde::Deserialize;

use crate::config::{ProviderSignIn, SecureUrl};

/// Discovery and keys are fetched again after this long.
pub const CACHE_SECONDS: u64 = 600;
/// A JWS signed with a key we do not know makes us fetch the keys again (the provider may have
/// rotated them), but at most this often, so forged tokens cannot make us hammer the provider.
pub const KEY_REFETCH_INTERVAL_SECONDS: u64 = 60;

/// One HTTP request to the provider. Sent without following redirects, with a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// No answer: a network failure, a timeout, or a body over the size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

/// HTTP to the identity provider.
#[allow(async_fn_in_trait)]
pub trait Provider {
    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, Unreachable>;
}

/// Why the provider did not give us what we asked. Messages are for the log: they never
/// contain a code, a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFailure {
    /// No answer, or an error status from a document endpoint.
    Unreachable(String),
    /// A discovery, key or token document that is malformed or unacceptable.
    Unusable(String),
    /// The token endpoint refused the code (say, `invalid_grant` for a code used twice).
    CodeRefused { status: u16, error: Option<String> },
}

impl fmt::Display for ProviderFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "the identity provider is unreachable: {why}"),
            Self::Unusable(why) => write!(f, "the identity provider's answer is unusable: {why}"),
            Self::CodeRefused { status, error } => write!(
                f,
                "the token endpoint refused the code: {status} {}",
                error.as_deref().unwrap_or("(no error code)")
            ),
        }
    }
}

impl From<Unreachable> for ProviderFailure {
    fn from(Unreachable(why): Unreachable) -> Self {
        Self::Unreachable(why)
    }
}

/// An OAuth error code (RFC 6749 §4.1.2.1, §5.2), if it is one: these are short words of
/// `[a-z_]`, and anything else is not repeated anywhere.
pub fn oauth_error_code(text: &str) -> Option<String> {
    let plausible =
        (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    plausible.then(|| text.to_owned())
}

/// The parameters of the code exchange that come from the sign-in.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: &'a str,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
}

/// What the discovery document says, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub authorization_endpoint: SecureUrl,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// RFC 9207: the provider puts `iss` in its authorization responses.
    pub iss_parameter: bool,
}

#[derive(Deserialize)]
struct RawMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

impl ProviderMetadata {
    /// Parses a discovery document for the configured issuer (OpenID Connect Discovery §4.3:
    /// its `issuer` must be exactly the one we asked).
    pub fn parse(json: &[u8], issuer: &str) -> Result<Self, ProviderFailure> {
        let unusable = |why: &str| ProviderFailure::Unusable(format!("discovery: {why}"));
        let raw: RawMetadata = serde_json::from_slice(json)
            .map_err(|_| unusable("not a JSON object with the required endpoints"))?;
        if raw.issuer != issuer {
            return Err(unusable("its issuer is not the configured OIDC_ISSUER"));
        }
        let lacks = |list: &Option<Vec<String>>, wanted: &str| {
            list.as_ref()
                .is_some_and(|list| !list.iter().any(|item| item == wanted))
        };
        if lacks(&raw.code_challenge_methods_supported, "S256") {
            return Err(unusable("PKCE S256 is not supported"));
        }
        if lacks(
            &raw.token_endpoint_auth_methods_supported,
            "client_secret_basic",
        ) {
            return Err(unusable("client_secret_basic is not supported"));
        }
        let endpoint = |text: &str| {
            SecureUrl::parse(text).ok_or_else(|| {
                unusable(
                    "an endpoint is not an https URL (or loopback http) in plain form: ASCII, a \
                 lowercase host, no spaces or dot segments",
                )
            })
        };
        let authorization_endpoint = endpoint(&raw.authorization_endpoint)?;
        endpoint(&raw.token_endpoint)?;
        endpoint(&raw.jwks_uri)?;
        Ok(Self {
            authorization_endpoint,
            token_endpoint: raw.token_endpoint,
            jwks_uri: raw.jwks_uri,
            iss_parameter: raw.authorization_response_iss_parameter_supported,
        })
    }
}

#[derive(Debug)]
struct Cached<T> {
    /// The URL it was fetched from: another configuration, another entry.
    source: String,
    fetched_at: Timestamp,
    value: Rc<T>,
}

impl<T> Cached<T> {
    fn fresh(&self, source: &str, now: Timestamp) -> Option<Rc<T>> {
        (self.source == source && now.seconds_since(self.fetched_at) < CACHE_SECONDS)
            .then(|| Rc::clone(&self.value))
    }
}

#[derive(Debug, Default)]
struct CacheState {
    metadata: Option<Cached<ProviderMetadata>>,
    keys: Option<Cached<JwkSet>>,
    /// When the keys were last fetched again because of an unknown key.
    last_key_refetch: Option<Timestamp>,
}

/// The provider behind a per-isolate cache of its discovery document and keys. No borrow of
/// the cache is held across an await: concurrent requests at worst fetch twice.
#[derive(Debug)]
pub struct ProviderCache<P> {
    provider: P,
    state: RefCell<CacheState>,
}

impl<P: Provider> ProviderCache<P> {
    pub fn new(provider: P) -> Self {
        Self {
            provider,
            state: RefCell::default(),
        }
    }

    pub async fn metadata(
        &self,
        settings: &ProviderSignIn,
        now: Timestamp,
    ) -> Result<Rc<ProviderMetadata>, ProviderFailure> {
        let url = settings.discovery_url();
        let cached = self
            .state
            .borrow()
            .metadata
            .as_ref()
            .and_then(|c| c.fresh(&url, now));
        if let Some(metadata) = cached {
            return Ok(metadata);
        }
        let body = self.get(&url).await?;
        let metadata = Rc::new(ProviderMetadata::parse(&body, settings.issuer())?);
        self.state.borrow_mut().metadata = Some(Cached {
            source: url,
            fetched_at: now,
            value: Rc::clone(&metadata),
        });
        Ok(metadata)
    }

    /// The provider's keys, from the cache while they are fresh.
    pub async fn keys(
        &self,
        jwks_uri: &str,
        now: Timestamp,
    ) -> Result<Rc<JwkSet>, ProviderFailure> {
        let cached = self
            .state
            .borrow()
            .keys
            .as_ref()
            .and_then(|c| c.fresh(jwks_uri, now));
        match cached {
            Some(keys) => Ok(keys),
            None => self.fetch_keys(jwks_uri, now).await,
        }
    }

    /// The keys fetched again after a JWS named a key we do not have, unless that was already
    /// done in the last minute (`None`: the key stays unknown).
    pub async fn refetched_keys(
        &self,
        jwks_uri: &str,
        now: Timestamp,
    ) -> Result<Option<Rc<JwkSet>>, ProviderFailure> {
        {
            let mut state = self.state.borrow_mut();
            let recently = state
                .last_key_refetch
                .is_some_and(|at| now.seconds_since(at) < KEY_REFETCH_INTERVAL_SECONDS);
            if recently {
                return Ok(None);
            }
            state.last_key_refetch = Some(now);
        }
        self.fetch_keys(jwks_uri, now).await.map(Some)
    }

    async fn fetch_keys(
        &self,
        jwks_uri: &str,
        now: Timestamp,
    ) -> Result<Rc<JwkSet>, ProviderFailure> {
        let body = self.get(jwks_uri).await?;
        let keys = JwkSet::parse(&body)
            .map_err(|error| ProviderFailure::Unusable(format!("keys: {error}")))?;
        let keys = Rc::new(keys);
        self.state.borrow_mut().keys = Some(Cached {
            source: jwks_uri.to_owned(),
            fetched_at: now,
            value: Rc::clone(&keys),
        });
        Ok(keys)
    }

    /// Exchanges the authorization code for the ID token (RFC 6749 §4.1.3, with the PKCE
    /// verifier), authenticating with `client_secret_basic`.
    pub async fn exchange_code(
        &self,
        settings: &ProviderSignIn,
        metadata: &ProviderMetadata,
        exchange: CodeExchange<'_>,
    ) -> Result<String, ProviderFailure> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", exchange.code)
            .append_pair("redirect_uri", exchange.redirect_uri)
            .append_pair("code_verifier", exchange.code_verifier)
            .finish();
        let request = ProviderRequest {
            method: "POST",
            url: metadata.token_endpoint.clone(),
            headers: vec![
                ("Authorization", client_secret_basic(settings)),
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("Accept", "application/json".to_owned()),
            ],
            body: Some(body),
        };
        let response = self.provider.send(request).await?;
        if response.status != 200 {
            let error = serde_json::from_slice::<TokenError>(&response.body)
                .ok()
                .and_then(|body| oauth_error_code(&body.error));
            return Err(ProviderFailure::CodeRefused {
                status: response.status,
                error,
            });
        }
        serde_json::from_slice::<TokenResponse>(&response.body)
            .map(|tokens| tokens.id_token)
            .map_err(|_| ProviderFailure::Unusable("the token response has no id_token".into()))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, ProviderFailure> {
        let request = ProviderRequest {
            method: "GET",
            url: url.to_owned(),
            headers: vec![("Accept", "application/json".to_owned())],
            body: None,
        };
        let response = self.provider.send(request).await?;
        if response.status != 200 {
            return Err(ProviderFailure::Unreachable(format!(
                "{url} answered {}",
                response.status
            )));
        }
        Ok(response.body)
    }
}

/// `Authorization: Basic` with the client id and secret, each form-urlencoded first as
/// RFC 6749 §2.3.1 requires.
fn client_secret_basic(settings: &ProviderSignIn) -> String {
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!(
        "{}:{}",
        encode(settings.client_id()),
        encode(settings.client_secret())
    );
    format!("Basic {}", BASE64.encode(pair))
}
