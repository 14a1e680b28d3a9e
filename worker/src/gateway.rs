//! The PAT-protected side: `GET /auth/v1/verify` and forwarding every API path to the origin.

use std::cell::RefCell;
use std::collections::HashMap;

use patgate_core::origin::SignedRequest;
use patgate_core::time::Timestamp;
use patgate_core::verify::Principal;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{Context, Env, Fetch, Headers, Request, RequestInit, RequestRedirect, Response};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::http;
use crate::kv::KvTokenStore;
use crate::ledger::{Command, LAST_USED_INTERVAL_SECONDS};
use crate::ledger_object::{self, now};
use crate::log;

/// Request headers never passed to the origin: credentials, identity claims only the gateway
/// may make, and hop-by-hop headers.
fn is_stripped_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("x-auth-")
        || matches!(
            name.as_str(),
            "authorization"
                | "cookie"
                | "host"
                | "connection"
                | "keep-alive"
                | "proxy-authorization"
                | "proxy-authenticate"
                | "proxy-connection"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
        )
}

async fn authenticate_request(
    req: &Request,
    env: &Env,
) -> Result<(Principal, Timestamp), ApiError> {
    let now = now();
    let authorization = req.headers().get("Authorization")?;
    let principal = authenticate(authorization.as_deref(), &KvTokenStore::new(env), now).await?;
    Ok((principal, now))
}

pub async fn verify(req: Request, env: Env, ctx: Context) -> Result<Response, ApiError> {
    let (principal, now) = authenticate_request(&req, &env).await?;
    note_use(&principal, &req, &env, &ctx, now);
    http::json(
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

pub async fn forward(req: Request, env: Env, ctx: Context) -> Result<Response, ApiError> {
    let (principal, now) = authenticate_request(&req, &env).await?;
    note_use(&principal, &req, &env, &ctx, now);
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let origin = env
        .var("ORIGIN_URL")
        .map(|v| v.to_string())
        .unwrap_or_default();
    if origin.is_empty() {
        return echo(&req, &principal, &path_and_query);
    }
    let secret = env
        .secret("ORIGIN_SHARED_SECRET")
        .map(|s| s.to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            log::error("ORIGIN_URL is set but ORIGIN_SHARED_SECRET is not: refusing to forward");
            ApiError::GatewayMisconfigured
        })?;

    let method = req.method();
    let signed = SignedRequest {
        timestamp: now.unix_seconds(),
        method: method.as_ref(),
        path_and_query: &path_and_query,
        user_id: principal.user_id().as_str(),
        token_id: principal.token_id().as_str(),
    };
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if !is_stripped_header(&name) {
            headers.append(&name, &value)?;
        }
    }
    headers.set("X-Auth-User-Id", signed.user_id)?;
    headers.set("X-Auth-Token-Id", signed.token_id)?;
    headers.set("X-Auth-Timestamp", &signed.timestamp.to_string())?;
    headers.set("X-Auth-Signature", &signed.sign(secret.as_bytes()))?;

    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    // Stream the body through rather than buffering it.
    if let Some(body) = req.inner().body() {
        init.with_body(Some(JsValue::from(body)));
    }
    let target = format!("{}{path_and_query}", origin.trim_end_matches('/'));
    let upstream = Request::new_with_init(&target, &init)?;
    Fetch::Request(upstream).send().await.map_err(|error| {
        log::error(&format!("origin fetch failed: {error}"));
        ApiError::OriginUnreachable
    })
}

/// Without an origin (local development), show what the origin would have been told.
fn echo(req: &Request, principal: &Principal, path_and_query: &str) -> Result<Response, ApiError> {
    http::json(
        200,
        &json!({
            "echo": "ORIGIN_URL is not set, so patgate answers in place of the origin API",
            "user": { "id": principal.user_id(), "email": principal.email() },
            "token": { "id": principal.token_id(), "name": principal.token_name() },
            "request": { "method": req.method().to_string(), "path": path_and_query },
        }),
    )
}

thread_local! {
    /// When this isolate last reported each token's use, so that a busy token costs one
    /// ledger call per interval per isolate rather than one per request.
    static LAST_REPORTED: RefCell<HashMap<String, Timestamp>> = RefCell::new(HashMap::new());
}
const LAST_REPORTED_CAPACITY: usize = 10_000;

fn due_for_report(token_id: &str, now: Timestamp) -> bool {
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

/// Cloudflare's location for this request ("AMS, NL"), when the runtime provides it.
fn place_of(req: &Request) -> Option<String> {
    let cf = js_sys::Reflect::get(req.inner(), &JsValue::from_str("cf")).ok()?;
    let field = |name: &str| {
        js_sys::Reflect::get(&cf, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
            .filter(|v| {
                !v.is_empty() && v.len() <= 16 && v.chars().all(|c| c.is_ascii_alphanumeric())
            })
    };
    match (field("colo"), field("country")) {
        (Some(colo), Some(country)) => Some(format!("{colo}, {country}")),
        (Some(place), None) | (None, Some(place)) => Some(place),
        (None, None) => None,
    }
}

/// Records "last used" off the response path: never delays or fails the request.
fn note_use(principal: &Principal, req: &Request, env: &Env, ctx: &Context, now: Timestamp) {
    if !due_for_report(principal.token_id().as_str(), now) {
        return;
    }
    let env = env.clone();
    let user_id = principal.user_id().clone();
    let command = Command::RecordUse {
        token_id: principal.token_id().clone(),
        from: place_of(req),
    };
    ctx.wait_until(async move {
        if let Err(error) = ledger_object::call(&env, &user_id, command).await {
            log::error(&format!("recording last use failed: {error}"));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for name in ["Content-Type", "Accept", "X-Request-Id", "X-Authority"] {
            assert!(!is_stripped_header(name), "{name}");
        }
    }
}
