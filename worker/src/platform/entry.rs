//! The fetch entry: `worker/entry.mjs` hands every request here, as the runtime's own `Request`.
//!
//! The route is decided once, from the method and the URL as the runtime serialized it (split,
//! not parsed again). The hot path (`/auth/v1/verify` and forwarding, [`super::edge`]) stays on
//! the runtime's types, and an answer that needs no I/O (a missing, malformed or mistyped token,
//! a wrong method, an unknown `/auth/` path) is returned as a `Response`, with no promise at all.
//! Every other route (the console, sign-in, leak reports, assets) goes through workers-rs.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Once;

use js_sys::JsString;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;
use worker::{worker_sys, Context, Env, Request};

use super::edge::Edge;
use super::{config, console_answer, exposure, static_asset, text, Answer};
use crate::console;
use crate::error::ApiError;
use crate::http::{Method, Reply, RequestUrl};
use crate::limits::{self, Limit};
use crate::log;
use crate::router::{self, Route};

/// The runtime's `fetch` handler: a `Response`, or a promise of one. It never throws for
/// anything a request contains: every failure is an answer.
///
/// `url`, `method` and `authorization` are the request's own, read by `entry.mjs` in the same
/// breath: three strings handed over at once cost less than three calls back out for them. The
/// URL and the header come as the runtime's strings and are copied in by [`text::from_js`]; the
/// method is three to seven characters.
#[wasm_bindgen]
pub fn serve(
    req: web_sys::Request,
    env: Env,
    ctx: worker_sys::Context,
    url: JsString,
    method: String,
    authorization: Option<JsString>,
) -> JsValue {
    replace_the_instance_after_a_panic();
    let Some(url) = text::from_js(&url).and_then(RequestUrl::parse) else {
        // The runtime hands over absolute http(s) URLs only.
        log::error("a request URL the runtime should not give");
        return now(Err(ApiError::Internal));
    };
    #[cfg(feature = "simulated-faults")]
    if url.path() == "/__sim/panic" && method == "POST" {
        super::faults::simulated_panic();
    }
    #[cfg(feature = "simulated-lag")]
    if url.path().starts_with("/__sim/") {
        return later(async move {
            let req = Request::from(req);
            let reply = super::lag::control(&req, &env).await;
            Ok(Answer::Reply(
                reply.unwrap_or_else(|| Reply::error(&ApiError::NotFound)),
            ))
        });
    }
    let route = router::route(&Method::parse(&method), url.path());
    if config(&env).simulated_lag.is_err() && route != Ok(Route::Health) {
        // A test-build setting in a release build: serve nothing but the health report that
        // names it, rather than guess.
        return now(Err(ApiError::Misconfigured(
            "this build refuses a test-only setting",
        )));
    }
    // Only the hot path reads the token: the header is copied into Rust for it alone.
    let edge = |req, env, ctx, method, url| {
        let authorization = match authorization.as_ref().map(text::from_js) {
            None => None,
            Some(Some(header)) => Some(header),
            Some(None) => {
                log::error("the runtime gave an Authorization header that is not text");
                return Err(ApiError::Internal);
            }
        };
        Ok(Edge {
            req,
            env,
            ctx: Context::new(ctx),
            method,
            url,
            authorization,
        })
    };
    match route {
        Ok(Route::Verify) => {
            edge(req, env, ctx, method, url).map_or_else(|error| now(Err(error)), Edge::verify)
        }
        Ok(Route::Forward) => {
            edge(req, env, ctx, method, url).map_or_else(|error| now(Err(error)), Edge::forward)
        }
        Ok(Route::Health) => {
            let health = config(&env).health();
            let status = if health.problems.is_empty() { 200 } else { 500 };
            now(Reply::json(status, &health))
        }
        Ok(Route::ConsoleHome) => now(Ok(Reply::redirect(308, "/console/"))),
        Ok(Route::Console(route)) => later(async move {
            let method = Method::parse(&method);
            let req = Request::from(req);
            // Counted before the handler runs: that is what wakes a Durable Object.
            let limit = Limit::for_console(&route);
            let limiter = super::limiter::WorkersRateLimiter(&env);
            let client = super::client_key(&req.inner().headers());
            let reply = match limits::count(&limiter, limit, &client).await {
                Ok(()) => console_answer(route, method, req, url, &env).await,
                Err(refused) => console::reply(&route, Err(refused)),
            };
            // Console answers carry the console's headers, errors included.
            Ok(Answer::Reply(reply.with_console_headers()))
        }),
        Ok(Route::HolderRevocation) => later(async move {
            exposure::holder_revocation(Request::from(req), &env)
                .await
                .map(Answer::Reply)
        }),
        Ok(Route::LeakReport) => later(async move {
            exposure::leak_report(Request::from(req), &env)
                .await
                .map(Answer::Reply)
        }),
        Ok(Route::AdminRevokeAll(user_id)) => later(async move {
            exposure::admin_revoke_all(Request::from(req), &env, &user_id)
                .await
                .map(Answer::Reply)
        }),
        Ok(Route::ConsoleAsset) => later(async move {
            static_asset(Request::from(req), &env)
                .await
                .map(|response| Answer::Passthrough(response.into()))
        }),
        Err(error) => now(Err(error)),
    }
}

/// An answer that needed no I/O, as a `Response`.
pub fn now(reply: Result<Reply, ApiError>) -> JsValue {
    into_response(reply.map(Answer::Reply))
}

/// A promise of the answer, on the runtime's event loop.
pub fn later<F>(answer: F) -> JsValue
where
    F: Future<Output = Result<Answer, ApiError>> + 'static,
{
    future_to_promise(async move { Ok(into_response(answer.await)) }).into()
}

