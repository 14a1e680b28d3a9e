//! Everything that touches workers-rs and the JavaScript runtime: the fetch entry point, the
//! conversion of requests and replies, KV, the `UserLedger` and `RevocationFeed` Durable
//! Objects, the cache, the origin fetch and the static assets. The logic above this layer is
//! plain Rust and runs natively in tests.

mod body;
mod durable_storage;
mod exposure;
#[cfg(feature = "simulated-faults")]
mod faults;
mod feed_object;
mod kv;
#[cfg(feature = "simulated-lag")]
mod lag;
mod ledger_object;
mod limiter;
mod provider;
mod stub;

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use patgate_core::origin::{RequestId, RANDOM_BYTES_FOR_REQUEST_ID};
use patgate_core::verify::Principal;
use wasm_bindgen::JsValue;
use worker::{Context, Delay, Env, Fetch, Request, Response};

use crate::auth::{self, authenticate};
use crate::config::{Config, Forwarding};
use crate::console::{self, Console, ConsoleRequest};
use crate::error::ApiError;
use crate::gateway::{self, ClientRequest, Forward};
use crate::http::{Headers, Method, Reply, CLIENT_ADDRESS_HEADER, CONSOLE_HEADERS};
use crate::ledger::client::LedgerClient;
use crate::ledger::protocol::RecordUse;
use crate::limits::{self, Limit};
use crate::log;
use crate::revocation::feed::FeedCopy;
use crate::revocation::{refresh_claimed, Gate, RevocationMode};
use crate::router::{self, ConsoleRoute, Route};
use crate::runtime::{Clock, Entropy, Sleep, SystemClock, SystemEntropy, UnixMillis};
use body::WorkerBody;
use feed_object::{CachedFeedSource, RequestFeedSource};
use ledger_object::DurableObjectTransport;
use limiter::WorkersRateLimiter;
use provider::PlatformSignIn;

pub use feed_object::RevocationFeed;
pub use ledger_object::UserLedger;

#[cfg(not(feature = "simulated-lag"))]
use kv::KvTokenStore as ValidationKv;
#[cfg(feature = "simulated-lag")]
use lag::LaggingKv as ValidationKv;

/// The KV records as validation and the ledgers reach them. In the test build
/// (`simulated-lag`), a request's `X-Patgate-Sim-Location` picks the simulated location whose
/// stale view it gets; a release build has no such thing.
#[cfg(not(feature = "simulated-lag"))]
fn validation_kv<'e>(env: &'e Env, _req: Option<&Request>) -> ValidationKv<'e> {
    ValidationKv::new(env)
}

#[cfg(feature = "simulated-lag")]
fn validation_kv<'e>(env: &'e Env, req: Option<&Request>) -> ValidationKv<'e> {
    ValidationKv::new(env, &config(env), req)
}

/// Waits with the runtime's timer (`setTimeout`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemSleep;

impl Sleep for SystemSleep {
    async fn sleep(&self, millis: u64) {
        Delay::from(Duration::from_millis(millis)).await;
    }
}

thread_local! {
    /// The configuration, parsed from the first request's environment: it is the same for
    /// every request an isolate serves.
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
    /// This isolate's copy of the revocation feed.
    static FEED: Rc<FeedCopy> = Rc::new(FeedCopy::default());
}

fn config(env: &Env) -> Rc<Config> {
    CONFIG.with(|cell| {
        Rc::clone(cell.get_or_init(|| {
            let config = Config::parse(|name| env.var(name).ok().map(|value| value.to_string()));
            for problem in config.problems() {
                log::error(&format!("configuration: {problem}"));
            }
            Rc::new(config)
        }))
    })
}

/// An answer: built by the logic, or passed through from the origin or the assets.
enum Answer {
    Reply(Reply),
    Passthrough(Response),
}

