//! Talking to the API, and turning every outcome into a message and an exit code.

use std::io::Read;
use std::time::Duration;

use patgate_core::time::Timestamp;
use serde::{Deserialize, Deserializer};

use crate::api_url::ApiUrl;
use crate::token::Token;

/// Exit codes, documented in README ("The reis CLI").
pub mod exit {
    pub const OK: u8 = 0;
    /// No token, or the token is malformed, unknown, expired or deleted.
    pub const TOKEN: u8 = 1;
    /// Bad usage (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The API could not be reached.
    pub const NETWORK: u8 = 3;
    /// Any other 4xx.
    pub const CLIENT_ERROR: u8 = 4;
    /// A 5xx.
    pub const SERVER_ERROR: u8 = 5;
}

/// A failure with what to tell the user and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }
}

/// What `/auth/v1/verify` says about a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Verified {
    pub user: VerifiedUser,
    pub token: VerifiedToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifiedUser {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifiedToken {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "rfc3339")]
    pub created_at: Timestamp,
    /// `None`: the token never expires.
    #[serde(default, deserialize_with = "optional_rfc3339")]
    pub expires_at: Option<Timestamp>,
}

/// An RFC 3339 instant as the API writes it (`2026-11-23T10:00:00Z`); anything else is an error.
fn rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    Timestamp::parse_rfc3339(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("{text:?} is not a time like 2026-11-23T10:00:00Z"))
    })
}

fn optional_rfc3339<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    #[derive(Deserialize)]
    struct Instant(#[serde(deserialize_with = "rfc3339")] Timestamp);
    Ok(Option::<Instant>::deserialize(deserializer)?.map(|Instant(at)| at))
}

#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// An HTTP client bound to one API and one token. `Debug` shows only the token's hint.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    api_url: ApiUrl,
    token: Token,
}

impl Client {
    pub fn new(api_url: &ApiUrl, token: &Token) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("reis/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent,
            api_url: api_url.clone(),
            token: token.clone(),
        }
    }

    /// Sends a request with the Bearer token. Non-2xx statuses are returned, not errors.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<ApiResponse, Failure> {
        let url = format!("{}{path}", self.api_url);
        let mut request = self
            .agent
            .request(method, &url)
            .set("Authorization", &format!("Bearer {}", self.token.expose()));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let outcome = match body {
            Some(bytes) => request.send_bytes(bytes),
            None => request.call(),
        };
        let response = match outcome {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(transport)) => {
                return Err(Failure::new(
                    exit::NETWORK,
                    format!("could not reach {}: {transport}", self.api_url),
                ))
            }
        };
        let status = response.status();
        let mut body = Vec::new();
        response
            .into_reader()
            .take(64 * 1024 * 1024)
            .read_to_end(&mut body)
            .map_err(|e| {
                Failure::new(exit::NETWORK, format!("reading the response failed: {e}"))
            })?;
        Ok(ApiResponse { status, body })
    }

    pub fn verify(&self) -> Result<Verified, Failure> {
        let response = self.send("GET", "/auth/v1/verify", &[], None)?;
        if response.status != 200 {
            return Err(self.explain(response.status, &response.body));
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            Failure::new(
                exit::SERVER_ERROR,
                format!(
                    "{} did not answer like a patgate API ({})",
                    self.api_url,
                    redact(&e.to_string(), self.token.expose())
                ),
            )
        })
    }

    /// A distinct, actionable message for each failing status. Never contains the token.
    pub fn explain(&self, status: u16, body: &[u8]) -> Failure {
        let hint = self.token.hint();
        let detail = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .map(|m| format!(" ({})", redact(&m, self.token.expose())))
            .unwrap_or_default();
        match status {
            401 => Failure::new(
                exit::TOKEN,
                format!(
                    "the API rejected token {hint}…: it is invalid, expired or deleted. \
                     Create a new one in the console ({}) and run `reis auth login`",
                    self.api_url.console()
                ),
            ),
            403 => Failure::new(
                exit::CLIENT_ERROR,
                format!("token {hint}… is valid but not allowed to do this (403){detail}"),
            ),
            503 => Failure::new(
                exit::SERVER_ERROR,
                "the token service is temporarily unavailable (503); your token was not rejected, \
                 so keep it and retry shortly",
            ),
            400..=499 => Failure::new(
                exit::CLIENT_ERROR,
                format!("request refused: HTTP {status}{detail}"),
            ),
            _ => Failure::new(
                exit::SERVER_ERROR,
                format!("the API failed: HTTP {status}{detail}"),
            ),
        }
    }
}

/// Replaces a token with its hint wherever it appears in a message.
pub fn redact(text: &str, token: &str) -> String {
    if token.is_empty() {
        return text.to_owned();
    }
    text.replace(token, &format!("{}…", patgate_core::token::hint_of(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::token::tests::VALID as TOKEN;

    fn client(api_url: &str) -> Client {
        Client::new(
            &ApiUrl::parse(api_url).unwrap(),
            &Token::parse(TOKEN).unwrap(),
        )
    }

    #[test]
    fn each_status_has_its_own_message_and_code_without_the_token() {
        let client = client("http://localhost:1/");
        let cases = [
            (401, exit::TOKEN),
            (403, exit::CLIENT_ERROR),
            (404, exit::CLIENT_ERROR),
            (503, exit::SERVER_ERROR),
            (500, exit::SERVER_ERROR),
        ];
        let body = format!("{{\"message\":\"echo {TOKEN}\"}}");
        let mut messages = std::collections::HashSet::new();
        for (status, code) in cases {
            let failure = client.explain(status, body.as_bytes());
            assert_eq!(failure.code, code, "{status}");
            assert!(
                !failure.message.contains(TOKEN),
                "{status}: {}",
                failure.message
            );
            messages.insert(failure.message);
        }
        assert_eq!(messages.len(), cases.len());
        assert!(client.explain(503, b"").message.contains("not rejected"));
    }

    #[test]
    fn redaction_keeps_only_the_hint() {
        assert_eq!(redact(&format!("bad {TOKEN}!"), TOKEN), "bad pat_mavz…!");
    }

    #[test]
    fn an_unreachable_api_is_a_network_failure() {
        // Port 1 on loopback refuses connections at once.
        let failure = client("http://127.0.0.1:1").verify().unwrap_err();
        assert_eq!(failure.code, exit::NETWORK);
        assert!(!failure.message.contains(TOKEN));
    }

    #[test]
    fn verify_answers_carry_parsed_times_and_a_malformed_time_is_an_error() {
        let answer = |expires_at: &str| {
            serde_json::from_str::<Verified>(&format!(
                r#"{{"user": {{"id": "u", "email": "a@example.com"}},
                    "token": {{"id": "t", "name": "n", "created_at": "2026-11-01T00:00:00Z",
                               "expires_at": {expires_at}}}}}"#
            ))
        };
        let at = Timestamp::parse_rfc3339("2026-11-30T00:00:00Z");
        assert_eq!(
            answer(r#""2026-11-30T00:00:00Z""#)
                .unwrap()
                .token
                .expires_at,
            at
        );
        assert_eq!(answer("null").unwrap().token.expires_at, None);
        let garbage = answer(r#""garbage""#).unwrap_err().to_string();
        assert!(garbage.contains("\"garbage\" is not a time"), "{garbage}");
    }
}
