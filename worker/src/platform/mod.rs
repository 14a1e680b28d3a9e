//! Everything that touches workers-rs and the JavaScript runtime: the fetch entry point, the
//! conversion of requests and replies, KV, the `UserLedger` and `RevocationFeed` Durable
//! Objects, the cache, the origin fetch and the static assets. The logic above this layer is
//! plain Rust and runs natively in tests.

mod body;
mod durable_storage;
mod edge;
mod entry;
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
mod text;

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::JsValue;
use worker::{Delay, Env, Request, Response};

use crate::config::Config;
use crate::console::{Console, ConsoleRequest};
use crate::error::ApiError;
use crate::http::{Headers, Method, Reply, RequestUrl, CLIENT_ADDRESS_HEADER, CONSOLE_HEADERS};
use crate::ledger::client::LedgerClient;
use crate::limits;
use crate::log;
use crate::revocation::feed::FeedCopy;
use crate::router::ConsoleRoute;
use crate::runtime::{Sleep, SystemEntropy};
use body::WorkerBody;
use ledger_object::DurableObjectTransport;
use provider::PlatformSignIn;

pub use feed_object::RevocationFeed;
pub use ledger_object::UserLedger;

#[cfg(not(feature = "simulated-lag"))]
use kv::KvTokenStore as ValidationKv;
#[cfg(feature = "simulated-lag")]
use lag::LaggingKv as ValidationKv;

/// The KV records as validation and the ledgers reach them. In the test build
/// (`simulated-lag`), a request's `X-Patgate-Sim-Location` header picks the simulated location whose
/// stale view it gets; a release build has no such thing.
#[cfg(not(feature = "simulated-lag"))]
fn validation_kv<'e>(env: &'e Env, _req: Option<&web_sys::Request>) -> ValidationKv<'e> {
    ValidationKv::new(env)
}

#[cfg(feature = "simulated-lag")]
fn validation_kv<'e>(env: &'e Env, req: Option<&web_sys::Request>) -> ValidationKv<'e> {
    ValidationKv::new(
        env,
        &config(env),
        req.map(web_sys::Request::headers).as_ref(),
    )
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

/// An answer: built by the logic, or passed through from the origin or the assets as the
/// runtime's own `Response` (the origin's is returned untouched, its body streaming).
enum Answer {
    Reply(Reply),
    Passthrough(web_sys::Response),
}

fn ledger(env: &Env) -> LedgerClient<DurableObjectTransport> {
    LedgerClient::new(DurableObjectTransport::new(env.clone()))
}

async fn console_answer(
    route: Result<ConsoleRoute, ApiError>,
    method: Method,
    req: Request,
    url: RequestUrl,
    env: &Env,
) -> Reply {
    let config = config(env);
    let request = ConsoleRequest {
        method,
        own_origin: url.origin().to_owned(),
        host: url.host().to_owned(),
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

/// The key this request's client is counted under by the rate limits.
fn client_key(headers: &web_sys::Headers) -> String {
    let address = headers.get(CLIENT_ADDRESS_HEADER).ok().flatten();
    limits::client_key(address.as_deref())
}

/// Cloudflare's location for this request ("AMS, NL"), when the runtime provides it.
fn place_of(req: &web_sys::Request) -> Option<String> {
    let cf = js_sys::Reflect::get(req, &JsValue::from_str("cf")).ok()?;
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
