//! The API base URL, parsed once into the narrow form reis accepts.
//!
//! The form is an origin: `https://` or `http://`, a host, an optional port, and at most a
//! trailing `/`. No user name or password, no path, no query, no fragment: a patgate API lives
//! at the root of its host, and a saved token is keyed by this origin.
//!
//! Plain `http://` is accepted only for loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`),
//! where the token never crosses a network. Anywhere else it would travel in clear text.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::client::{exit, Failure};

/// The base URL of a patgate API, in canonical form: lower case, no default port, no trailing
/// `/`, so that a request path can be appended as is and equal origins compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    secure: bool,
    host: Host,
    /// `None` for the scheme's default port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// Letters, digits and hyphens in dot-separated labels, lower case.
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl ApiUrl {
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let text = text.trim();
        let usage = |message: String| Failure::new(exit::USAGE, message);
        let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => {
                return Err(usage(format!(
                    "the API URL must start with https:// or http://, not {text:?}"
                )))
            }
        };
        let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if authority.contains('@') {
            // Not echoed: what precedes the @ may be a password.
            return Err(usage(
                "the API URL must not contain a user name or password (user@host); \
                 reis sends your token in the Authorization header"
                    .to_owned(),
            ));
        }
        if tail.contains(['?', '#']) {
            return Err(usage(format!(
                "the API URL must not have a query (?…) or a fragment (#…): {text:?}"
            )));
        }
        if !tail.is_empty() && tail != "/" {
            return Err(usage(format!(
                "the API URL is an origin such as https://api.example.com, without a path: \
                 {text:?}"
            )));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| usage(format!("the API URL has no valid host and port: {text:?}")))?;
        let default_port = if secure { 443 } else { 80 };
        let url = Self {
            secure,
            host,
            port: port.filter(|&p| p != default_port),
        };
        if !secure && !url.host.is_loopback() {
            return Err(usage(format!(
                "refusing to send a token over plain http to {}; use https:// \
                 (plain http is allowed only for localhost)",
                url.host
            )));
        }
        Ok(url)
    }

    /// Where the console of this API lives, for messages that send the user there.
    pub fn console(&self) -> String {
        format!("{self}/console/")
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

impl Host {
    fn is_loopback(&self) -> bool {
        match self {
            Self::Domain(name) => name == "localhost",
            Self::Ipv4(address) => address.is_loopback(),
            Self::Ipv6(address) => address.is_loopback(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(name) => f.write_str(name),
            Self::Ipv4(address) => write!(f, "{address}"),
            Self::Ipv6(address) => write!(f, "[{address}]"),
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; a port is 1–65535 in decimal.
fn split_host_port(authority: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (inside, after) = bracketed.split_once(']')?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (Host::Ipv6(inside.parse().ok()?), port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (parse_host(host)?, Some(port)),
            None => (parse_host(authority)?, None),
        },
    };
    let port = match port {
        None => None,
        Some(digits) => Some(parse_port(digits)?),
    };
    Some((host, port))
}

/// Decimal digits only (`u16::from_str` would also take a `+`), and not 0.
fn parse_port(digits: &str) -> Option<u16> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&port| port != 0)
}

/// A dotted-quad IPv4 address, or a DNS name of letters, digits and hyphens. A name whose last
/// label is numeric must be an IPv4 address: URL parsers read `127.1` or `0x7f.1` as one.
fn parse_host(text: &str) -> Option<Host> {
    let name = text.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let last = labels.last()?;
    if last.starts_with(|c: char| c.is_ascii_digit()) {
        return name.parse().ok().map(Host::Ipv4);
    }
    let valid_label = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    (name.len() <= 253 && labels.iter().all(valid_label)).then_some(Host::Domain(name))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn canonical(text: &str) -> String {
        ApiUrl::parse(text).unwrap().to_string()
    }

    fn refusal(text: &str) -> String {
        let failure = ApiUrl::parse(text).unwrap_err();
        assert_eq!(failure.code, exit::USAGE, "{text}");
        failure.message
    }

    #[test]
    fn origins_are_accepted_in_canonical_form() {
        let cases = [
            (" http://localhost:8787/ ", "http://localhost:8787"),
            ("HTTPS://API.Example.COM", "https://api.example.com"),
            ("https://api.example.com:443/", "https://api.example.com"),
            (
                "https://api.example.com:8443",
                "https://api.example.com:8443",
            ),
            ("http://127.0.0.1:80", "http://127.0.0.1"),
            ("http://127.255.0.9:1", "http://127.255.0.9:1"),
            ("http://[::1]:8787", "http://[::1]:8787"),
            ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
            ("https://10.0.0.1:08443", "https://10.0.0.1:8443"),
            ("https://my-host", "https://my-host"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "{input}");
        }
        assert_eq!(
            ApiUrl::parse("https://x.example").unwrap().console(),
            "https://x.example/console/"
        );
    }

    #[test]
    fn plain_http_is_refused_except_for_loopback() {
        assert_eq!(
            refusal("http://example.com"),
            "refusing to send a token over plain http to example.com; use https:// \
             (plain http is allowed only for localhost)"
        );
        for input in [
            "http://10.0.0.1:8787",
            "http://[::ffff:127.0.0.1]",
            "http://localhost.example.com",
            "http://128.0.0.1",
            "http://[2001:db8::1]",
        ] {
            assert!(refusal(input).contains("plain http"), "{input}");
        }
    }

    #[test]
    fn anything_but_an_origin_is_refused_and_a_password_is_not_echoed() {
        let cases = [
            ("api.example.com", "must start with https://"),
            ("ftp://api.example.com", "must start with https://"),
            ("https://api.example.com/v1", "without a path"),
            ("https://api.example.com//", "without a path"),
            ("https://api.example.com\\x", "without a path"),
            ("https://api.example.com/?a=1", "query"),
            ("https://api.example.com#top", "fragment"),
            ("https://", "no valid host"),
            ("https://api.example.com:", "no valid host"),
            ("https://api.example.com:0", "no valid host"),
            ("https://api.example.com:65536", "no valid host"),
            ("https://api.example.com:+80", "no valid host"),
            ("https://api.example.com.", "no valid host"),
            ("https://-api.example.com", "no valid host"),
            ("https://api_1.example.com", "no valid host"),
            ("https://exa mple.com", "no valid host"),
            ("https://bücher.example", "no valid host"),
            ("http://127.1", "no valid host"),
            ("http://0x7f.0.0.1", "no valid host"),
            ("http://127.0.0.01", "no valid host"),
            ("http://[::1", "no valid host"),
            ("http://[::1]x", "no valid host"),
            ("http://[fe80::1%25eth0]", "no valid host"),
        ];
        for (input, expected) in cases {
            let message = refusal(input);
            assert!(message.contains(expected), "{input}: {message}");
        }
        let message = refusal("https://me:s3cret@api.example.com");
        assert!(message.contains("user name or password"));
        assert!(!message.contains("s3cret"));
    }

    /// Strings shaped like API URLs, valid or nearly so, to reach the interesting cases.
    fn url_like() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![Just("https"), Just("http"), Just("HTTP"), Just("ftp")];
        let userinfo = prop_oneof![6 => Just(""), 1 => Just("u:p@"), 1 => Just("@")];
        let host = prop_oneof![
            "[a-zA-Z0-9-]{1,8}(\\.[a-zA-Z0-9-]{1,8}){0,2}",
            any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}")),
            "127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
            "[0-9x.]{1,12}",
            any::<[u16; 8]>().prop_map(|segments| format!("[{}]", Ipv6Addr::from(segments))),
            Just("[::1]".to_owned()),
            Just("LocalHost".to_owned()),
        ];
        let port = prop_oneof![Just(String::new()), ":[0-9]{0,6}"];
        let tail = prop_oneof![
            4 => Just(""),
            4 => Just("/"),
            1 => Just("//"),
            1 => Just("/v1"),
            1 => Just("?a"),
            1 => Just("#x"),
        ];
        (scheme, userinfo, host, port, tail).prop_map(|(scheme, user, host, port, tail)| {
            format!("{scheme}://{user}{host}{port}{tail}")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Never panics on any text; what it accepts is canonical (parsing the output again gives
        /// the same), and plain http is only ever accepted for a loopback host.
        #[test]
        fn canonical_and_never_plain_http_beyond_loopback(
            text in prop_oneof!["\\PC{0,40}", url_like()]
        ) {
            if let Ok(url) = ApiUrl::parse(&text) {
                let again = ApiUrl::parse(&url.to_string()).unwrap();
                prop_assert_eq!(&again, &url);
                prop_assert!(url.secure || url.host.is_loopback());
            }
        }

        /// Where reis accepts a URL, the WHATWG parser (which the HTTP client uses) reads the
        /// same scheme, host and port, with no user info, path, query or fragment, both from
        /// what was typed and from the canonical form that reis sends requests to.
        #[test]
        fn agrees_with_the_whatwg_parser(text in url_like()) {
            if let Ok(ours) = ApiUrl::parse(&text) {
                for theirs in [&text, &ours.to_string()].map(|t| url::Url::parse(t).unwrap()) {
                    let host = ours.host.to_string();
                    prop_assert_eq!(theirs.scheme(), if ours.secure { "https" } else { "http" });
                    prop_assert_eq!(theirs.host_str(), Some(host.as_str()));
                    prop_assert_eq!(theirs.port(), ours.port);
                    prop_assert_eq!(theirs.username(), "");
                    prop_assert_eq!(theirs.password(), None);
                    prop_assert_eq!(theirs.path(), "/");
                    prop_assert_eq!(theirs.query(), None);
                    prop_assert_eq!(theirs.fragment(), None);
                }
            }
        }
    }
}
