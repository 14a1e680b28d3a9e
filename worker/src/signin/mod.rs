//! Signing in to the console with the platform's identity provider: the OpenID Connect
//! authorization code flow with PKCE, as plain logic over ports.
//!
//! - `GET /console/auth/login` → [`SignInFlow::start`]: a fresh transaction (the core's
//!   `signin`: state, nonce, PKCE verifier), its signed cookie, and a 302 to the provider's
//!   authorization endpoint from its discovery document.
//! - `GET /console/auth/callback` → [`SignInFlow::finish`]: the transaction from the cookie, the
//!   state compared in constant time, RFC 9207's `iss`, the code exchanged for the ID token, and
//!   the ID token verified (the core's `jose`, the signature by the [`SignatureVerifier`] port).
//!   The console then starts the session.
//!
//! Every failure is a [`SignInFailure`]: logged in full (never with a code or token), and
//! shown on the console's sign-in page as a short code that the page explains.

pub mod provider;

#[cfg(test)]
pub mod fakes;
#[cfg(test)]
mod tests;

use std::fmt;

use patgate_core::jose::claims::{ClaimsError, Expected, ProviderIdentity};
use patgate_core::jose::jwk::KeySelectionError;
use patgate_core::jose::jws::{SignatureVerifier, UntrustedJws, VerifiedJws, VerifyError};
use patgate_core::signin::{
    ReturnPath, SignInTransaction, TransactionError, RANDOM_BYTES_FOR_TRANSACTION,
};
use patgate_core::time::Timestamp;

use crate::config::ProviderSignIn;
use crate::http::Reply;
use crate::runtime::Entropy;
use provider::{oauth_error_code, CodeExchange, Provider, ProviderCache, ProviderFailure};

pub const CALLBACK_PATH: &str = "/console/auth/callback";
/// The scopes asked for: the user's identity and email, nothing else.
const SCOPE: &str = "openid email";
/// Longer authorization codes are refused without being sent anywhere.
const MAX_CODE_LEN: usize = 2048;

/// What the provider sign-in needs from the world besides randomness.
pub trait SignInPorts {
    type Provider: Provider;
    type Verifier: SignatureVerifier;

    fn provider(&self) -> &ProviderCache<Self::Provider>;
    fn verifier(&self) -> &Self::Verifier;
    fn now(&self) -> Timestamp;
}

/// Why a sign-in did not end in a session. `Display` is the log line; [`SignInFailure::code`]
/// is what the user's browser is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// `return_to` is not a path of the console.
    ReturnPathRefused,
    /// A query parameter appears more than once.
    DuplicateParameter(&'static str),
    Transaction(TransactionError),
    StateMismatch,
    /// RFC 9207: the `iss` parameter is another issuer's, or missing though advertised.
    IssuerMismatch,
    MissingCode,
    /// The provider answered the authorization request with `error` (its code, if well-formed).
    ProviderDenied(Option<String>),
    Provider(ProviderFailure),
    IdToken(String),
    Claims(ClaimsError),
    /// Randomness or the ledger failed: try again.
    Unavailable,
}

impl SignInFailure {
    /// The code on the sign-in page (README, "Console API").
    pub fn code(&self) -> &'static str {
        match self {
            Self::ReturnPathRefused => "invalid_return_to",
            Self::Transaction(TransactionError::Missing | TransactionError::Expired) => {
                "sign_in_expired"
            }
            Self::DuplicateParameter(_)
            | Self::Transaction(_)
            | Self::StateMismatch
            | Self::IssuerMismatch
            | Self::MissingCode => "invalid_response",
            Self::ProviderDenied(_) => "provider_denied",
            Self::Provider(ProviderFailure::Unreachable(_)) => "provider_unreachable",
            Self::Provider(ProviderFailure::Unusable(_)) => "provider_error",
            Self::Provider(ProviderFailure::CodeRefused { .. }) => "code_rejected",
            Self::Claims(
                ClaimsError::EmailMissing
                | ClaimsError::EmailNotVerified
                | ClaimsError::EmailMalformed,
            ) => "email_not_verified",
            Self::IdToken(_) | Self::Claims(_) => "id_token_rejected",
            Self::Unavailable => "temporarily_unavailable",
        }
    }

    /// Where the browser goes instead of the console: its sign-in page, told why.
    pub fn page(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("sign_in_error", self.code());
        if let Self::ProviderDenied(Some(error)) = self {
            query.append_pair("provider_error", error);
        }
        format!("/console/?{}#/signin", query.finish())
    }
}

impl fmt::Display for SignInFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReturnPathRefused => f.write_str("return_to is not a console path"),
            Self::DuplicateParameter(name) => write!(f, "the parameter {name} appears twice"),
            Self::Transaction(error) => error.fmt(f),
            Self::StateMismatch => f.write_str("the state is not the sign-in transaction's"),
            Self::IssuerMismatch => f.write_str("the iss parameter is not the configured issuer"),
            Self::MissingCode => f.write_str("the callback has no usable code"),
            Self::ProviderDenied(error) => write!(
                f,
                "the provider answered with error {}",
                error.as_deref().unwrap_or("(not an OAuth error code)")
            ),
            Self::Provider(failure) => failure.fmt(f),
            Self::IdToken(why) => write!(f, "ID token refused: {why}"),
            Self::Claims(error) => write!(f, "ID token refused: {error}"),
            Self::Unavailable => f.write_str("randomness or the ledger is unavailable"),
        }
    }
}