pub async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    #[cfg(feature = "simulated-lag")]
    if let Some(reply) = lag::control(&req, &env).await {
        return into_response(reply);
    }
    let method = Method::parse(&req.inner().method());
    let path = req.path();
    let route = router::route(&method, &path);
    if config(&env).simulated_lag.is_err() && route != Ok(Route::Health) {
        // A test-build setting in a release build: serve nothing but the health report that
        // names it, rather than guess.
        return into_response(Reply::error(&ApiError::Misconfigured(
            "this build refuses a test-only setting",
        )));
    }
    let answer = match route {
        Ok(Route::Verify) => verify(&req, &env, &ctx).await.map(Answer::Reply),
        Ok(Route::Health) => {
            let health = config(&env).health();
            let status = if health.problems.is_empty() { 200 } else { 500 };
            Reply::json(status, &health).map(Answer::Reply)
        }
        Ok(Route::Console(route)) => {
            // Counted before the handler runs: that is what wakes a Durable Object.
            let limit = Limit::for_console(&route);
            let admitted = limits::count(&WorkersRateLimiter(&env), limit, &client_key(&req)).await;
            let reply = match admitted {
                Ok(()) => console(route, method, req, &env).await,
                Err(refused) => console::reply(&route, Err(refused)),
            };
            // Console answers carry the console's headers, errors included.
            Ok(Answer::Reply(reply.with_console_headers()))
        }
        Ok(Route::HolderRevocation) => exposure::holder_revocation(req, &env)
            .await
            .map(Answer::Reply),
        Ok(Route::LeakReport) => exposure::leak_report(req, &env).await.map(Answer::Reply),
        Ok(Route::AdminRevokeAll(user_id)) => exposure::admin_revoke_all(req, &env, &user_id)
            .await
            .map(Answer::Reply),
        Ok(Route::ConsoleHome) => Ok(Answer::Reply(Reply::redirect(308, "/console/"))),
        Ok(Route::ConsoleAsset) => static_asset(req, &env).await.map(Answer::Passthrough),
        Ok(Route::Forward) => forward(&req, &env, &ctx).await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(Answer::Reply(reply)) => into_response(reply),
        Ok(Answer::Passthrough(response)) => Ok(response),
        Err(error) => into_response(Reply::error(&error)),
    }
}

fn into_response(reply: Reply) -> worker::Result<Response> {
    let headers = worker::Headers::new();
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    #[cfg(feature = "simulated-lag")]
    headers.set("X-Patgate-Simulated-Lag", lag::SIMULATED_LAG_MARKER)?;
    let builder = Response::builder()
        .with_status(reply.status)
        .with_headers(headers);
    Ok(if reply.body.is_empty() {
        builder.empty()
    } else {
        builder.fixed(reply.body)
    })
}

fn ledger(env: &Env) -> LedgerClient<DurableObjectTransport> {
    LedgerClient::new(DurableObjectTransport::new(env.clone()))
}

async fn console(
    route: Result<ConsoleRoute, ApiError>,
    method: Method,
    req: Request,
    env: &Env,
) -> Reply {
    let config = config(env);
    let url = match req.url() {
        Ok(url) => url,
        Err(error) => return console::reply(&route, Err(error.into())),
    };
    let request = ConsoleRequest {
        method,
        own_origin: url.origin().ascii_serialization(),
        host: url.host_str().unwrap_or_default().to_owned(),
        query: url.query().map(str::to_owned),
        headers: req.headers().entries().collect::<Headers>(),
        body: WorkerBody(req),
    };
    let console = Console {
        ledger: &ledger(env),
        entropy: &SystemEntropy,
        config: &config,
        sign_in: &PlatformSignIn::new(),
    };
    console.answer(route, request).await
}

async fn authenticated(
    req: &Request,
    env: &Env,
    ctx: &Context,
) -> Result<(Principal, UnixMillis), ApiError> {
    let now = SystemClock.now_millis();
    let mode = config(env)
        .revocation
        .clone()
        .map_err(|_| ApiError::Misconfigured("token validation is not configured"))?;
    let authorization = req.headers().get("Authorization")?;
    let authorization = authorization.as_deref();
    let feed = FEED.with(Rc::clone);
    let gate = Gate {
        mode,
        feed: &feed,
        source: &RequestFeedSource { env, req },
        authority: &ledger(env),
    };
    let store = validation_kv(env, Some(req));
    let outcome = authenticate(authorization, &store, &gate, now).await;
    if mode == RevocationMode::Fast && feed.claim_refresh(now) {
        match CachedFeedSource::for_request(env, req) {
            // Off the response path: this request has its answer already.
            Ok(source) => ctx.wait_until(async move { refresh_claimed(&feed, &source, now).await }),
            Err(error) => {
                log::error(&format!("revocation feed refresh: {error}"));
                feed.refresh_done(now, None);
            }
        }
    }
    let limiter = WorkersRateLimiter(env);
    let looked_up = auth::looks_up(authorization);
    let principal =
        limits::after_validation(outcome, looked_up, &limiter, &client_key(req)).await?;
    note_use(&principal, req, env, ctx, now);
    Ok((principal, now))
}

