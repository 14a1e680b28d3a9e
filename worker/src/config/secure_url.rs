//! `SecureUrl`: a URL the Worker sends secrets or users to (the origin, the identity provider's
//! endpoints, the secret scanner's key list), accepted only in a plain ASCII form that the
//! WHATWG URL standard leaves as it is.
//!
//! These URLs come from an operator's settings and a provider's discovery document, not from
//! requests, and a general URL parser (the `url` crate, with its Unicode tables for
//! international domain names) cost the bundle a tenth of its size for them. So the grammar is
//! narrow instead: `http[s]://host[:port][/path][?query]`, the host a lowercase DNS name, a
//! dotted-quad IPv4 address or a bracketed IPv6 one. Anything a general parser would rewrite (a
//! dot segment, an uppercase host, `127.1`, a space) is refused, not normalized, except the two
//! rewrites everyone expects: an empty path is `/`, and the scheme's default port is dropped.
//! An international domain name is written in its `xn--` form, taken as written: a label that
//! is not valid Punycode is not caught here but by the runtime, which refuses to send a request
//! to it (that request fails, and the log says why). The tests
//! hold this grammar to the `url` crate: whatever it accepts, the `url` crate serializes the
//! same way, Punycode aside.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The longest DNS name, and label, RFC 1035 allows.
const MAX_DOMAIN_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// An absolute `https` URL, or `http` to a loopback host, with no credentials or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureUrl {
    serialized: String,
    /// Where `scheme://host[:port]` ends and the path begins.
    path_start: usize,
    /// Where the `?` is, if there is a query.
    query_mark: Option<usize>,
}

impl SecureUrl {
    /// `None` for anything outside the grammar above, or plain `http` to a host that is not
    /// loopback (`localhost`, 127.0.0.0/8, `::1`). C0 control characters and spaces around the URL
    /// are ignored, as the standard ignores them.
    pub fn parse(text: &str) -> Option<Self> {
        // As the standard does: a setting pasted with a line break or spaces around it is the
        // URL within.
        let text = text.trim_matches(|c: char| c <= '\u{1f}' || c == ' ');
        let (scheme, default_port, rest) = if let Some(rest) = text.strip_prefix("https://") {
            ("https://", "443", rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            ("http://", "80", rest)
        } else {
            return None;
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        let authority = Authority::parse(authority)?;
        if scheme == "http://" && !authority.loopback {
            return None;
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        if !path.split('/').all(is_path_segment) || !query.is_none_or(is_query) {
            return None;
        }
        let mut serialized = String::with_capacity(text.len() + 1);
        serialized.push_str(scheme);
        serialized.push_str(authority.host);
        if let Some(port) = authority.port.filter(|port| *port != default_port) {
            serialized.push(':');
            serialized.push_str(port);
        }
        let path_start = serialized.len();
        serialized.push_str(if path.is_empty() { "/" } else { path });
        let query_mark = query.map(|query| {
            let mark = serialized.len();
            serialized.push('?');
            serialized.push_str(query);
            mark
        });
        Some(Self {
            serialized,
            path_start,
            query_mark,
        })
    }

    /// The whole URL; the Worker itself only ever needs its parts.
    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    /// `scheme://host[:port]`, as the `Origin` header would say it.
    pub fn origin(&self) -> &str {
        &self.serialized[..self.path_start]
    }

    pub fn path(&self) -> &str {
        &self.serialized[self.path_start..self.query_mark.unwrap_or(self.serialized.len())]
    }

    pub fn query(&self) -> Option<&str> {
        self.query_mark.map(|mark| &self.serialized[mark + 1..])
    }

    /// This URL with `pairs` added to its query, form-encoded, after any query it has.
    pub fn with_query_pairs(&self, pairs: &[(&str, &str)]) -> String {
        if pairs.is_empty() {
            return self.serialized.clone();
        }
        let mut added = form_urlencoded::Serializer::new(String::new());
        added.extend_pairs(pairs);
        let added = added.finish();
        let mut url = self.serialized.clone();
        match self.query() {
            None => url.push('?'),
            Some("") => {}
            Some(_) => url.push('&'),
        }
        url.push_str(&added);
        url
    }
}

/// `host[:port]`, each as written.
struct Authority<'a> {
    host: &'a str,
    port: Option<&'a str>,
    /// `localhost`, 127.0.0.0/8 or `::1`: where plain `http` is allowed.
    loopback: bool,
}

impl<'a> Authority<'a> {
    fn parse(authority: &'a str) -> Option<Self> {
        let (host, port, loopback) = if authority.starts_with('[') {
            let end = authority.find(']')? + 1;
            let (host, after) = authority.split_at(end);
            let address = Ipv6Addr::from_str(&host[1..end - 1]).ok()?;
            // RFC 5952's form, which the WHATWG serializer also writes, except that it never
            // writes an embedded IPv4 address as a dotted quad: such a form is refused.
            let canonical = address.to_string();
            if canonical != host[1..end - 1] || canonical.contains('.') {
                return None;
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (host, port, address.is_loopback())
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            (host, port, domain_or_ipv4(host)?)
        };
        let port_ok = |port: &str| {
            !port.is_empty()
                && !port.starts_with('0')
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok()
        };
        if !port.is_none_or(port_ok) {
            return None;
        }
        Some(Self {
            host,
            port,
            loopback,
        })
    }
}

/// Whether `name`, a lowercase DNS name of letters, digits and inner hyphens or an IPv4 address
/// in dotted-quad form, is loopback; `None` for anything else. A name whose last label is
/// numeric is an IPv4 address to the WHATWG parser (`127.1` is 127.0.0.1), so it must be one,
/// written in full.
fn domain_or_ipv4(name: &str) -> Option<bool> {
    if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
        return None;
    }
    let last = name.rsplit('.').next()?;
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        let address = Ipv4Addr::from_str(name).ok()?;
        return (address.to_string() == name).then_some(address.is_loopback());
    }
    let label_ok = |label: &str| {
        (1..=MAX_LABEL_LEN).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    name.split('.').all(label_ok).then_some(name == "localhost")
}

/// RFC 3986's `pchar`s and `%XX` escapes; not a dot segment (`.`, `..`, or either with a dot
/// written `%2e`), which the WHATWG parser would resolve away.
fn is_path_segment(segment: &str) -> bool {
    let undotted = segment.to_ascii_lowercase().replace("%2e", ".");
    undotted != "." && undotted != ".." && is_escaped(segment, is_pchar)
}

/// A query: `pchar`s, `/` and `?`, but not `'`, which the WHATWG parser escapes in the query
/// of an http(s) URL.
fn is_query(query: &str) -> bool {
    is_escaped(query, |b| {
        (is_pchar(b) || b == b'/' || b == b'?') && b != b'\''
    })
}

fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Every byte allowed, or the `%` of a `%XX` escape.
fn is_escaped(text: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        let ok = if byte == b'%' {
            let escape = [bytes.next(), bytes.next()];
            escape
                .iter()
                .all(|hex| hex.is_some_and(|b| b.is_ascii_hexdigit()))
        } else {
            allowed(byte)
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
