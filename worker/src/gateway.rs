//! The PAT-protected side, as plain logic: the answer of `GET /auth/v1/verify`, the echo that
//! stands in for an origin in local development, the request forwarded to the origin (which
//! headers pass, and the signature), and when a use is worth reporting as "last used".

use std::cell::RefCell;
use std::collections::HashMap;

use patgate_core::origin::SignedRequest;
use patgate_core::time::Timestamp;
use patgate_core::verify::Principal;
use serde_json::json;

use crate::config::OriginTarget;
use crate::error::ApiError;
use crate::http::Reply;
use crate::ledger::LAST_USED_INTERVAL_SECONDS;

/// Request headers never passed to the origin: credentials, identity claims only the gateway
/// may make, and hop-by-hop headers.
pub fn is_stripped_header(name: &str) -> bool {
    const STRIPPED: [&str; 12] = [
        "authorization",
        "cookie",
        "host",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    let claims_identity = name
        .get(..7)
        .is_some_and(|start| start.eq_ignore_ascii_case("x-auth-"));
    claims_identity || STRIPPED.iter().any(|s| s.eq_ignore_ascii_case(name))
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

/// Everything about a forwarded request except its body, which is streamed separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

impl Forward {
    /// The client's request as the origin should see it: its own headers minus the stripped
    /// ones, plus the gateway's identity headers and their signature.
    pub fn plan<'h>(
        method: &str,
        path_and_query: &str,
        client_headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        principal: &Principal,
        target: &OriginTarget,
        now: Timestamp,
    ) -> Self {
        let signed = SignedRequest {
            timestamp: now.unix_seconds(),
            method,
            path_and_query,
            user_id: principal.user_id().as_str(),
            token_id: principal.token_id().as_str(),
        };
        let mut headers: Vec<(String, String)> = client_headers
            .into_iter()
            .filter(|(name, _)| !is_stripped_header(name))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        headers.extend([
            ("X-Auth-User-Id".to_owned(), signed.user_id.to_owned()),
            ("X-Auth-Token-Id".to_owned(), signed.token_id.to_owned()),
            ("X-Auth-Timestamp".to_owned(), signed.timestamp.to_string()),
            ("X-Auth-Signature".to_owned(), signed.sign(target.secret())),
        ]);
        Self {
            method: method.to_owned(),
            url: format!("{}{path_and_query}", target.base_url()),
            headers,
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
    use patgate_core::origin::SignedRequest;

    #[test]
    fn credentials_and_identity_claims_are_stripped() {
        for name in [
            "Authorization",
            "cookie",
            "X-Auth-User-Id",
            "x-auth-anything",
            "Transfer-Encoding",
        ] {
            assert!(is_stripped_header(name), "{name}");
        }
        for name in [
            "Content-Type",
            "Accept",
            "X-Request-Id",
            "X-Authority",
            "x-aut",
        ] {
            assert!(!is_stripped_header(name), "{name}");
        }
    }

    #[test]
    fn a_forwarded_request_is_signed_and_keeps_only_the_clients_harmless_headers() {
        let config = Config::parse(|name| match name {
            "ORIGIN_URL" => Some("http://127.0.0.1:9/".to_owned()),
            "ORIGIN_SHARED_SECRET" => Some("origin-secret".to_owned()),
            _ => None,
        });
        let Ok(Forwarding::Origin(target)) = &config.forwarding else {
            panic!("configured")
        };
        let principal = principal();
        let now = Timestamp::from_unix_seconds(1_795_435_200).unwrap();
        let client = [
            ("authorization", "Bearer pat_x"),
            ("x-auth-user-id", "usr_spoofed"),
            ("content-type", "application/json"),
            ("x-request-id", "req-1"),
        ];
        let forward = Forward::plan("POST", "/v1/things?x=1", client, &principal, target, now);
        assert_eq!(forward.url, "http://127.0.0.1:9/v1/things?x=1");
        assert_eq!(forward.method, "POST");
        let header = |name: &str| {
            let values: Vec<&str> = forward
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            values
        };
        assert!(header("authorization").is_empty());
        assert_eq!(header("x-auth-user-id"), vec![principal.user_id().as_str()]);
        assert_eq!(header("content-type"), vec!["application/json"]);
        assert_eq!(header("x-request-id"), vec!["req-1"]);
        let signed = SignedRequest {
            timestamp: now.unix_seconds(),
            method: "POST",
            path_and_query: "/v1/things?x=1",
            user_id: principal.user_id().as_str(),
            token_id: principal.token_id().as_str(),
        };
        let signature = header("x-auth-signature");
        assert!(signed.verify(b"origin-secret", signature[0]));
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
