//! `RequestUrl`: the URL the runtime hands over, split without parsing it again (the `url`
//! crate is only the tests' oracle).

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
}
