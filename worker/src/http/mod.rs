//! HTTP as plain data: the request parts the handlers read and the replies they build. The
//! platform layer converts to and from the runtime's types in one place, so everything above
//! it runs natively in tests.

use serde::Serialize;

use crate::error::ApiError;

mod request_url;

pub use request_url::RequestUrl;

/// Strict CSP for the console (shared/reference/security.md): scripts, styles and connections
/// only from our own origin, no inline code, no framing.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every console response, API and static files alike.
pub const CONSOLE_HEADERS: [(&str, &str); 5] = [
    ("Content-Security-Policy", CONSOLE_CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
];

/// The address of the client that connected, set by Cloudflare's edge (which replaces any value
/// a client sends) and by `wrangler dev`.
pub const CLIENT_ADDRESS_HEADER: &str = "CF-Connecting-IP";

/// A request method, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// The safe method with a body (draft-ietf-httpbis-safe-method-w-body).
    Query,
    Other(String),
}

impl Method {
    pub fn parse(method: &str) -> Self {
        match method {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            "QUERY" => Self::Query,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether an API request with this method is forwarded (`router::FORWARDED_METHODS`).
    /// Method names are case-sensitive (RFC 9110 §9.1): `get` is not `GET`.
    pub fn is_forwarded(&self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// Methods that must not change state (RFC 9110 §9.2.1), and so skip the CSRF checks.
    pub fn is_safe(&self) -> bool {
        matches!(self, Self::Get | Self::Head | Self::Options)
    }
}

/// Request headers, looked up case-insensitively as HTTP requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// Every value of the header `name`, in order.
    pub fn all<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.0
            .iter()
            .filter(move |(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

/// A complete answer built by a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON body with the API's standard headers.
    pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(body).map_err(|_| ApiError::Internal)?;
        Ok(Self::json_bytes(status, body))
    }

    fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type", "application/json; charset=utf-8".to_owned()),
                ("Cache-Control", "no-store".to_owned()),
                ("X-Content-Type-Options", "nosniff".to_owned()),
            ],
            body,
        }
    }

    pub fn no_content() -> Self {
        Self {
            status: 204,
            headers: vec![("Cache-Control", "no-store".to_owned())],
            body: Vec::new(),
        }
    }

    pub fn redirect(status: u16, location: &str) -> Self {
        Self {
            status,
            headers: vec![("Location", location.to_owned())],
            body: Vec::new(),
        }
    }

    /// The one place where an [`ApiError`] becomes an HTTP answer.
    pub fn error(error: &ApiError) -> Self {
        /// RFC 6750's error body: the code, and a message for people.
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            error: &'a str,
            message: &'a str,
        }
        let parts = error.to_response_parts();
        let body = ErrorBody {
            error: parts.code,
            message: &parts.message,
        };
        #[allow(clippy::expect_used)]
        let body = serde_json::to_vec(&body).expect("two strings always serialize to JSON");
        let mut reply = Self::json_bytes(parts.status, body);
        for (name, value) in parts.headers {
            reply.set_header(name, value);
        }
        reply
    }

    /// Replaces any header of that name.
    pub fn set_header(&mut self, name: &'static str, value: String) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name, value));
    }

    /// Adds a header, keeping others of the same name (`Set-Cookie`).
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_console_headers(mut self) -> Self {
        for (name, value) in CONSOLE_HEADERS {
            self.set_header(name, value.to_owned());
        }
        self
    }

    #[cfg(test)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive() {
        let headers: Headers = [("content-type", "application/json")].into_iter().collect();
        assert_eq!(headers.get("Content-Type"), Some("application/json"));
        assert_eq!(headers.get("Accept"), None);
    }

    #[test]
    fn unknown_methods_are_kept_as_received() {
        assert_eq!(Method::parse("PROPFIND"), Method::Other("PROPFIND".into()));
        assert_eq!(Method::parse("GET"), Method::Get);
        assert!(Method::Options.is_safe() && !Method::Post.is_safe());
    }

    #[test]
    fn errors_are_json_with_their_headers() {
        let reply = Reply::error(&ApiError::StoreUnavailable);
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("retry-after"), Some("5"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
}
