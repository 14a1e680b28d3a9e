//! HTTP as plain data: the request parts the handlers read and the replies they build. The
//! platform layer converts to and from the runtime's types in one place, so everything above
//! it runs natively in tests.

use serde::Serialize;

use crate::error::ApiError;

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

/// A request's URL as the runtime serializes it (WHATWG, absolute, `http` or `https`), split
/// without parsing it again: serialization leaves no default port, no empty path, and `?` or `#`
/// inside the path always percent-encoded, so the first `/` after the authority starts the path
/// and the first `?` ends it. The `url` crate is the tests' oracle; the Worker never runs it on
/// the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    serialized: String,
    /// Where the authority (`host[:port]`) starts: after `scheme://`.
    authority_start: usize,
    path_start: usize,
    /// Where the path and query end: the fragment's `#`, or the end.
    end: usize,
}

impl RequestUrl {
    /// `None` for anything a runtime would not hand a Worker: another scheme, user information,
    /// an empty host.
    pub fn parse(serialized: String) -> Option<Self> {
        let authority_start = ["http://", "https://"]
            .iter()
            .find(|scheme| serialized.starts_with(*scheme))?
            .len();
        let rest = serialized.get(authority_start..)?;
        let path_start = authority_start + rest.find('/')?;
        let authority = serialized.get(authority_start..path_start)?;
        if authority.is_empty() || authority.starts_with(':') || authority.contains('@') {
            return None;
        }
        let end = serialized.find('#').unwrap_or(serialized.len());
        Some(Self {
            serialized,
            authority_start,
            path_start,
            end,
        })
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        self.slice(0, self.path_start)
    }

    /// `host[:port]`, the port only when it is not the scheme's default.
    pub fn host_and_port(&self) -> &str {
        self.slice(self.authority_start, self.path_start)
    }

    /// The path, percent-encoded as received.
    pub fn path(&self) -> &str {
        let path_and_query = self.path_and_query();
        path_and_query
            .split_once('?')
            .map_or(path_and_query, |(path, _)| path)
    }

    /// The path and, if any, `?` and the query.
    pub fn path_and_query(&self) -> &str {
        self.slice(self.path_start, self.end)
    }

    /// The query without its `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.path_and_query()
            .split_once('?')
            .map(|(_, query)| query)
    }

    /// The host without the port.
    pub fn host(&self) -> &str {
        let authority = self.host_and_port();
        // An IPv6 host is bracketed, so a port's colon is the last one, after any `]`.
        match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => host,
            _ => authority,
        }
    }

    #[allow(clippy::expect_used)]
    fn slice(&self, start: usize, end: usize) -> &str {
        self.serialized
            .get(start..end)
            .expect("parse found every offset at an ASCII character or the end")
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

    /// What the `url` crate (the WHATWG parser) says of a serialized URL.
    fn oracle(serialized: &str) -> (String, String, String, String, Option<String>) {
        let url = url::Url::parse(serialized).unwrap();
        let host = url.host_str().unwrap().to_owned();
        let host_and_port = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let path_and_query = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        (
            url.origin().ascii_serialization(),
            host_and_port,
            path_and_query,
            url.path().to_owned(),
            url.query().map(str::to_owned),
        )
    }

    #[test]
    fn request_urls_split_as_the_url_crate_parses_them() {
        for raw in [
            "https://api.example.com/v1/things?page=2&x=%3F",
            "http://localhost:8787/auth/v1/verify",
            "http://127.0.0.1:8787/console/api/tokens/abc",
            "https://api.example.com/",
            "https://api.example.com/a%3Fb/c?",
            "http://[::1]:8787/x?y=1#frag",
            "https://[2001:db8::1]/p",
            "https://bücher.example/ä b?q=ü",
            "HTTP://Example.COM:80/a/../b/./c?d",
            "https://example.com:8443/",
        ] {
            // As the runtime hands it over: serialized by a WHATWG parser.
            let serialized = url::Url::parse(raw).unwrap().to_string();
            let url = RequestUrl::parse(serialized.clone()).unwrap();
            let (origin, host_and_port, path_and_query, path, query) = oracle(&serialized);
            assert_eq!(url.origin(), origin, "{serialized}");
            assert_eq!(url.host_and_port(), host_and_port, "{serialized}");
            assert_eq!(url.path_and_query(), path_and_query, "{serialized}");
            assert_eq!(url.path(), path, "{serialized}");
            assert_eq!(url.query().map(str::to_owned), query, "{serialized}");
            assert_eq!(
                url.host(),
                url::Url::parse(&serialized).unwrap().host_str().unwrap()
            );
        }
    }

    #[test]
    fn urls_a_runtime_would_not_hand_over_are_refused() {
        for serialized in [
            "ftp://example.com/x",
            "https://user:pass@example.com/x",
            "https:///x",
            "https://:80/x",
            "https://example.com",
            "not a url",
        ] {
            assert_eq!(
                RequestUrl::parse(serialized.to_owned()),
                None,
                "{serialized}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_serialized_request_url_splits_as_the_url_crate_parses_it(
            host in "[a-z]{1,8}(\\.[a-z]{1,5}){0,2}",
            port in proptest::option::of(1u16..),
            path in "(/[ -~]{0,12}){0,4}",
            query in proptest::option::of("[ -~]{0,16}"),
        ) {
            let mut raw = format!("https://{host}");
            if let Some(port) = port {
                raw.push_str(&format!(":{port}"));
            }
            raw.push_str(&path);
            if let Some(query) = &query {
                raw.push('?');
                raw.push_str(query);
            }
            let Ok(parsed) = url::Url::parse(&raw) else { return Ok(()) };
            let serialized = parsed.to_string();
            let url = RequestUrl::parse(serialized.clone()).unwrap();
            let (origin, host_and_port, path_and_query, path, query) = oracle(&serialized);
            proptest::prop_assert_eq!(url.origin(), origin);
            proptest::prop_assert_eq!(url.host_and_port(), host_and_port);
            proptest::prop_assert_eq!(url.path_and_query(), path_and_query);
            proptest::prop_assert_eq!(url.path(), path);
            proptest::prop_assert_eq!(url.query().map(str::to_owned), query);
        }
    }

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