/// The one place an answer or an error becomes the runtime's `Response`.
fn into_response(answer: Result<Answer, ApiError>) -> JsValue {
    let reply = match answer {
        Ok(Answer::Passthrough(response)) => return response.into(),
        Ok(Answer::Reply(reply)) => reply,
        Err(error) if error.answer_is_fixed() => return fixed_answer(error),
        Err(error) => Reply::error(&error),
    };
    match reply_into_response(&reply) {
        Ok(response) => response.into(),
        // Only a runtime fault lands here (a header the reply itself set was refused); the
        // client still gets an answer.
        Err(error) => {
            log::error(&format!("building a response failed: {error:?}"));
            let fallback = web_sys::ResponseInit::new();
            fallback.set_status(500);
            web_sys::Response::new_with_opt_str_and_init(None, &fallback)
                .map_or_else(|error| error, JsValue::from)
        }
    }
}

/// A `Response` for an error whose answer is the same for every request, from its parts made
/// once per isolate: a mistyped token is the cheapest request to send, so its refusal should be
/// the cheapest to answer (no JSON serialized, no strings decoded, no header list parsed).
fn fixed_answer(error: ApiError) -> JsValue {
    thread_local! {
        /// Bounded: only errors whose `answer_is_fixed` holds are kept, and they have no data
        /// but a few enumerations and `&'static str`s.
        static MADE: RefCell<Vec<(ApiError, FixedParts)>> = const { RefCell::new(Vec::new()) };
    }
    let kept = MADE.with_borrow(|made| {
        made.iter()
            .find(|(made, _)| *made == error)
            .map(|(_, parts)| parts.clone())
    });
    let parts = kept.or_else(|| {
        // Not kept if the runtime failed to make it: then it is answered afresh below.
        let parts = FixedParts::of(&Reply::error(&error)).ok()?;
        MADE.with_borrow_mut(|made| made.push((error.clone(), parts.clone())));
        Some(parts)
    });
    match parts.map(|parts| respond_again(&parts.body, &parts.init)) {
        Some(Ok(response)) => response,
        // Only a runtime fault lands here; the answer is made afresh, as any other error's.
        failed => {
            if let Some(Err(fault)) = failed {
                log::error(&format!("answering from a kept response failed: {fault:?}"));
            }
            into_response(Ok(Answer::Reply(Reply::error(&error))))
        }
    }
}

/// What `new Response(body, init)` needs, kept as the runtime's own values.
#[derive(Clone)]
struct FixedParts {
    body: JsValue,
    init: JsValue,
}

impl FixedParts {
    fn of(reply: &Reply) -> Result<Self, JsValue> {
        let response = reply_into_response(reply)?;
        let init = web_sys::ResponseInit::new();
        init.set_status(reply.status);
        init.set_headers(&response.headers());
        let body = JsValue::from_str(
            std::str::from_utf8(&reply.body)
                .map_err(|_| JsValue::from_str("an error's body is JSON, so UTF-8"))?,
        );
        Ok(Self {
            body,
            init: init.into(),
        })
    }
}

#[wasm_bindgen(inline_js = r#"
export function respond_again(body, init) {
  return new Response(body, init);
}

export function respond(status, headers, body) {
  const pairs = headers === '' ? [] : headers.split('\n').map((line) => {
    const colon = line.indexOf(': ');
    return [line.slice(0, colon), line.slice(colon + 2)];
  });
  // The view into wasm memory is copied before anything else can run.
  return new Response(body.length === 0 ? null : body.slice(), { status, headers: pairs });
}
"#)]
extern "C" {
    /// A `Response` made in one crossing into JavaScript: `headers` is `Name: value` lines.
    /// Building it with web-sys would cross for every header name and value, and the hot path's
    /// refusals are nothing but this.
    #[wasm_bindgen(catch)]
    fn respond(status: u16, headers: &str, body: &[u8]) -> Result<web_sys::Response, JsValue>;

    /// `new Response(body, init)`, with a body and init made once: the runtime copies the init's
    /// `Headers` into each new response.
    #[wasm_bindgen(catch)]
    fn respond_again(body: &JsValue, init: &JsValue) -> Result<JsValue, JsValue>;
}

fn reply_into_response(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    let mut headers = String::new();
    for (name, value) in &reply.headers {
        // Names are ours; a value never holds a line break (the runtime would refuse it).
        if !headers.is_empty() {
            headers.push('\n');
        }
        headers.push_str(name);
        headers.push_str(": ");
        headers.push_str(value);
    }
    #[cfg(feature = "simulated-lag")]
    {
        if !headers.is_empty() {
            headers.push('\n');
        }
        headers.push_str("X-Patgate-Simulated-Lag: ");
        headers.push_str(super::lag::SIMULATED_LAG_MARKER);
    }
    respond(reply.status, &headers, &reply.body)
}

/// Called by `entry.mjs` before the first request after a panic, and does nothing itself: the
/// wasm-bindgen glue checks for a scheduled replacement at the start of every call to an export
/// and makes the fresh instance then. `serve` cannot be that first call, as its glue copies the
/// request's strings into the old instance's memory before it checks.
#[wasm_bindgen]
pub fn replace_instance() {}

/// A panic (a bug: nothing from the network may cause one) aborts the wasm instance. workers-rs
/// logs it (and raises `__worker_init_state.criticalError`, which `entry.mjs` watches); this
/// also schedules the instance's replacement, which the glue performs on the next call to
/// [`replace_instance`], so one bad request cannot take the isolate's later ones down with it.
fn replace_the_instance_after_a_panic() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let logging_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            logging_hook(info);
            wasm_bindgen::handler::schedule_reinit();
        }));
    });
}
