//! The hot path on the runtime's own types: `GET /auth/v1/verify` and the requests forwarded to
//! the origin. Every API request of the platform comes this way, so each step is paid for once:
//! the token is checked before anything else is read (a refusal needs no I/O and no promise),
//! each header is read when needed and once, the client's address only for a refused look-up,
//! `cf` only when "last used" is due.

use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use patgate_core::origin::{RequestId, RANDOM_BYTES_FOR_REQUEST_ID};
use patgate_core::verify::Principal;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Delay, Env};

use super::entry::{later, now};
use super::feed_object::{CachedFeedSource, RequestFeedSource};
use super::limiter::WorkersRateLimiter;
use super::{client_key, config, ledger, validation_kv, Answer, FEED};
use crate::auth::{self, authenticate_token};
use crate::config::{Config, Forwarding, OriginTarget};
use crate::error::ApiError;
use crate::gateway::{self, ClientRequest, Forward};
use crate::http::{Headers, RequestUrl};
use crate::ledger::protocol::RecordUse;
use crate::limits;
use crate::log;
use crate::revocation::{refresh_claimed, Gate, RevocationMode};
use crate::runtime::{Clock, Entropy, SystemClock, SystemEntropy, UnixMillis};

/// A request on the hot path, with what the router already read of it.
pub struct Edge {
    pub req: web_sys::Request,
    pub env: Env,
    pub ctx: Context,
    /// Exactly as received: workers-rs's `Method` would turn unknown ones into GET.
    pub method: String,
    pub url: RequestUrl,
    /// The `Authorization` header, if the request has one.
    pub authorization: Option<String>,
}

/// Logs a runtime failure the client cannot fix.
fn runtime_failure(what: &'static str) -> impl Fn(JsValue) -> ApiError {
    move |error| {
        log::error(&format!("{what}: {error:?}"));
        ApiError::Internal
    }
}

impl Edge {
    /// `GET /auth/v1/verify`.
    pub fn verify(self) -> JsValue {
        let mode = match self.presented() {
            Ok(mode) => mode,
            Err(refusal) => return now(Err(refusal)),
        };
        later(async move {
            let (principal, _) = self.authenticated(mode).await?;
            gateway::verify_reply(&principal).map(Answer::Reply)
        })
    }

    /// Any other API path: validated, then sent to the origin, signed.
    pub fn forward(self) -> JsValue {
        let config = config(&self.env);
        // Refused before any token is looked at; the setting was named in the log once, when
        // the configuration was parsed.
        if config.forwarding.is_err() {
            return now(Err(ApiError::GatewayMisconfigured));
        }
        let mode = match self.presented() {
            Ok(mode) => mode,
            Err(refusal) => return now(Err(refusal)),
        };
        later(async move {
            let (principal, now) = self.authenticated(mode).await?;
            self.forwarded(&config, &principal, now).await
        })
    }

    /// The revocation mode, once the `Authorization` header is known to present a well-formed
    /// token: everything that can refuse a request without I/O. The token is parsed again on
    /// the way to KV (it borrows the header, which the answer's future owns); its checksum is
    /// the only work done twice, as the storage key is hashed only when first asked for.
    fn presented(&self) -> Result<RevocationMode, ApiError> {
        let mode = config(&self.env)
            .revocation
            .clone()
            .map_err(|_| ApiError::Misconfigured("token validation is not configured"))?;
        auth::presented(self.authorization.as_deref())?;
        Ok(mode)
    }

    async fn authenticated(
        &self,
        mode: RevocationMode,
    ) -> Result<(Principal, UnixMillis), ApiError> {
        let now = SystemClock.now_millis();
        let token = auth::presented(self.authorization.as_deref())?;
        let feed = FEED.with(Rc::clone);
        let origin = self.url.origin();
        let gate = Gate {
            mode,
            feed: &feed,
            source: &RequestFeedSource {
                env: &self.env,
                origin,
            },
            authority: &ledger(&self.env),
        };
        let store = validation_kv(&self.env, Some(&self.req));
        let outcome = authenticate_token(token, &store, &gate, now).await;
        if mode == RevocationMode::Fast && feed.claim_refresh(now) {
            let source = CachedFeedSource::for_origin(&self.env, origin);
            // Off the response path: this request has its answer already.
            self.ctx
                .wait_until(async move { refresh_claimed(&feed, &source, now).await });
        }
        // A well-formed token was looked up: a refusal is counted against the client.
        let principal =
            limits::after_validation(outcome, true, &WorkersRateLimiter(&self.env), || {
                client_key(&self.req.headers())
            })
            .await?;
        self.note_use(&principal, now);
        Ok((principal, now))
    }

