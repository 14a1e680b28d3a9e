//! The PAT-protected side, as plain logic: the answer of `GET /auth/v1/verify`, the echo that
//! stands in for an origin in local development, the request forwarded to the origin (which
//! headers pass, and the signature), and when a use is worth reporting as "last used".

use std::cell::RefCell;
use std::collections::HashMap;

use patgate_core::origin::{RequestId, SignedRequest};
use patgate_core::time::Timestamp;
use patgate_core::verify::Principal;
use serde_json::json;

use crate::config::OriginTarget;
use crate::error::ApiError;
use crate::http::{Headers, Reply, CLIENT_ADDRESS_HEADER};
use crate::ledger::LAST_USED_INTERVAL_SECONDS;

/// Request headers never passed to the origin, by their [`normalised`] name: credentials,
/// hop-by-hop headers, and claims about the client's address, the method or the URL that an
/// origin (or a proxy in front of it) might believe.
const STRIPPED: [&str; 22] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    // The origin's URL sets the host; the rest are hop-by-hop (RFC 9110 §7.6.1).
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-cluster-client-ip",
    "x-http-method-override",
    "x-method-override",
    "x-http-method",
    "x-original-url",
    "x-rewrite-url",
];
/// Prefixes of stripped names: identity claims only the gateway may make, and proxy claims.
/// The gateway sets its own `X-Auth-*` and `X-Forwarded-Host`/`-For` after stripping.
const STRIPPED_PREFIXES: [&str; 2] = ["x-auth-", "x-forwarded-"];

/// A header name as an origin may read it: case and `_` versus `-` ignored, because CGI-style
/// servers and many frameworks turn `X_Auth_User_Id` and `X-Auth-User-Id` into one variable.
fn normalised(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

pub fn is_stripped_header(name: &str) -> bool {
    let name = normalised(name);
    STRIPPED.contains(&name.as_str())
        || STRIPPED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// The header names a `Connection` header lists: hop-by-hop for this request (RFC 9110
/// §7.6.1), so never forwarded. workerd consumes `Connection` itself, so there the list is
/// empty and the headers it named arrive as ordinary ones; they are still judged by the strip
/// list, and `Connection` never reaches the origin for a proxy there to act on.
fn named_in_connection(headers: &Headers) -> Vec<String> {
    headers
        .all("connection")
        .flat_map(|value| value.split(','))
        .map(|name| normalised(name.trim()))
        .filter(|name| !name.is_empty())
        .collect()
}

pub fn verify_reply(principal: &Principal) -> Result<Reply, ApiError> {
    Reply::json(
        200,
        &json!({
            "user": { "id": principal.user_id(), "email": principal.email() },
            "token": {
                "id": principal.token_id(),
                "name": principal.token_name(),
                "created_at": principal.created_at().to_string(),
                "expires_at": principal.expires_at().map(|t| t.to_string()),
            }
        }),
    )
}

/// Without an origin (local development), show what the origin would have been told.
pub fn echo_reply(
    method: &str,
    path_and_query: &str,
    principal: &Principal,
) -> Result<Reply, ApiError> {
    Reply::json(
        200,
        &json!({
            "echo": "ORIGIN_URL is not set, so patgate answers in place of the origin API",
            "user": { "id": principal.user_id(), "email": principal.email() },
            "token": { "id": principal.token_id(), "name": principal.token_name() },
            "request": { "method": method, "path": path_and_query },
        }),
    )
}

/// An API request as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    /// Exactly as received, never normalised (see `router::FORWARDED_METHODS`).
    pub method: &'a str,
    /// The host, and port unless it is the scheme's default, that the client addressed.
    pub host: &'a str,
    pub path_and_query: &'a str,
    pub headers: &'a Headers,
}

/// Everything about a forwarded request except its body, which is streamed separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// How long the origin may take to begin its answer (504 after that).
    pub timeout_seconds: u32,
}