async fn verify(req: &Request, env: &Env, ctx: &Context) -> Result<Reply, ApiError> {
    let (principal, _) = authenticated(req, env, ctx).await?;
    gateway::verify_reply(&principal)
}

async fn forward(req: &Request, env: &Env, ctx: &Context) -> Result<Answer, ApiError> {
    let config = config(env);
    // Refused before any token is looked at; the setting was named in the log once, when the
    // configuration was parsed.
    let forwarding = config
        .forwarding
        .as_ref()
        .map_err(|_| ApiError::GatewayMisconfigured)?;
    let (principal, now) = authenticated(req, env, ctx).await?;
    // The method exactly as received: workers-rs's `Method` would turn unknown ones into GET.
    let method = req.inner().method();
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let target = match forwarding {
        Forwarding::Origin(target) => target,
        Forwarding::Echo => {
            return gateway::echo_reply(&method, &path_and_query, &principal).map(Answer::Reply)
        }
    };
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let headers: Headers = req.headers().entries().collect();
    let random = SystemEntropy
        .draw::<RANDOM_BYTES_FOR_REQUEST_ID>()
        .map_err(|error| {
            log::error(&error.to_string());
            ApiError::StoreUnavailable
        })?;
    let client = ClientRequest {
        method: &method,
        host: &host,
        path_and_query: &path_and_query,
        headers: &headers,
    };
    let plan = Forward::plan(
        client,
        &principal,
        target,
        now.timestamp(),
        &RequestId::from_random(&random),
    );
    send_to_origin(req, plan).await.map(Answer::Passthrough)
}

/// Sends the planned request with the client's body streamed through, not buffered, the method
/// exactly as received, and Cloudflare's cache bypassed: the origin's answer is for this user
/// only, and the cache key (the URL) would not say so once `Authorization` is gone.
async fn send_to_origin(req: &Request, plan: Forward) -> Result<Response, ApiError> {
    let js_error = |what: &'static str| {
        move |error: JsValue| {
            log::error(&format!("{what}: {error:?}"));
            ApiError::Internal
        }
    };
    let headers = web_sys::Headers::new().map_err(js_error("origin headers"))?;
    for (name, value) in &plan.headers {
        headers
            .append(name, value)
            .map_err(js_error("origin header"))?;
    }
    // Aborted only if the origin has not begun to answer in time: once it has, its body
    // streams through for as long as it takes.
    let abort = web_sys::AbortController::new().map_err(js_error("origin abort controller"))?;
    let init = web_sys::RequestInit::new();
    init.set_method(&plan.method);
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_cache(web_sys::RequestCache::NoStore);
    init.set_signal(Some(&abort.signal()));
    if let Some(body) = req.inner().body() {
        init.set_body(&body);
    }
    let upstream = web_sys::Request::new_with_str_and_init(&plan.url, &init)
        .map_err(js_error("origin request"))?;
    let fetch = Fetch::Request(upstream.into());
    let answer = fetch.send();
    let deadline = Delay::from(Duration::from_secs(u64::from(plan.timeout_seconds)));
    futures_util::pin_mut!(answer);
    match select(answer, deadline).await {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(error), _)) => {
            log::error(&format!("origin fetch failed: {error}"));
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

/// The key this request's client is counted under by the rate limits.
fn client_key(req: &Request) -> String {
    let address = req.headers().get(CLIENT_ADDRESS_HEADER).ok().flatten();
    limits::client_key(address.as_deref())
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
fn note_use(principal: &Principal, req: &Request, env: &Env, ctx: &Context, now: UnixMillis) {
    if !gateway::due_for_report(principal.token_id().as_str(), now.timestamp()) {
        return;
    }
    let ledger = ledger(env);
    let user_id = principal.user_id().clone();
    let used = RecordUse {
        token_id: principal.token_id().clone(),
        from: place_of(req),
    };
    ctx.wait_until(async move {
        if let Err(error) = ledger.call(&user_id, used).await {
            log::error(&format!("recording last use failed: {error}"));
        }
    });
}

/// The console's static files (web/), with its security headers.
async fn static_asset(req: Request, env: &Env) -> Result<Response, ApiError> {
    let response = env.assets("ASSETS")?.fetch_request(req).await?;
    // The assets' response headers are immutable: copy them into a new response.
    let headers = worker::Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    for (name, value) in CONSOLE_HEADERS {
        headers.set(name, value)?;
    }
    Ok(Response::builder()
        .with_status(response.status_code())
        .with_headers(headers)
        .body(response.body().clone()))
}
