//! The Worker's one error type and the one place where errors become HTTP answers.
//!
//! Internal detail (storage messages, record contents) never reaches a client: it is logged
//! by the caller and the client gets a fixed message.

use std::fmt;

use patgate_core::bearer::AuthorizationError;

/// The realm named in every bearer challenge.
pub const REALM: &str = "patgate";
/// The challenge of the admin API, whose credential is not a token.
const ADMIN_CHALLENGE: &str = "Bearer realm=\"patgate-admin\"";
/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No bearer credentials (or another scheme) on a PAT-protected route.
    BearerRequired,
    /// The Authorization header could not be read (RFC 6750 `invalid_request`).
    InvalidAuthorization(AuthorizationError),
    /// Malformed, mistyped, unknown, expired or deleted token: one answer for all.
    InvalidToken,
    /// A PAT was presented where only a browser session is accepted.
    TokensCannotManageTokens,
    /// A console request without a valid session.
    NotSignedIn,
    /// A state-changing console request that failed the CSRF defences.
    CrossSiteRequest(&'static str),
    UnsupportedMediaType,
    /// The body is too large; the message says what the limit is.
    PayloadTooLarge(String),
    /// The request body was refused; the message says why.
    InvalidBody(String),
    NotFound,
    MethodNotAllowed(&'static str),
    /// The user already has the maximum number of tokens.
    TokenLimitReached,
    /// Too many requests from this client address; retry after this many seconds.
    RateLimited(u32),
    /// The token store or ledger failed: fail closed.
    StoreUnavailable,
    /// The origin API could not be reached.
    OriginUnreachable,
    /// The origin API did not begin its answer within `ORIGIN_TIMEOUT_SECONDS`.
    OriginTimeout,
    /// Forwarding (or echo) is not configured, or configured badly (the log names the setting).
    GatewayMisconfigured,
    /// Sign-in with the identity provider is not configured, or configured badly.
    SignInMisconfigured,
    /// The runtime failed in a way the client cannot fix (logged, never described).
    Internal,
    /// A capability is disabled by a bad setting (named in the log when it was parsed).
    Misconfigured(&'static str),
    /// A secret-scanning report without a signature that verifies with the scanner's key.
    SignatureRefused,
    /// The admin API without its credential, or with another one.
    AdminCredentialRefused,
    /// A personal access token presented to the admin API.
    TokenNotAdmin,
}

impl ApiError {
    /// A body over `limit` bytes.
    pub fn body_over(limit: usize) -> Self {
        Self::PayloadTooLarge(format!(
            "request bodies here are limited to {} KB",
            limit / 1024
        ))
    }
}

impl ApiError {
    /// Whether this error's answer is the same whatever the request, so that it can be made
    /// once per isolate (`platform::entry`): false for the variants that carry a message or a
    /// number of their own. Every variant is named, so a new one needs a decision.
    pub fn answer_is_fixed(&self) -> bool {
        match self {
            Self::PayloadTooLarge(_) | Self::InvalidBody(_) | Self::RateLimited(_) => false,
            Self::BearerRequired
            | Self::InvalidAuthorization(_)
            | Self::InvalidToken
            | Self::TokensCannotManageTokens
            | Self::NotSignedIn
            | Self::CrossSiteRequest(_)
            | Self::UnsupportedMediaType
            | Self::NotFound
            | Self::MethodNotAllowed(_)
            | Self::TokenLimitReached
            | Self::StoreUnavailable
            | Self::OriginUnreachable
            | Self::OriginTimeout
            | Self::GatewayMisconfigured
            | Self::SignInMisconfigured
            | Self::Internal
            | Self::Misconfigured(_)
            | Self::SignatureRefused
            | Self::AdminCredentialRefused
            | Self::TokenNotAdmin => true,
        }
    }
}

impl From<worker::Error> for ApiError {
    fn from(error: worker::Error) -> Self {
        crate::log::error(&format!("runtime error: {error}"));
        Self::Internal
    }
}

/// Everything an error response consists of, independent of the HTTP library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn to_response_parts(&self) -> ErrorResponse {
        let bearer = |error: Option<&str>| match error {
            None => format!("Bearer realm=\"{REALM}\""),
            Some(code) => format!("Bearer realm=\"{REALM}\", error=\"{code}\""),
        };
        let (status, code, message, headers): (u16, &'static str, String, Vec<_>) = match self {
            Self::BearerRequired => (
                401,
                "unauthorized",
                "authentication required: send Authorization: Bearer <token>".into(),
                vec![("WWW-Authenticate", bearer(None))],
            ),
            Self::InvalidAuthorization(reason) => (
                400,
                "invalid_request",
                reason.to_string(),
                vec![("WWW-Authenticate", bearer(Some("invalid_request")))],
            ),
            Self::InvalidToken => (
                401,
                "invalid_token",
                "the access token is invalid, expired or revoked".into(),
                vec![("WWW-Authenticate", bearer(Some("invalid_token")))],
            ),
            Self::TokensCannotManageTokens => (
                403,
                "insufficient_scope",
                "personal access tokens cannot manage tokens; sign in to the console instead"
                    .into(),
                vec![("WWW-Authenticate", bearer(Some("insufficient_scope")))],
            ),
            Self::NotSignedIn => (
                401,
                "unauthenticated",
                "sign in to the console first".into(),
                vec![],
            ),
            Self::CrossSiteRequest(why) => (403, "forbidden", (*why).into(), vec![]),
            Self::UnsupportedMediaType => (
                415,
                "unsupported_media_type",
                "send the body as Content-Type: application/json".into(),
                vec![],
            ),
            Self::PayloadTooLarge(message) => (413, "payload_too_large", message.clone(), vec![]),
            Self::InvalidBody(message) => (400, "invalid_request", message.clone(), vec![]),
            Self::NotFound => (404, "not_found", "no such resource".into(), vec![]),
            Self::MethodNotAllowed(allow) => (
                405,
                "method_not_allowed",
                format!("this resource accepts {allow}"),
                vec![("Allow", (*allow).to_owned())],
            ),
            Self::TokenLimitReached => (
                409,
                "token_limit_reached",
                format!(
                    "you already have {} tokens; delete unused ones first",
                    crate::ledger::MAX_TOKENS_PER_USER
                ),
                vec![],
            ),
            Self::RateLimited(seconds) => (
                429,
                "rate_limited",
                format!("too many requests from your address; retry in {seconds} seconds"),
                vec![("Retry-After", seconds.to_string())],
            ),
            Self::StoreUnavailable => (
                503,
                "temporarily_unavailable",
                "the token service is temporarily unavailable; retry shortly".into(),
                vec![("Retry-After", RETRY_AFTER_SECONDS.to_string())],
            ),
            Self::OriginUnreachable => (
                502,
                "bad_gateway",
                "the API origin could not be reached".into(),
                vec![],
            ),
            Self::OriginTimeout => (
                504,
                "gateway_timeout",
                "the API origin did not answer in time".into(),
                vec![],
            ),
            Self::GatewayMisconfigured => (
                500,
                "misconfigured",
                "the gateway is not configured to forward".into(),
                vec![],
            ),
            Self::SignInMisconfigured => (
                500,
                "misconfigured",
                "sign-in with the identity provider is not configured".into(),
                vec![],
            ),
            Self::Internal => (500, "internal_error", "internal error".into(), vec![]),
            Self::Misconfigured(what) => (500, "misconfigured", (*what).into(), vec![]),
            Self::SignatureRefused => (
                401,
                "invalid_signature",
                "the report's Github-Public-Key-Signature does not verify with the key named by \
                 Github-Public-Key-Identifier"
                    .into(),
                vec![],
            ),
            Self::AdminCredentialRefused => (
                401,
                "invalid_credentials",
                "the admin API needs Authorization: Bearer <the admin API secret>".into(),
                vec![("WWW-Authenticate", ADMIN_CHALLENGE.to_owned())],
            ),
            Self::TokenNotAdmin => (
                403,
                "insufficient_scope",
                "a personal access token cannot use the admin API".into(),
                vec![(
                    "WWW-Authenticate",
                    format!("{ADMIN_CHALLENGE}, error=\"insufficient_scope\""),
                )],
            ),
        };
        ErrorResponse {
            status,
            code,
            message,
            headers,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.to_response_parts();
        write!(f, "{} {}: {}", parts.status, parts.code, parts.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_are_503_with_retry_after_never_401() {
        let parts = ApiError::StoreUnavailable.to_response_parts();
        assert_eq!(parts.status, 503);
        assert!(parts.headers.contains(&("Retry-After", "5".to_owned())));
    }

    #[test]
    fn bearer_challenges_follow_rfc_6750() {
        let bare = ApiError::BearerRequired.to_response_parts();
        assert_eq!(
            bare.headers,
            vec![("WWW-Authenticate", "Bearer realm=\"patgate\"".into())]
        );
        let invalid = ApiError::InvalidToken.to_response_parts();
        assert_eq!(
            invalid.headers,
            vec![(
                "WWW-Authenticate",
                "Bearer realm=\"patgate\", error=\"invalid_token\"".into()
            )]
        );
    }
}
