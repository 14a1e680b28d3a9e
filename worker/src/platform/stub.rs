//! One request to a Durable Object, named within its binding: how the Worker reaches a user's
//! ledger and the ledgers reach the revocation feed.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Env};

/// How long the Worker waits for a Durable Object's answer before it answers 503 itself: well
/// above a ledger command's own worst case (its KV retries with backoff, about 5 s). An object
/// that answers later may still have done the work: the ledger's own state (what the console
/// lists) is the truth. The test build waits less, so that its hanging-ledger fault
/// (platform/faults.rs) is quicker to test, but still longer than those retries.
pub const OBJECT_TIMEOUT: Duration = if cfg!(feature = "simulated-faults") {
    Duration::from_secs(6)
} else {
    Duration::from_secs(10)
};

/// Sends a GET (no body) or a POST (with one) to `url` on the object `name` of `binding`,
/// and returns the body of its 200 answer. Anything else, or no answer within
/// [`OBJECT_TIMEOUT`], is an error that says what failed.
pub async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    url: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let call = answer_of(env, binding, name, url, body);
    futures_util::pin_mut!(call);
    match select(call, Delay::from(OBJECT_TIMEOUT)).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _)) => Err(format!(
            "{binding} did not answer within {} s",
            OBJECT_TIMEOUT.as_secs()
        )),
    }
}

async fn answer_of(
    env: &Env,
    binding: &str,
    name: &str,
    url: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let failed = |what: &'static str| move |error: worker::Error| format!("{what}: {error}");
    // web-sys's init, not workers-rs's: that one converts its `cf` properties with
    // serde-wasm-bindgen, 5 KiB of gzipped wasm that nothing else needs.
    let init = web_sys::RequestInit::new();
    match body {
        Some(body) => {
            init.set_method("POST");
            init.set_body(&body.into());
        }
        None => init.set_method("GET"),
    }
    let request = web_sys::Request::new_with_str_and_init(url, &init)
        .map_err(|error| failed("request")(error.into()))?;
    let stub = env
        .durable_object(binding)
        .and_then(|namespace| namespace.id_from_name(name)?.get_stub())
        .map_err(failed("stub"))?;
    let mut response = stub
        .fetch_with_request(request.into())
        .await
        .map_err(failed("fetch"))?;
    if response.status_code() != 200 {
        return Err(format!(
            "{binding} answered HTTP {}",
            response.status_code()
        ));
    }
    response.text().await.map_err(failed("reply"))
}