    async fn forwarded(
        &self,
        config: &Config,
        principal: &Principal,
        now: UnixMillis,
    ) -> Result<Answer, ApiError> {
        let path_and_query = self.url.path_and_query();
        let target: &OriginTarget = match &config.forwarding {
            Ok(Forwarding::Origin(target)) => target,
            Ok(Forwarding::Echo) => {
                return gateway::echo_reply(&self.method, path_and_query, principal)
                    .map(Answer::Reply)
            }
            // Checked before the token was looked at.
            Err(_) => return Err(ApiError::GatewayMisconfigured),
        };
        let headers: Headers = worker::Headers(self.req.headers()).entries().collect();
        let random = SystemEntropy
            .draw::<RANDOM_BYTES_FOR_REQUEST_ID>()
            .map_err(|error| {
                log::error(&error.to_string());
                ApiError::StoreUnavailable
            })?;
        let client = ClientRequest {
            method: &self.method,
            host: self.url.host_and_port(),
            path_and_query,
            headers: &headers,
        };
        let plan = Forward::plan(
            client,
            principal,
            target,
            now.timestamp(),
            &RequestId::from_random(&random),
        );
        self.send_to_origin(plan).await.map(Answer::Passthrough)
    }

    /// Sends the planned request with the client's body streamed through, not buffered, the
    /// method exactly as received, and Cloudflare's cache bypassed: the origin's answer is for
    /// this user only, and the cache key (the URL) would not say so once `Authorization` is gone.
    async fn send_to_origin(&self, plan: Forward) -> Result<web_sys::Response, ApiError> {
        let headers = web_sys::Headers::new().map_err(runtime_failure("origin headers"))?;
        for (name, value) in &plan.headers {
            headers
                .append(name, value)
                .map_err(runtime_failure("origin header"))?;
        }
        // Aborted only if the origin has not begun to answer in time: once it has, its body
        // streams through for as long as it takes.
        let abort =
            web_sys::AbortController::new().map_err(runtime_failure("origin abort controller"))?;
        let init = web_sys::RequestInit::new();
        init.set_method(&plan.method);
        init.set_headers(&headers);
        init.set_redirect(web_sys::RequestRedirect::Manual);
        init.set_cache(web_sys::RequestCache::NoStore);
        init.set_signal(Some(&abort.signal()));
        if let Some(body) = self.req.body() {
            init.set_body(&body);
        }
        let upstream = web_sys::Request::new_with_str_and_init(&plan.url, &init)
            .map_err(runtime_failure("origin request"))?;
        let answer = JsFuture::from(fetch(&upstream));
        let deadline = Delay::from(Duration::from_secs(u64::from(plan.timeout_seconds)));
        futures_util::pin_mut!(answer);
        match select(answer, deadline).await {
            Either::Left((Ok(response), _)) => Ok(web_sys::Response::from(response)),
            Either::Left((Err(error), _)) => {
                log::error(&format!("origin fetch failed: {error:?}"));
                Err(ApiError::OriginUnreachable)
            }
            Either::Right(((), _)) => {
                abort.abort();
                log::error(&format!(
                    "the origin did not answer within {} s",
                    plan.timeout_seconds
                ));
                Err(ApiError::OriginTimeout)
            }
        }
    }

    /// Records "last used" off the response path: never delays or fails the request.
    fn note_use(&self, principal: &Principal, now: UnixMillis) {
        if !gateway::due_for_report(principal.token_id().as_str(), now.timestamp()) {
            return;
        }
        let ledger = ledger(&self.env);
        let user_id = principal.user_id().clone();
        let used = RecordUse {
            token_id: principal.token_id().clone(),
            from: super::place_of(&self.req),
        };
        self.ctx.wait_until(async move {
            if let Err(error) = ledger.call(&user_id, used).await {
                log::error(&format!("recording last use failed: {error}"));
            }
        });
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's global `fetch`.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(request: &web_sys::Request) -> js_sys::Promise;
}