/// A request's query parameters, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The one value of `name`, if present; a parameter given twice is ambiguous, so refused.
    fn single(&self, name: &'static str) -> Result<Option<&str>, SignInFailure> {
        let mut values = self
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let value = values.next();
        match values.next() {
            Some(_) => Err(SignInFailure::DuplicateParameter(name)),
            None => Ok(value),
        }
    }
}

/// The redirect URI registered with the provider: the callback on the console's own origin.
pub fn redirect_uri(own_origin: &str) -> String {
    format!("{own_origin}{CALLBACK_PATH}")
}

/// One sign-in step, for one request.
pub struct SignInFlow<'a, S, E> {
    pub settings: &'a ProviderSignIn,
    pub ports: &'a S,
    pub entropy: &'a E,
}

impl<S: SignInPorts, E: Entropy> SignInFlow<'_, S, E> {
    /// The redirect to the provider, carrying a new transaction in its cookie.
    pub async fn start(&self, query: &Query, own_origin: &str) -> Result<Reply, SignInFailure> {
        let return_to = match query.single("return_to")? {
            None => ReturnPath::console_home(),
            Some(path) => ReturnPath::parse(path).ok_or(SignInFailure::ReturnPathRefused)?,
        };
        let now = self.ports.now();
        let metadata = self
            .ports
            .provider()
            .metadata(self.settings, now)
            .await
            .map_err(SignInFailure::Provider)?;
        let random = self
            .entropy
            .draw::<RANDOM_BYTES_FOR_TRANSACTION>()
            .map_err(|_| SignInFailure::Unavailable)?;
        let transaction = SignInTransaction::start(&random, return_to, now);
        let authorize = metadata.authorization_endpoint.with_query_pairs(&[
            ("response_type", "code"),
            ("client_id", self.settings.client_id()),
            ("redirect_uri", &redirect_uri(own_origin)),
            ("scope", SCOPE),
            ("state", transaction.state()),
            ("nonce", transaction.nonce()),
            ("code_challenge", &transaction.code_challenge()),
            ("code_challenge_method", "S256"),
        ]);
        let cookie = transaction.set_cookie_header(self.settings.cookie_secret());
        Ok(Reply::redirect(302, &authorize)
            .with_header("Set-Cookie", cookie)
            .with_header("Cache-Control", "no-store".to_owned()))
    }

    /// Who signed in, and where they return, from the provider's redirect back.
    pub async fn finish(
        &self,
        query: &Query,
        cookie_header: Option<&str>,
        own_origin: &str,
    ) -> Result<(ProviderIdentity, ReturnPath), SignInFailure> {
        let now = self.ports.now();
        let settings = self.settings;
        let transaction =
            SignInTransaction::from_cookie_header(cookie_header, settings.cookie_secret(), now)
                .map_err(SignInFailure::Transaction)?;
        let state = query.single("state")?.unwrap_or_default();
        if !transaction.state_matches(state) {
            return Err(SignInFailure::StateMismatch);
        }
        let provider = self.ports.provider();
        let metadata = provider
            .metadata(settings, now)
            .await
            .map_err(SignInFailure::Provider)?;
        match query.single("iss")? {
            Some(iss) if iss != settings.issuer() => return Err(SignInFailure::IssuerMismatch),
            None if metadata.iss_parameter => return Err(SignInFailure::IssuerMismatch),
            _ => {}
        }
        if let Some(error) = query.single("error")? {
            return Err(SignInFailure::ProviderDenied(oauth_error_code(error)));
        }
        let code = query
            .single("code")?
            .filter(|code| !code.is_empty() && code.len() <= MAX_CODE_LEN)
            .ok_or(SignInFailure::MissingCode)?;
        let exchange = CodeExchange {
            code,
            redirect_uri: &redirect_uri(own_origin),
            code_verifier: transaction.code_verifier(),
        };
        let id_token = provider
            .exchange_code(settings, &metadata, exchange)
            .await
            .map_err(SignInFailure::Provider)?;
        let jws =
            UntrustedJws::parse(&id_token).map_err(|e| SignInFailure::IdToken(e.to_string()))?;
        let verified = self.verify(&jws, &metadata.jwks_uri, now).await?;
        let expected = Expected {
            issuer: settings.issuer(),
            client_id: settings.client_id(),
            nonce: transaction.nonce(),
            now,
        };
        let identity = verified
            .id_token(&expected)
            .map_err(SignInFailure::Claims)?;
        Ok((identity, transaction.return_to().clone()))
    }

    /// Verifies with the cached keys; a key we do not know makes us fetch the keys once more
    /// (the provider may have rotated them), at most once a minute.
    async fn verify(
        &self,
        jws: &UntrustedJws,
        jwks_uri: &str,
        now: Timestamp,
    ) -> Result<VerifiedJws, SignInFailure> {
        let provider = self.ports.provider();
        let verifier = self.ports.verifier();
        let refused = |error: VerifyError<_>| SignInFailure::IdToken(error.to_string());
        let keys = provider
            .keys(jwks_uri, now)
            .await
            .map_err(SignInFailure::Provider)?;
        match jws.verify(&keys, verifier).await {
            Err(VerifyError::Key(KeySelectionError::Unknown)) => {
                let refetched = provider
                    .refetched_keys(jwks_uri, now)
                    .await
                    .map_err(SignInFailure::Provider)?
                    .ok_or_else(|| {
                        SignInFailure::IdToken(
                            "unknown key, and the keys were fetched again less than a minute ago"
                                .into(),
                        )
                    })?;
                jws.verify(&refetched, verifier).await.map_err(refused)
            }
            result => result.map_err(refused),
        }
    }
}