impl Forward {
    /// The client's request as the origin should see it: its own headers minus the stripped
    /// ones, plus the gateway's identity headers, the addressed host and the client's address,
    /// and the signature over the request's identity (see `patgate_core::origin`).
    pub fn plan(
        client: ClientRequest<'_>,
        principal: &Principal,
        target: &OriginTarget,
        now: Timestamp,
        request_id: &RequestId,
    ) -> Self {
        let signed = SignedRequest {
            timestamp: now.unix_seconds(),
            request_id: request_id.as_str(),
            method: client.method,
            host: client.host,
            path_and_query: client.path_and_query,
            user_id: principal.user_id().as_str(),
            token_id: principal.token_id().as_str(),
        };
        let hop_by_hop = named_in_connection(client.headers);
        let mut headers: Vec<(String, String)> = client
            .headers
            .iter()
            .filter(|(name, _)| {
                !is_stripped_header(name) && !hop_by_hop.contains(&normalised(name))
            })
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        headers.extend([
            ("X-Auth-User-Id".to_owned(), signed.user_id.to_owned()),
            ("X-Auth-Token-Id".to_owned(), signed.token_id.to_owned()),
            ("X-Auth-Timestamp".to_owned(), signed.timestamp.to_string()),
            ("X-Auth-Request-Id".to_owned(), signed.request_id.to_owned()),
            ("X-Forwarded-Host".to_owned(), signed.host.to_owned()),
            ("X-Auth-Signature".to_owned(), signed.sign(target.secret())),
        ]);
        if let Some(address) = client.headers.get(CLIENT_ADDRESS_HEADER) {
            headers.push(("X-Forwarded-For".to_owned(), address.to_owned()));
        }
        Self {
            method: client.method.to_owned(),
            url: format!("{}{}", target.base_url(), client.path_and_query),
            headers,
            timeout_seconds: target.timeout_seconds(),
        }
    }
}

thread_local! {
    /// When this isolate last reported each token's use, so that a busy token costs one
    /// ledger call per interval per isolate rather than one per request.
    static LAST_REPORTED: RefCell<HashMap<String, Timestamp>> = RefCell::new(HashMap::new());
}
const LAST_REPORTED_CAPACITY: usize = 10_000;

/// Whether this use of the token should be reported to its ledger now (and notes that it is).
pub fn due_for_report(token_id: &str, now: Timestamp) -> bool {
    LAST_REPORTED.with(|reported| {
        let mut reported = reported.borrow_mut();
        let due = reported
            .get(token_id)
            .is_none_or(|at| now.seconds_since(*at) >= LAST_USED_INTERVAL_SECONDS);
        if due {
            if reported.len() >= LAST_REPORTED_CAPACITY {
                reported.clear();
            }
            reported.insert(token_id.to_owned(), now);
        }
        due
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Forwarding};
    use crate::testing::principal;
    use patgate_core::origin::RANDOM_BYTES_FOR_REQUEST_ID;

    #[test]
    fn credentials_identity_and_proxy_claims_are_stripped_however_spelled() {
        for name in [
            "Authorization",
            "cookie",
            "X-Auth-User-Id",
            "x-auth-anything",
            "X_Auth_User_Id",
            "x_AUTH-token_id",
            "Transfer-Encoding",
            "Transfer_Encoding",
            "Forwarded",
            "X-Forwarded-For",
            "x_forwarded_host",
            "X-Forwarded-Proto",
            "X-Real-IP",
            "True-Client-IP",
            "X-HTTP-Method-Override",
            "X-Method-Override",
            "X_HTTP_Method",
            "X-Original-URL",
            "X-Rewrite-URL",
            "Proxy-Authorization",
        ] {
            assert!(is_stripped_header(name), "{name}");
        }
        for name in [
            "Content-Type",
            "Accept",
            "X-Request-Id",
            "X-Authority",
            "x-aut",
            "X-Forwarded",
            "CF-Connecting-IP",
        ] {
            assert!(!is_stripped_header(name), "{name}");
        }
    }

    fn target() -> OriginTarget {
        let config = Config::parse(|name| match name {
            "ORIGIN_URL" => Some("http://127.0.0.1:9/".to_owned()),
            "ORIGIN_SHARED_SECRET" => Some("origin-secret-of-at-least-32-bytes".to_owned()),
            _ => None,
        });
        let Ok(Forwarding::Origin(target)) = config.forwarding else {
            panic!("configured")
        };
        target
    }

    const REQUEST_ID: [u8; RANDOM_BYTES_FOR_REQUEST_ID] = [7; RANDOM_BYTES_FOR_REQUEST_ID];

    fn plan(method: &str, client: &[(&str, &str)]) -> Forward {
        let headers: Headers = client.iter().copied().collect();
        let client = ClientRequest {
            method,
            host: "api.example.com",
            path_and_query: "/v1/things?x=1",
            headers: &headers,
        };
        let now = Timestamp::from_unix_seconds(1_795_435_200).unwrap();
        Forward::plan(
            client,
            &principal(),
            &target(),
            now,
            &RequestId::from_random(&REQUEST_ID),
        )
    }

    fn values<'f>(forward: &'f Forward, name: &str) -> Vec<&'f str> {
        forward
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn a_forwarded_request_is_signed_and_keeps_only_the_clients_harmless_headers() {
        let principal = principal();
        let forward = plan(
            "POST",
            &[
                ("authorization", "Bearer pat_x"),
                ("x-auth-user-id", "usr_spoofed"),
                ("X_Auth_Token_Id", "tok_spoofed"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-for", "10.0.0.1"),
                ("cf-connecting-ip", "203.0.113.7"),
                ("content-type", "application/json"),
                ("x-request-id", "req-1"),
            ],
        );
        assert_eq!(forward.url, "http://127.0.0.1:9/v1/things?x=1");
        assert_eq!(forward.method, "POST");
        assert!(values(&forward, "authorization").is_empty());
        assert!(values(&forward, "x_auth_token_id").is_empty());
        assert_eq!(
            values(&forward, "x-auth-user-id"),
            vec![principal.user_id().as_str()]
        );
        assert_eq!(
            values(&forward, "x-auth-token-id"),
            vec![principal.token_id().as_str()]
        );
        assert_eq!(
            values(&forward, "x-forwarded-host"),
            vec!["api.example.com"]
        );
        assert_eq!(values(&forward, "x-forwarded-for"), vec!["203.0.113.7"]);
        assert_eq!(values(&forward, "content-type"), vec!["application/json"]);
        assert_eq!(values(&forward, "x-request-id"), vec!["req-1"]);
        let request_id = RequestId::from_random(&REQUEST_ID);
        assert_eq!(
            values(&forward, "x-auth-request-id"),
            vec![request_id.as_str()]
        );
        let signed = SignedRequest {
            timestamp: 1_795_435_200,
            request_id: request_id.as_str(),
            method: "POST",
            host: "api.example.com",
            path_and_query: "/v1/things?x=1",
            user_id: principal.user_id().as_str(),
            token_id: principal.token_id().as_str(),
        };
        let signature = values(&forward, "x-auth-signature");
        assert!(signed.verify(b"origin-secret-of-at-least-32-bytes", signature[0]));
    }

    #[test]
    fn headers_named_in_connection_are_hop_by_hop() {
        let forward = plan(
            "GET",
            &[
                ("connection", "keep-alive, X-Internal-Debug , x_trace"),
                ("x-internal-debug", "1"),
                ("X-Trace", "on"),
                ("x-kept", "yes"),
            ],
        );
        assert!(values(&forward, "x-internal-debug").is_empty());
        assert!(values(&forward, "x-trace").is_empty());
        assert!(values(&forward, "connection").is_empty());
        assert_eq!(values(&forward, "x-kept"), vec!["yes"]);
    }

    #[test]
    fn the_method_is_forwarded_and_signed_exactly_as_received() {
        for method in ["QUERY", "PATCH", "OPTIONS"] {
            let forward = plan(method, &[]);
            assert_eq!(forward.method, method);
        }
    }

    #[test]
    fn uses_are_reported_once_per_interval() {
        let start = Timestamp::from_unix_seconds(1_000_000).unwrap();
        assert!(due_for_report("tok_reported000000000000", start));
        assert!(!due_for_report(
            "tok_reported000000000000",
            start.saturating_add_seconds(1)
        ));
        let later = start.saturating_add_seconds(LAST_USED_INTERVAL_SECONDS);
        assert!(due_for_report("tok_reported000000000000", later));
    }
}
